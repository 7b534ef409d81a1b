"""Stores and a ready service for server tests: the in-memory fake and real SQLite."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.service import ServerService
from dockyard.ports.run_store import RunStore
from support.clock import START, FakeClock
from support.fake_run_store import FakeRunStore

__all__ = ["START", "FakeClock", "make_store", "service_on", "store"]


def make_store(kind: str, directory: Path) -> RunStore:
    return FakeRunStore() if kind == "fake" else SqliteRunStore(directory / "store.db", durable=False)


@pytest.fixture(params=["fake", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    """Each test using this runs once against the fake and once against SQLite."""
    made = make_store(request.param, tmp_path)
    try:
        yield made
    finally:
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
