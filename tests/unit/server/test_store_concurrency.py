"""Writers serialised, readers on a snapshot, across stores on one database: what lets
several server processes share SQLite's file or PostgreSQL's database without breaking a
rule. Each test opens two stores on the same database (as two processes would) and races
threads on both."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from dockyard.domain.server.context import Caller, new_uuid
from dockyard.domain.server.errors import AlreadySubmitted
from dockyard.domain.server.filters import Select, eq
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.ports.run_store import RunStore
from support.stores import FakeClock, service_on, shared_database

__all__ = ["shared_database"]


def _server(store: RunStore) -> ServerService:
    """A service as a server process has it: its own random ids (the tests' counter ids
    would collide between two services)."""
    service = service_on(store, FakeClock())
    service.deps.new_id = new_uuid
    return service


def _race(workers: list[Callable[[], None]], timeout: float = 120) -> None:
    """Run every worker on its own thread, released together; re-raise the first failure."""
    start, failures = threading.Barrier(len(workers)), []

    def run(worker: Callable[[], None]) -> None:
        try:
            start.wait(30)
            worker()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a worker is stuck"
    if failures:
        raise failures[0]


def test_read_check_write_never_loses_an_update(shared_database: Callable[[], RunStore]) -> None:
    # Each increment reads the counter, pauses, and writes it plus one: without serialised
    # writers two of them read the same value and one increment is lost.
    stores = [shared_database(), shared_database()]
    with stores[0].unit_of_work(write=True) as session:
        session.insert("flow_run", {"id": "counter", "version": 0})

    def increments(store: RunStore) -> None:
        for _ in range(10):
            with store.unit_of_work(write=True) as session:
                (row,) = session.select(Select("flow_run", where=eq("id", "counter")))
                time.sleep(0.002)
                session.update("flow_run", eq("id", "counter"), {"version": row["version"] + 1})

    _race([lambda store=store: increments(store) for store in stores for _ in range(3)])
    with stores[1].unit_of_work(write=False) as session:
        (row,) = session.select(Select("flow_run", where=eq("id", "counter")))
    assert row["version"] == 60


def test_a_reader_keeps_its_snapshot_and_never_waits_for_a_writer(
    shared_database: Callable[[], RunStore],
) -> None:
    writer_store, reader_store = shared_database(), shared_database()
    with writer_store.unit_of_work(write=True) as session:
        session.insert("log", {"id": "l0", "message": "before"})
    in_write, may_commit = threading.Event(), threading.Event()

    def write() -> None:
        with writer_store.unit_of_work(write=True) as session:
            session.insert("log", {"id": "l1", "message": "during"})
            in_write.set()
            may_commit.wait(30)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert in_write.wait(30)
        began = time.monotonic()
        with reader_store.unit_of_work(write=False) as session:
            first = session.select(Select("log"))
            waited = time.monotonic() - began
            may_commit.set()
            writer.join(30)
            again = session.select(Select("log"))  # the writer has committed meanwhile
        with reader_store.unit_of_work(write=False) as session:
            after = session.select(Select("log"))
    finally:
        may_commit.set()
        writer.join(30)
    assert waited < 5, f"the reader waited {waited:.1f}s for the writer"
    assert [r["id"] for r in first] == [r["id"] for r in again] == ["l0"]
    assert [r["id"] for r in after] == ["l0", "l1"]


def test_a_writer_waits_for_the_writer_before_it_and_reads_what_it_committed(
    shared_database: Callable[[], RunStore],
) -> None:
    first_store, second_store = shared_database(), shared_database()
    holding, seen = threading.Event(), []

    def first() -> None:
        with first_store.unit_of_work(write=True) as session:
            holding.set()
            time.sleep(0.5)
            session.insert("log", {"id": "from-first"})

    def second() -> None:
        assert holding.wait(30)
        with second_store.unit_of_work(write=True) as session:
            seen.extend(r["id"] for r in session.select(Select("log")))

    _race([first, second])
    assert seen == ["from-first"]


def test_the_submitted_lock_lets_one_agent_through_across_servers(
    shared_database: Callable[[], RunStore],
) -> None:
    services = [_server(shared_database()) for _ in range(2)]
    tenant = services[0].tenancy.ensure_default_tenant()
    project = services[0].tenancy.create_project(tenant, "p", None)
    flow = services[0].flows.create_flow(project, {"name": "f", "__version__": "1.4.1", "tasks": []})
    runs = [
        services[0].flow_runs.create_flow_run(NewFlowRun(flow_id=flow, idempotency_key=f"k{i}"))
        for i in range(15)
    ]
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def agent(service: Any, name: str) -> None:
        for run in runs:
            try:
                service.flow_runs.set_flow_run_states([(run, {"type": "Submitted"})], Caller())
                result = "submitted"
            except AlreadySubmitted:
                result = "refused"
            with lock:
                outcomes.append((run, result))

    # four agents, two on each server, all trying every run
    _race([lambda s=s, i=i: agent(s, f"agent-{i}") for i, s in enumerate(services * 2)])
    for run in runs:
        assert sorted(result for r, result in outcomes if r == run) == ["refused"] * 3 + ["submitted"]
        with services[1].reading() as session:
            history = session.select(Select("flow_run_state", where=eq("flow_run_id", run)))
        assert [h["state"] for h in history].count("Submitted") == 1


def test_runs_are_created_once_per_idempotency_key_across_servers(
    shared_database: Callable[[], RunStore],
) -> None:
    services = [_server(shared_database()) for _ in range(2)]
    tenant = services[0].tenancy.ensure_default_tenant()
    project = services[0].tenancy.create_project(tenant, "p", None)
    flow = services[0].flows.create_flow(project, {"name": "f", "__version__": "1.4.1", "tasks": []})
    made: list[str] = []

    def create(service: Any) -> None:
        for i in range(20):
            made.append(service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, idempotency_key=f"k{i}")))

    _race([lambda s=s: create(s) for s in services])
    with services[0].reading() as session:
        stored = session.select(Select("flow_run", where=eq("flow_id", flow)))
    assert len(stored) == 20
    assert set(made) == {r["id"] for r in stored}
