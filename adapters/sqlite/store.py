"""SqliteRunStore: the RunStore on one SQLite file.

WAL journal, so readers never block the writer; writers take the write lock up front
(``BEGIN IMMEDIATE``), so a rule's read-check-write cannot interleave with another
writer, in this process or another one. Each thread has its own connection.
sqlite3 errors are translated here: unique-key violations to ``UniqueViolation``, a
statement too complex for SQLite (a filter nested too deeply) to ``InvalidInput``, a lock
held past the busy timeout, an I/O failure or an interrupted statement to
``StoreUnavailable``. ``interrupted``, when given, is asked every few thousand steps of a
running statement whether to stop it (the request it serves is out of time).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dockyard.adapters.sql.migrations import Upgrade, upgrade
from dockyard.adapters.sql.session import Execute, Result, SqlSession
from dockyard.adapters.sqlite.dialect import SQLITE
from dockyard.adapters.sqlite.schema import SqliteSchema
from dockyard.domain.server.errors import InvalidInput, StoreUnavailable, UniqueViolation
from dockyard.domain.server.filters import like

# SQLite virtual-machine steps between two calls of the interrupt check: a fraction of a
# millisecond, and more than a short statement ever takes (so those never pay for it).
_INTERRUPT_STEPS = 20_000
# Messages of statements a client's filter made too big for SQLite: the client's error.
_TOO_COMPLEX = (
    "parser stack overflow",
    "expression tree is too large",
    "too many sql variables",
    "too complex",
)


def _translated(exc: sqlite3.Error) -> Exception:
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and any(m in message.lower() for m in _TOO_COMPLEX):
        return InvalidInput(f"The filter is too complex for the database ({message}); simplify it.")
    if message == "interrupted":
        return StoreUnavailable("the statement was interrupted: its request ran out of time")
    return StoreUnavailable(f"the database is busy or unavailable: {message}")


def _dy_like(pattern: str | None, value: str | None, insensitive: int) -> int | None:
    if pattern is None or value is None:
        return None
    return int(like(pattern, str(value), bool(insensitive)))


def _executor(connection: sqlite3.Connection) -> Execute:
    def execute(sql: str, params: Sequence[Any]) -> Result:
        try:
            cursor = connection.execute(sql, params)
            return Result(cursor.fetchall(), cursor.rowcount)
        except sqlite3.OperationalError as exc:  # reads end outside unit_of_work's handler
            raise _translated(exc) from exc

    return execute


class SqliteRunStore:
    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 30.0,
        durable: bool = True,
        interrupted: Callable[[], bool] | None = None,
        migrate: bool = True,
    ) -> None:
        """``migrate``: upgrade an older database's schema in place (else refuse it)."""
        self.path = Path(path)
        self._interrupted = interrupted
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
            self.schema = self._upgrade(connection, migrate)
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise StoreUnavailable(f"cannot open the database {self.path}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def _upgrade(self, connection: sqlite3.Connection, migrate: bool) -> Upgrade:
        connection.execute("BEGIN IMMEDIATE")  # one migration at a time, and no writer meanwhile
        try:
            done = upgrade(SqliteSchema(connection), str(self.path), migrate=migrate)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return done

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
            if self._interrupted is not None:
                check = self._interrupted
                connection.set_progress_handler(lambda: 1 if check() else 0, _INTERRUPT_STEPS)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def unit_of_work(self, *, write: bool) -> Iterator[SqlSession]:
        try:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the database is busy or unavailable: {exc}") from exc
        try:
            yield SqlSession(SQLITE, _executor(connection))
            connection.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            _rollback(connection)
            if "UNIQUE" in str(exc):
                raise UniqueViolation() from exc
            raise StoreUnavailable(f"the database refused a write: {exc}") from exc
        except sqlite3.OperationalError as exc:
            _rollback(connection)
            raise _translated(exc) from exc
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
