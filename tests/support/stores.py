"""Stores and a ready service for server tests: the in-memory fake, real SQLite and a real
PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.adapters.postgres import PostgresRunStore
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.service import ServerService
from dockyard.ports.run_store import RunStore
from support.clock import START, FakeClock
from support.fake_run_store import FakeRunStore
from support.postgres import empty_tables

__all__ = ["START", "FakeClock", "make_store", "service_on", "shared_database", "store"]


STORES = ["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def make_store(kind: str, directory: Path, postgres_url: str | None = None) -> RunStore:
    """A new, empty store: in memory, a SQLite file in ``directory``, or the PostgreSQL
    database at ``postgres_url`` emptied."""
    if kind == "fake":
        return FakeRunStore()
    if kind == "sqlite":
        return SqliteRunStore(directory / "store.db", durable=False)
    assert postgres_url is not None, "a PostgreSQL store needs the postgres_db fixture's URL"
    empty_tables(postgres_url)
    return PostgresRunStore(postgres_url, pool_size=4)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    """Each test using this runs against the fake, SQLite and PostgreSQL."""
    url = request.getfixturevalue("postgres_db") if request.param == "postgres" else None
    made = make_store(request.param, tmp_path, url)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], RunStore]]:
    """Opens stores on one database, as separate server processes would (each its own
    connections); every store opened is closed after the test."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_db")
        empty_tables(url)
    opened: list[RunStore] = []

    def open_store() -> RunStore:
        made: RunStore = (
            PostgresRunStore(url, pool_size=8)
            if request.param == "postgres"
            else SqliteRunStore(tmp_path / "shared.db", durable=False)
        )
        opened.append(made)
        return made

    try:
        yield open_store
    finally:
        for made in opened:
            made.close()


def service_on(store: RunStore, clock: FakeClock | None = None, *, scheduling: bool = True) -> ServerService:
    counter = itertools.count(1)
    deps = Dependencies(
        store=store,
        clock=clock or FakeClock(),
        new_id=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
        run_name=lambda: "test-run",
    )
    return ServerService(deps, scheduling=scheduling)
