"""SqliteRunStore: the RunStore on one SQLite file.

WAL journal, so readers never block the writer; writers take the write lock up front
(``BEGIN IMMEDIATE``), so a rule's read-check-write cannot interleave with another
writer, in this process or another one. Each thread has its own connection.
sqlite3 errors are translated here: unique-key violations to ``UniqueViolation``, a lock
held past the busy timeout or an I/O failure to ``StoreUnavailable``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dockyard.adapters.sqlite.compiler import Compiler, encode
from dockyard.adapters.sqlite.schema import migrate
from dockyard.domain.server.catalog import Kind, table
from dockyard.domain.server.errors import StoreUnavailable, UniqueViolation
from dockyard.domain.server.filters import Filter, Row, Select, like


def _decode(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is Kind.JSON:
        return json.loads(value)
    if kind is Kind.BOOL:
        return bool(value)
    return value


def _dy_like(pattern: str | None, value: str | None, insensitive: int) -> int | None:
    if pattern is None or value is None:
        return None
    return int(like(pattern, str(value), bool(insensitive)))


class _Session:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def select(self, query: Select) -> list[Row]:
        source = table(query.table)
        columns = list(query.columns or source.columns)
        unknown = set(columns) - set(source.columns)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)} for {query.table}")
        compiler = Compiler()
        sql = compiler.select(query, columns)
        kinds = [source.columns[c] for c in columns]
        rows = self._db.execute(sql, compiler.params).fetchall()
        return [{c: _decode(k, v) for c, k, v in zip(columns, kinds, row, strict=True)} for row in rows]

    def insert(self, table_name: str, row: Mapping[str, Any]) -> None:
        source = table(table_name)
        unknown = set(row) - set(source.columns)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)} for {table_name}")
        names = list(row)
        values = [encode(source.columns[n], row[n]) for n in names]
        sql = f"INSERT INTO {source.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        self._db.execute(sql, values)

    def update(self, table_name: str, where: Filter, changes: Mapping[str, Any]) -> int:
        source = table(table_name)
        unknown = set(changes) - set(source.columns)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)} for {table_name}")
        compiler = Compiler()
        condition = compiler.where(source, source.name, where)
        if not changes:
            return int(
                self._db.execute(
                    f"SELECT count(*) FROM {source.name} WHERE {condition}", compiler.params
                ).fetchone()[0]
            )
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = [encode(source.columns[n], v) for n, v in changes.items()]
        cursor = self._db.execute(
            f"UPDATE {source.name} SET {assignments} WHERE {condition}", [*values, *compiler.params]
        )
        return cursor.rowcount

    def delete(self, table_name: str, where: Filter) -> int:
        source = table(table_name)
        compiler = Compiler()
        condition = compiler.where(source, source.name, where)
        return self._db.execute(f"DELETE FROM {source.name} WHERE {condition}", compiler.params).rowcount


class SqliteRunStore:
    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0, durable: bool = True) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        # FULL syncs the WAL at every commit: a committed state survives power loss too.
        self._synchronous = "FULL" if durable else "NORMAL"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = self._connection()
            connection.execute("PRAGMA journal_mode = WAL")
            migrate(connection)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot open the database {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._closed:
                raise StoreUnavailable("the store is closed")
            connection = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            connection.execute(f"PRAGMA synchronous = {self._synchronous}")
            connection.create_function("dy_like", 3, _dy_like, deterministic=True)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def unit_of_work(self, *, write: bool) -> Iterator[_Session]:
        try:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the database is busy or unavailable: {exc}") from exc
        try:
            yield _Session(connection)
            connection.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            _rollback(connection)
            if "UNIQUE" in str(exc):
                raise UniqueViolation() from exc
            raise StoreUnavailable(f"the database refused a write: {exc}") from exc
        except sqlite3.OperationalError as exc:
            _rollback(connection)
            raise StoreUnavailable(f"the database is busy or unavailable: {exc}") from exc
        except BaseException:
            _rollback(connection)
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            # A thread may be mid-statement; its transaction rolls back, nothing is lost.
            with contextlib.suppress(sqlite3.Error):
                connection.close()


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        connection.execute("ROLLBACK")
