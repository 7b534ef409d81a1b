"""Schema versions: databases of older releases are upgraded in place with their rows, the
same revisions run on PostgreSQL, and a database newer than the code is refused."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from dockyard.adapters.postgres import PostgresRunStore
from dockyard.adapters.postgres.schema import PostgresSchema
from dockyard.adapters.sql.migrations import (
    HEAD,
    REVISIONS,
    VERSION_TABLE,
    AddColumn,
    CreateIndex,
    CreateTable,
    SchemaBehind,
    SchemaTooNew,
    upgrade,
)
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.adapters.sqlite.schema import SqliteSchema
from dockyard.domain.server.catalog import TABLES, Kind
from dockyard.domain.server.filters import Select, eq
from dockyard.domain.server.queue import queue_query
from dockyard.entrypoints.cli import cli
from dockyard.ports.run_store import RunStore
from support.legacy_sqlite import FIRST_RELEASE, LAST_UNVERSIONED

T0 = "2026-01-01T00:00:00.000000+00:00"


def test_the_revisions_together_make_the_catalog() -> None:
    tables: dict[str, dict[str, Kind]] = {}
    unique: dict[str, set[tuple[str, ...]]] = {}
    indexes: set[str] = set()
    for revision in REVISIONS:
        for operation in revision.operations:
            if isinstance(operation, CreateTable):
                tables.setdefault(operation.table, {}).update(dict(operation.columns))
                unique.setdefault(operation.table, set()).update(operation.unique)
            elif isinstance(operation, AddColumn):
                tables[operation.table][operation.column] = operation.kind
            elif isinstance(operation, CreateIndex):
                assert all(c in tables[operation.table] for c in operation.columns), operation
                indexes.add(operation.name)
    assert tables == {name: dict(t.columns) for name, t in TABLES.items()}
    assert unique == {name: set(t.unique) for name, t in TABLES.items()}
    assert len(indexes) == sum(len(r.operations) for r in REVISIONS) - len(TABLES) - 2
    assert [r.version for r in REVISIONS] == list(range(1, HEAD + 1))


# -- SQLite ----------------------------------------------------------------------------


def _sqlite_at(path: Path, statements: list[str]) -> None:
    with sqlite3.connect(path, isolation_level=None) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.execute("PRAGMA user_version = 1")
    connection.close()


def _shape(path: Path) -> tuple[dict[str, set[tuple[str, str]]], set[str]]:
    """Each table's (column, type) pairs, and the index names, of a SQLite file."""
    with sqlite3.connect(path) as connection:
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        tables = {
            name: {(row[1], row[2]) for row in connection.execute(f"PRAGMA table_info({name})")}
            for name in names
            if name != VERSION_TABLE
        }
        indexes = {
            r[0]
            for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    connection.close()
    return tables, indexes


def _upgrade_sqlite(path: Path, to: int) -> None:
    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.execute("BEGIN IMMEDIATE")
        assert upgrade(SqliteSchema(connection), "fresh", to=to).after == to
        connection.execute("COMMIT")
    connection.close()


def test_revision_1_on_sqlite_is_the_first_release_and_2_the_last_unversioned(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    _upgrade_sqlite(fresh, to=1)
    _sqlite_at(tmp_path / "first.db", FIRST_RELEASE)
    assert _shape(fresh) == _shape(tmp_path / "first.db")

    _upgrade_sqlite(fresh, to=2)
    _sqlite_at(tmp_path / "last.db", LAST_UNVERSIONED)
    assert _shape(fresh) == _shape(tmp_path / "last.db")


def test_revision_3_indexes_run_names_for_unique_generated_names(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    _upgrade_sqlite(fresh, to=2)
    assert "ix_flow_run_name" not in _shape(fresh)[1]
    SqliteRunStore(fresh, durable=False).close()
    assert "ix_flow_run_name" in _shape(fresh)[1]


def _old_rows(execute: Any, mark: str) -> None:
    """Rows as a release before versions wrote them (0/1 booleans, JSON text)."""
    rows = [
        ("tenant", {"id": "t1", "name": "default", "slug": "default", "settings": "{}"}),
        ("project", {"id": "p1", "tenant_id": "t1", "name": "old"}),
        (
            "flow",
            {
                "id": "f1",
                "tenant_id": "t1",
                "project_id": "p1",
                "name": "etl",
                "version": 1,
                "archived": False,
                "is_schedule_active": False,
            },
        ),
        ("task", {"id": "k1", "tenant_id": "t1", "flow_id": "f1", "slug": "a-1", "max_retries": 2}),
        (
            "flow_run",
            {
                "id": "r1",
                "tenant_id": "t1",
                "flow_id": "f1",
                "name": "kept",
                "labels": '["docker"]',
                "parameters": '{"n":1}',
                "version": 3,
                "state": "Scheduled",
                "state_start_time": T0,
                "scheduled_start_time": T0,
            },
        ),
        (
            "task_run",
            {
                "id": "tr1",
                "tenant_id": "t1",
                "flow_run_id": "r1",
                "task_id": "k1",
                "map_index": -1,
                "version": 4,
                "state": "Retrying",
                "state_start_time": T0,
            },
        ),
        ("task_run_state", {"id": "s1", "task_run_id": "tr1", "version": 2, "state": "Running"}),
        ("task_run_state", {"id": "s2", "task_run_id": "tr1", "version": 3, "state": "Retrying"}),
        ("task_run_state", {"id": "s3", "task_run_id": "tr1", "version": 4, "state": "Running"}),
        ("log", {"id": "l1", "flow_run_id": "r1", "message": "from the old release", "timestamp": T0}),
    ]
    for table, row in rows:
        columns = ", ".join(row)
        marks = ", ".join([mark] * len(row))
        execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


def _check_upgraded(store: RunStore) -> None:
    with store.unit_of_work(write=False) as session:
        (run,) = session.select(Select("flow_run", where=eq("id", "r1")))
        (task_run,) = session.select(Select("task_run"))
        (flow,) = session.select(Select("flow"))
        logs = session.select(Select("log"))
        queued = session.select(queue_query("t1", T0, ["docker", "prod"]))
    assert run["name"] == "kept" and run["labels"] == ["docker"] and run["parameters"] == {"n": 1}
    assert run["version"] == 3 and run["state"] == "Scheduled"
    assert run["auto_scheduled"] is False  # filled for the runs made before the scheduler
    assert task_run["run_count"] == 2  # from its history: it started Running twice
    assert flow["archived"] is False and flow["name"] == "etl"
    assert [log["message"] for log in logs] == ["from the old release"]
    assert [r["id"] for r in queued] == ["r1"]
    with store.unit_of_work(write=True) as session:  # the new columns are usable
        session.update("flow_run", eq("id", "r1"), {"auto_scheduled": True})
        session.insert("flow_run", {"id": "r2", "flow_id": "f1", "auto_scheduled": False})
    with store.unit_of_work(write=False) as session:
        assert [r["id"] for r in session.select(Select("flow_run", where=eq("auto_scheduled", True)))] == [
            "r1"
        ]


@pytest.mark.parametrize(
    "release", [FIRST_RELEASE, LAST_UNVERSIONED], ids=["first-release", "last-unversioned"]
)
def test_a_sqlite_database_of_an_older_release_is_upgraded_in_place(
    tmp_path: Path, release: list[str]
) -> None:
    db = tmp_path / "old.db"
    _sqlite_at(db, release)
    with sqlite3.connect(db, isolation_level=None) as connection:
        _old_rows(connection.execute, "?")
    connection.close()

    store = SqliteRunStore(db, durable=False)
    try:
        assert (store.schema.before, store.schema.after) == (0, HEAD)
        _check_upgraded(store)
    finally:
        store.close()
    again = SqliteRunStore(db, durable=False)
    again.close()
    assert (again.schema.before, again.schema.applied) == (HEAD, ())
    with sqlite3.connect(db) as connection:
        recorded = [r[0] for r in connection.execute(f"SELECT version FROM {VERSION_TABLE} ORDER BY version")]
        (user_version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    assert recorded == list(range(1, HEAD + 1)) and user_version == HEAD


def test_with_migrate_off_an_older_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _sqlite_at(db, FIRST_RELEASE)
    before = _shape(db)
    with pytest.raises(
        SchemaBehind, match=rf"schema version 0; this dockyard needs version {HEAD}.*server migrate"
    ):
        SqliteRunStore(db, durable=False, migrate=False)
    assert _shape(db) == before
    SqliteRunStore(db, durable=False).close()  # upgraded
    SqliteRunStore(db, durable=False, migrate=False).close()  # current: opens


def _record_newer(execute: Any, mark: str) -> None:
    execute(
        f"INSERT INTO {VERSION_TABLE} (version, summary, applied) VALUES ({mark}, {mark}, {mark})",
        [HEAD + 1, "from the future", T0],
    )


def test_a_sqlite_database_of_a_newer_dockyard_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "newer.db"
    SqliteRunStore(db, durable=False).close()
    with sqlite3.connect(db, isolation_level=None) as connection:
        _record_newer(connection.execute, "?")
    connection.close()
    for migrate in (True, False):
        with pytest.raises(SchemaTooNew, match=rf"schema version {HEAD + 1}, newer than this dockyard knows"):
            SqliteRunStore(db, durable=False, migrate=migrate)


# -- PostgreSQL ------------------------------------------------------------------------


def _postgres_at(url: str, version: int) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("BEGIN")
        upgrade(PostgresSchema(connection), url, to=version)
        connection.execute("COMMIT")


@pytest.mark.postgres
def test_a_postgres_database_at_the_first_revision_is_upgraded_in_place(fresh_postgres: str) -> None:
    _postgres_at(fresh_postgres, 1)
    with psycopg.connect(fresh_postgres, autocommit=True) as connection:
        _old_rows(connection.execute, "%s")
    store = PostgresRunStore(fresh_postgres, pool_size=2)
    try:
        assert (store.schema.before, store.schema.after) == (1, HEAD)
        _check_upgraded(store)
    finally:
        store.close()
    again = PostgresRunStore(fresh_postgres, pool_size=2, migrate=False)
    again.close()
    assert again.schema.applied == ()


@pytest.mark.postgres
def test_postgres_refuses_a_newer_schema_and_with_migrate_off_an_older_one(fresh_postgres: str) -> None:
    _postgres_at(fresh_postgres, 1)
    with pytest.raises(SchemaBehind, match=f"schema version 1; this dockyard needs version {HEAD}"):
        PostgresRunStore(fresh_postgres, migrate=False)
    with psycopg.connect(fresh_postgres, autocommit=True) as connection:
        assert connection.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone() == (1,)
        _record_newer(connection.execute, "%s")
    with pytest.raises(SchemaTooNew, match=rf"has schema version {HEAD + 1}, newer"):
        PostgresRunStore(fresh_postgres)


@pytest.mark.postgres
def test_servers_opening_a_new_postgres_database_together_migrate_it_once(fresh_postgres: str) -> None:
    opened: list[PostgresRunStore] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        try:
            start.wait(30)
            opened.append(PostgresRunStore(fresh_postgres, pool_size=2))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        assert sorted(len(store.schema.applied) for store in opened) == [0, 0, 0, HEAD]
        with psycopg.connect(fresh_postgres) as connection:
            recorded = connection.execute(f"SELECT version FROM {VERSION_TABLE} ORDER BY version").fetchall()
        assert [r[0] for r in recorded] == list(range(1, HEAD + 1))
    finally:
        for store in opened:
            store.close()


# -- the command line ------------------------------------------------------------------


def test_dockyard_server_migrate_checks_and_upgrades_an_older_database(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _sqlite_at(db, LAST_UNVERSIONED)
    runner = CliRunner()
    checked = runner.invoke(cli, ["server", "migrate", "--db", str(db), "--check"])
    assert checked.exit_code == 1
    assert f"schema version 0; this dockyard needs version {HEAD}" in checked.output
    assert "dockyard server migrate" in checked.output

    upgraded = runner.invoke(cli, ["server", "migrate", "--db", str(db)])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"{db}: schema version 0 -> {HEAD}" in upgraded.output

    again = runner.invoke(cli, ["server", "migrate", "--db", str(db), "--check"])
    assert again.exit_code == 0 and f"schema version {HEAD}, up to date" in again.output


def test_dockyard_server_start_with_no_migrate_refuses_an_older_database(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _sqlite_at(db, FIRST_RELEASE)
    refused = CliRunner().invoke(
        cli, ["server", "start", "--db", str(db), "--no-migrate", "--no-docker-bridge", "--port", "0"]
    )
    assert refused.exit_code == 1
    assert f"has schema version 0; this dockyard needs version {HEAD}" in refused.output
    assert _shape(db) == _shape_of(FIRST_RELEASE, tmp_path / "copy.db")  # untouched


def _shape_of(statements: list[str], path: Path) -> tuple[dict[str, set[tuple[str, str]]], set[str]]:
    _sqlite_at(path, statements)
    return _shape(path)
