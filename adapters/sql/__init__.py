"""What the SQL stores share: the query compiler, the session over a DB-API connection,
and the versioned schema with its migrations."""
