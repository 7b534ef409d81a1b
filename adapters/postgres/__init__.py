"""The RunStore on PostgreSQL: several server processes on one database."""

from dockyard.adapters.postgres.store import PostgresRunStore

__all__ = ["PostgresRunStore"]
