"""Queue change notifications: which writes wake waiting agents, and the bounds on waiting."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from dockyard.adapters.graphql_api.executor import GraphQLApi
from dockyard.adapters.graphql_api.wsgi import GraphQLWsgiApp
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.domain.server.context import Caller
from dockyard.domain.server.notifications import QueueSignal, TooManyListeners
from dockyard.domain.server.runs import NewFlowRun
from dockyard.ports.run_store import RunStore
from support.stores import service_on, store
from support.wsgi_client import post

__all__ = ["store"]


def test_versions_fit_graphql_int_and_only_change_on_bumps() -> None:
    signal = QueueSignal()
    start = signal.version
    assert 0 < start < 2**31 - 1
    assert signal.wait(None, 10) == start and signal.wait(start - 1, 10) == start  # no wait: stale
    assert signal.wait(start, 0.01) == start  # timed out unchanged
    signal.bump()
    assert signal.wait(start, 10) == start + 1


def test_a_stopping_server_releases_every_waiter_at_once() -> None:
    signal = QueueSignal(max_waiters=4)
    version = signal.version
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (signal.wait(version, 60), done.set()))
    waiter.start()
    while signal._waiters == 0:  # the waiter is parked
        threading.Event().wait(0.01)
    signal.release_all()
    assert done.wait(10), "a waiting agent must not hold up the server's shutdown"
    assert signal.wait(version, 60) == version, "later waits return at once"


def test_a_waiter_wakes_on_a_bump_and_too_many_waiters_are_refused() -> None:
    signal = QueueSignal(max_waiters=1)
    version = signal.version
    woke: list[int] = []
    waiter = threading.Thread(target=lambda: woke.append(signal.wait(version, 30)))
    waiter.start()
    while signal._waiters == 0:  # the waiter is parked
        threading.Event().wait(0.01)
    with pytest.raises(TooManyListeners):
        signal.wait(version, 30)
    signal.bump()
    waiter.join(10)
    assert woke == [version + 1]


def test_new_and_rescheduled_runs_bump_the_version_other_writes_do_not(store: RunStore) -> None:
    service = service_on(store)
    signal = service.deps.queue_signal
    tenant = service.tenancy.ensure_default_tenant()
    flow = service.flows.create_flow(service.tenancy.create_project(tenant, "p", None), {"name": "f"})
    before = signal.version
    run = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, idempotency_key="k"))
    assert signal.version == before + 1
    service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, idempotency_key="k"))  # the same run again
    service.flow_runs.set_flow_run_states([(run, {"type": "Submitted"})], Caller())
    service.flow_runs.set_flow_run_states([(run, {"type": "Running"})], Caller())
    assert signal.version == before + 1
    service.flow_runs.set_flow_run_states([(run, {"type": "Scheduled"})], Caller())
    assert signal.version == before + 2


def test_the_long_poll_over_graphql(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "poll.db", durable=False)
    app = GraphQLWsgiApp(GraphQLApi(service_on(store)))
    query = "query($after: Int, $timeout: Float) { dockyard_queue_version(after: $after, timeout: $timeout) }"
    status, body = post(app, query, json.dumps({"after": None, "timeout": 5}))
    assert status == 200
    version = body["data"]["dockyard_queue_version"]
    assert post(app, query, {"after": version, "timeout": 0.05})[1] == {
        "data": {"dockyard_queue_version": version}
    }
    store.close()
