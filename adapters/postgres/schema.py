"""The versioned schema (``dockyard.adapters.sql.migrations``) on PostgreSQL.

Integers are BIGINT, booleans BOOLEAN, everything else (ids, text, instants as canonical
UTC text, JSON as canonical text) TEXT in the "C" collation, so values compare and sort as
on SQLite. Each table also gets ``dy_seq``, an identity column that orders ties in
insertion order (SQLite's ``rowid``); it is no column of the catalog. PostgreSQL's DDL is
transactional, so a revision is applied whole or not at all.
"""

from __future__ import annotations

from typing import Any

import psycopg

from dockyard.adapters.sql.migrations import (
    VERSION_TABLE,
    AddColumn,
    CreateIndex,
    CreateTable,
    Operation,
    Revision,
)
from dockyard.domain.server.catalog import Kind

_SQL_TYPES = {Kind.INT: "BIGINT", Kind.BOOL: "BOOLEAN"}


def _column(name: str, kind: Kind) -> str:
    if name == "id":
        return 'id TEXT COLLATE "C" PRIMARY KEY NOT NULL'
    sql_type = _SQL_TYPES.get(kind)
    return f"{name} {sql_type}" if sql_type else f'{name} TEXT COLLATE "C"'


class PostgresSchema:
    """A ``SchemaTarget`` on a connection inside a transaction holding the writers' lock."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._db = connection

    def version(self) -> int:
        (exists,) = self._one("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,))
        if not exists:
            return 0
        (found,) = self._one(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}", ())
        return int(found)

    def apply(self, operation: Operation) -> None:
        if isinstance(operation, CreateTable):
            parts = ["dy_seq BIGINT GENERATED ALWAYS AS IDENTITY"]
            parts += [_column(name, kind) for name, kind in operation.columns]
            parts += [f"UNIQUE ({', '.join(key)})" for key in operation.unique]
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {operation.table} ({', '.join(parts)})")
            present = self._columns(operation.table)
            for name, kind in operation.columns:  # a table an older dockyard made
                if name not in present:
                    self._db.execute(f"ALTER TABLE {operation.table} ADD COLUMN {_column(name, kind)}")
        elif isinstance(operation, AddColumn):
            column = _column(operation.column, operation.kind)
            self._db.execute(f"ALTER TABLE {operation.table} ADD COLUMN IF NOT EXISTS {column}")
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
            "(version INTEGER PRIMARY KEY, summary TEXT NOT NULL, applied TIMESTAMPTZ NOT NULL)"
        )
        self._db.execute(
            f"INSERT INTO {VERSION_TABLE} (version, summary, applied) VALUES (%s, %s, now())",
            (revision.version, revision.summary),
        )

    def _columns(self, table: str) -> set[str]:
        found = self._db.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
        return {str(row[0]) for row in found.fetchall()}

    def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
        row = self._db.execute(sql, params).fetchone()
        assert row is not None
        return tuple(row)
