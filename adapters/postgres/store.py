"""PostgresRunStore: the RunStore on PostgreSQL, shared by any number of server processes.

**Writers are serialised by one transaction-level advisory lock.** Every writing unit of
work begins ``READ COMMITTED`` and takes ``pg_advisory_xact_lock(WRITERS)`` before its
first read; the lock is released by the commit or rollback. That is exactly SQLite's
``BEGIN IMMEDIATE``: one writer at a time across every process on the database, and since
each statement of a ``READ COMMITTED`` transaction sees everything committed before it
began, a writer reads what every earlier writer committed and nothing can change it until
it commits. So every rule's read-check-write (the Submitted lock, the scheduler's
idempotency keys, the zombie killer's and Lazarus's passes) holds across servers without
a change to the rules. ``SERIALIZABLE`` would need every unit of work to be re-run on a
serialisation failure, which the rules' code (a context manager around side effects such
as queue signals) cannot do; and writes are short, so one lock costs little.
(``REPEATABLE READ`` would be wrong for writers: its snapshot is taken by the lock's own
statement, before the wait, and would miss what the previous writer committed.)

Readers take a ``REPEATABLE READ READ ONLY`` snapshot and never wait for the lock.

Connections come from a psycopg pool (checked before use, so a restarted database costs
no request an error). A statement of a request past its deadline is cancelled (see
``StatementWatchdog``). Errors are translated: unique-key violations to
``UniqueViolation``; values PostgreSQL cannot keep (NUL characters, integers beyond 64
bits) and filters too big for it to ``InvalidInput``; a lost connection, a cancelled
statement, the writers' lock held past ``lock_timeout`` to ``StoreUnavailable``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from dockyard.adapters.postgres.dialect import CASE_FOLDING_COLLATION, PostgresDialect
from dockyard.adapters.postgres.schema import PostgresSchema
from dockyard.adapters.postgres.watchdog import StatementWatchdog
from dockyard.adapters.sql.location import redacted
from dockyard.adapters.sql.migrations import Upgrade, upgrade
from dockyard.adapters.sql.session import Execute, Result, SqlSession
from dockyard.domain.server.errors import InvalidInput, StoreUnavailable, UniqueViolation

log = logging.getLogger("dockyard.server.postgres")

# The advisory lock every writer (and every schema upgrade) holds: "dockyard" in ASCII.
WRITERS_LOCK = 0x646F636B79617264
APPLICATION_NAME = "dockyard-server"

# What a statement being watched asks for: the check of the request it serves, if any.
StatementWatch = Callable[[], Callable[[], bool] | None]


def _translated(exc: psycopg.Error) -> Exception:
    message = str(exc).strip()
    if isinstance(exc, errors.QueryCanceled):
        return StoreUnavailable("the statement was interrupted: its request ran out of time")
    if isinstance(exc, errors.LockNotAvailable):
        return StoreUnavailable(f"the database is busy: another writer held it too long ({message})")
    if isinstance(exc, errors.ProgramLimitExceeded | errors.StatementTooComplex):
        return InvalidInput(f"The filter is too complex for the database ({message}); simplify it.")
    if isinstance(exc, psycopg.DataError):
        return InvalidInput(f"The database cannot keep or compare a value given: {message}")
    return StoreUnavailable(f"the database is unavailable: {message}")


def _translatable(exc: psycopg.Error) -> bool:
    """Errors of the database or the connection, not of our SQL (which are bugs)."""
    return isinstance(exc, psycopg.OperationalError | psycopg.DataError | psycopg.InterfaceError)


class PostgresRunStore:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        lock_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        statement_watch: StatementWatch | None = None,
        migrate: bool = True,
    ) -> None:
        """``url``: a libpq URL (``postgresql://user:password@host:port/db?...``).
        ``lock_timeout``: how long a writer waits for the writers' lock (and a unit of work
        for a pooled connection). ``statement_watch``: asked before each statement for its
        request's ``expired`` check. ``migrate``: upgrade an older schema (else refuse)."""
        self.url = url
        self.where = redacted(url)
        self._statement_watch = statement_watch
        self._watchdog = StatementWatchdog()
        self._connect = {
            "autocommit": True,
            "application_name": APPLICATION_NAME,
            "connect_timeout": max(1, round(connect_timeout)),
        }
        self._begin_write = (
            "BEGIN ISOLATION LEVEL READ COMMITTED; "
            f"SET LOCAL lock_timeout = {max(1, round(lock_timeout * 1000))}; "
            f"SELECT pg_advisory_xact_lock({WRITERS_LOCK})"
        )
        try:
            with psycopg.connect(url, **self._connect) as connection:  # type: ignore[arg-type]
                self.dialect = PostgresDialect(_case_folding(connection))
                _check_encoding(connection, self.where)
                self.schema = self._upgrade(connection, migrate)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot open the database {self.where}: {str(exc).strip()}") from exc
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=min(4, max(1, pool_size)),  # opened at start: the first requests connect none
            max_size=max(1, pool_size),
            kwargs=self._connect,
            check=ConnectionPool.check_connection,
            timeout=lock_timeout,
            name="dockyard",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot connect to the database {self.where}: {exc}") from exc

    def _upgrade(self, connection: psycopg.Connection[Any], migrate: bool) -> Upgrade:
        connection.execute(self._begin_write)  # one migration at a time, and no writer meanwhile
        try:
            done = upgrade(PostgresSchema(connection), self.where, migrate=migrate)
            connection.execute("COMMIT")
        except BaseException:
            _rollback(connection)
            raise
        return done

    @contextmanager
    def unit_of_work(self, *, write: bool) -> Iterator[SqlSession]:
        connection = self._checkout()
        try:
            try:
                connection.execute(
                    self._begin_write if write else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                )
            except psycopg.Error as exc:
                raise _translated(exc) from exc
            try:
                yield SqlSession(self.dialect, self._executor(connection))
                connection.execute("COMMIT")
            except errors.UniqueViolation as exc:
                _rollback(connection)
                raise UniqueViolation() from exc
            except psycopg.IntegrityError as exc:
                _rollback(connection)
                raise StoreUnavailable(f"the database refused a write: {str(exc).strip()}") from exc
            except psycopg.Error as exc:
                _rollback(connection)
                if not _translatable(exc):
                    raise
                raise _translated(exc) from exc
            except BaseException:
                _rollback(connection)
                raise
        finally:
            self._pool.putconn(connection)

    def _checkout(self) -> psycopg.Connection[Any]:
        try:
            return self._pool.getconn()
        except PoolClosed as exc:
            raise StoreUnavailable("the store is closed") from exc
        except PoolTimeout as exc:
            raise StoreUnavailable(f"no connection to the database {self.where}: {exc}") from exc

    def _executor(self, connection: psycopg.Connection[Any]) -> Execute:
        watch, watchdog, limit = self._statement_watch, self._watchdog, self.dialect.max_parameters

        def execute(sql: str, params: Sequence[Any]) -> Result:
            if len(params) > limit:
                raise InvalidInput(
                    f"The filter is too complex for the database ({len(params)} values; at most {limit})."
                )
            expired = watch() if watch is not None else None
            try:
                with watchdog.watching(connection, expired) if expired else contextlib.nullcontext():
                    cursor = connection.execute(sql, params)
                    rows = cursor.fetchall() if cursor.description is not None else []
                    return Result(rows, cursor.rowcount)
            except psycopg.IntegrityError:
                raise  # the unit of work says which key
            except psycopg.Error as exc:
                if not _translatable(exc):
                    raise
                raise _translated(exc) from exc

        return execute

    def close(self) -> None:
        self._watchdog.close()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            # A thread may be mid-statement: its connection closes, its transaction rolls back.
            pool.close(timeout=1.0)


def _rollback(connection: psycopg.Connection[Any]) -> None:
    if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            connection.execute("ROLLBACK")


def _case_folding(connection: psycopg.Connection[Any]) -> str | None:
    found = connection.execute("SELECT 1 FROM pg_collation WHERE collname = %s", (CASE_FOLDING_COLLATION,))
    if found.fetchone() is None:
        log.warning("PostgreSQL has no ICU collation here: _ilike folds the case of ASCII letters only")
        return None
    return CASE_FOLDING_COLLATION


def _check_encoding(connection: psycopg.Connection[Any], where: str) -> None:
    row = connection.execute("SHOW server_encoding").fetchone()
    if row is None or str(row[0]).upper() not in ("UTF8", "UTF-8"):
        raise StoreUnavailable(
            f"the database {where} uses the encoding {row[0] if row else '?'}; dockyard needs UTF8 "
            "(CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)"
        )
