"""The versioned schema (``dockyard.adapters.sql.migrations``) on SQLite.

Kinds become SQLite types (integers and booleans INTEGER, everything else TEXT); each table
gets a TEXT primary key ``id`` and its unique keys; ties are ordered by the implicit
``rowid``. The version is also kept in ``PRAGMA user_version`` for tools that read it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from dockyard.adapters.sql.migrations import (
    VERSION_TABLE,
    AddColumn,
    CreateIndex,
    CreateTable,
    Operation,
    Revision,
)
from dockyard.domain.server.catalog import Kind

_SQL_TYPES = {Kind.INT: "INTEGER", Kind.BOOL: "INTEGER"}


def _column(name: str, kind: Kind) -> str:
    if name == "id":
        return "id TEXT PRIMARY KEY NOT NULL"
    return f"{name} {_SQL_TYPES.get(kind, 'TEXT')}"


class SqliteSchema:
    """A ``SchemaTarget`` on a connection that holds the write lock (``BEGIN IMMEDIATE``)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def version(self) -> int:
        if not self._exists(VERSION_TABLE):
            return 0
        (found,) = self._db.execute(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}").fetchone()
        return int(found)

    def apply(self, operation: Operation) -> None:
        if isinstance(operation, CreateTable):
            parts = [_column(name, kind) for name, kind in operation.columns]
            parts += [f"UNIQUE ({', '.join(key)})" for key in operation.unique]
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {operation.table} ({', '.join(parts)})")
            present = self._columns(operation.table)
            for name, kind in operation.columns:  # a table an older dockyard made
                if name not in present:
                    self._db.execute(f"ALTER TABLE {operation.table} ADD COLUMN {_column(name, kind)}")
        elif isinstance(operation, AddColumn):
            if operation.column not in self._columns(operation.table):
                column = _column(operation.column, operation.kind)
                self._db.execute(f"ALTER TABLE {operation.table} ADD COLUMN {column}")
            if operation.fill is not None:
                self._db.execute(
                    f"UPDATE {operation.table} SET {operation.column} = {operation.fill} "
                    f"WHERE {operation.column} IS NULL"
                )
        elif isinstance(operation, CreateIndex):
            columns = ", ".join(operation.columns)
            self._db.execute(
                f"CREATE INDEX IF NOT EXISTS ix_{operation.name} ON {operation.table} ({columns})"
            )

    def record(self, revision: Revision) -> None:
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} "
            "(version INTEGER PRIMARY KEY, summary TEXT NOT NULL, applied TEXT NOT NULL)"
        )
        self._db.execute(
            f"INSERT INTO {VERSION_TABLE} (version, summary, applied) VALUES (?, ?, ?)",
            (revision.version, revision.summary, datetime.now(UTC).isoformat()),
        )
        self._db.execute(f"PRAGMA user_version = {int(revision.version)}")

    def _exists(self, table: str) -> bool:
        found = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return found.fetchone() is not None

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
