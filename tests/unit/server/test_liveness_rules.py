"""The zombie killer and Lazarus on a fake clock: what happens to runs whose heartbeats
stopped, on the in-memory store and SQLite alike."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dockyard.domain.server.context import Caller
from dockyard.domain.server.filters import Order, Row, Select, eq
from dockyard.domain.server.liveness import Lazarus, ZombieKiller
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.services import BackgroundServices, ServiceLoop, ServicesSettings, check_interval
from dockyard.ports.run_store import RunStore
from support.stores import FakeClock, service_on, store

__all__ = ["store"]

THRESHOLD = 600.0


def _setup(store: RunStore, *, max_retries: int = 0) -> tuple[ServerService, FakeClock, str, str]:
    """A Running flow run whose first task run is Running: the moment a process dies."""
    clock = FakeClock()
    service = service_on(store, clock)
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "p", None)
    tasks = [{"slug": "work-1", "max_retries": max_retries, "retry_delay": 30}, {"slug": "after-1"}]
    flow = service.flows.create_flow(project, {"name": "f", "__version__": "1.4.1", "tasks": tasks})
    run = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow))
    _flow_state(service, run, "Submitted")
    _flow_state(service, run, "Running")
    task_run = _task_runs(service, run)[0]["id"]
    service.task_runs.set_states([(task_run, {"type": "Running", "message": "Starting task run."})])
    return service, clock, run, task_run


def _flow_state(service: ServerService, run: str, state: str) -> None:
    service.flow_runs.set_flow_run_states([(run, {"type": state, "message": state})], Caller())


def _row(service: ServerService, table: str, row_id: str) -> Row:
    with service.reading() as session:
        (row,) = session.select(Select(table, where=eq("id", row_id)))
    return row


def _task_runs(service: ServerService, run: str) -> list[Row]:
    with service.reading() as session:
        return session.select(Select("task_run", where=eq("flow_run_id", run), order_by=(Order("created"),)))


def _logs(service: ServerService, run: str) -> list[Row]:
    with service.reading() as session:
        return session.select(Select("log", where=eq("flow_run_id", run), order_by=(Order("timestamp"),)))


def _history(service: ServerService, table: str, column: str, row_id: str) -> list[str]:
    with service.reading() as session:
        rows = session.select(Select(table, where=eq(column, row_id), order_by=(Order("version"),)))
    return [str(r["state"]) for r in rows]


def _killer(service: ServerService) -> ZombieKiller:
    return ZombieKiller(service.deps, service.flow_runs, service.task_runs, threshold=THRESHOLD)


def _lazarus(service: ServerService, attempts: int = 3) -> Lazarus:
    return Lazarus(service.deps, service.flow_runs, threshold=THRESHOLD, attempts=attempts)


def _set_group_settings(store: RunStore, run: str, **settings: Any) -> None:
    with store.unit_of_work(write=True) as session:
        (flow_run,) = session.select(Select("flow_run", where=eq("id", run)))
        (flow,) = session.select(Select("flow", where=eq("id", flow_run["flow_id"])))
        session.update("flow_group", eq("id", flow["flow_group_id"]), {"settings": settings})


# -- zombie killer -----------------------------------------------------------------------


def test_a_running_task_run_without_heartbeats_is_failed_and_says_why(store: RunStore) -> None:
    service, clock, run, task_run = _setup(store)
    killer = _killer(service)
    clock.advance(THRESHOLD - 5)
    assert killer.run_once().task_runs_failed == 0, "not yet past the threshold"

    clock.advance(10)
    reaped = killer.run_once()

    assert (reaped.task_runs_failed, reaped.task_runs_retried) == (1, 0)
    row = _row(service, "task_run", task_run)
    assert row["state"] == "Failed" and "No heartbeat detected" in row["state_message"]
    assert row["end_time"] is not None and row["version"] == 3
    assert _history(service, "task_run_state", "task_run_id", task_run) == ["Running", "Failed"]
    assert _row(service, "flow_run", run)["state"] == "Running", "the flow run is Lazarus's to handle"
    (entry,) = _logs(service, run)
    assert entry["level"] == "ERROR" and entry["task_run_id"] == task_run
    assert killer.run_once().task_runs_failed == 0, "a failed task run is reaped once"


def test_flow_run_heartbeats_keep_its_task_runs_alive(store: RunStore) -> None:
    service, clock, run, task_run = _setup(store)
    for _ in range(5):
        clock.advance(THRESHOLD / 2)
        service.flow_runs.heartbeat("flow_run", run)
        assert _killer(service).run_once().task_runs_failed == 0
    assert _row(service, "task_run", task_run)["state"] == "Running"


def test_a_task_run_heartbeat_keeps_it_alive_too(store: RunStore) -> None:
    service, clock, _, task_run = _setup(store)
    clock.advance(THRESHOLD - 1)
    service.flow_runs.heartbeat("task_run", task_run)  # update_task_run_heartbeat
    clock.advance(THRESHOLD / 2)  # the flow run's heartbeat is stale, the task run's is not
    assert _killer(service).run_once().task_runs_failed == 0
    clock.advance(THRESHOLD)
    assert _killer(service).run_once().task_runs_failed == 1
    assert _row(service, "task_run", task_run)["state"] == "Failed"


def test_a_task_with_retries_left_is_retried_then_failed(store: RunStore) -> None:
    service, clock, run, task_run = _setup(store, max_retries=1)
    version = service.deps.queue_signal.version
    clock.advance(THRESHOLD + 1)
    assert _killer(service).run_once().task_runs_retried == 1

    row = _row(service, "task_run", task_run)
    assert row["state"] == "Retrying" and "retry 1 of 1" in row["state_message"]
    assert row["serialized_state"]["run_count"] == 1
    assert row["state_start_time"] > _row(service, "flow_run", run)["heartbeat"], "after the retry delay"
    assert service.deps.queue_signal.version > version, "agents hear the run needs them again"

    service.flow_runs.heartbeat("flow_run", run)  # an agent runs the flow run again...
    service.task_runs.set_states([(task_run, {"type": "Running", "message": "again"})])
    clock.advance(THRESHOLD + 1)  # ...and it dies again: no retries left
    assert _killer(service).run_once().task_runs_failed == 1
    assert _row(service, "task_run", task_run)["state"] == "Failed"


def test_a_cancelling_flow_run_without_heartbeats_is_failed(store: RunStore) -> None:
    service, clock, run, _ = _setup(store)
    assert service.flow_runs.cancel_flow_run(run) == "Cancelling"
    clock.advance(THRESHOLD + 1)
    assert _killer(service).run_once().flow_runs_failed == 1
    row = _row(service, "flow_run", run)
    assert row["state"] == "Failed" and "No heartbeat detected from the flow run" in row["state_message"]


def test_flows_with_heartbeats_turned_off_are_left_alone(store: RunStore) -> None:
    service, clock, run, task_run = _setup(store)
    _set_group_settings(store, run, heartbeat_enabled=False)
    clock.advance(THRESHOLD * 3)
    assert _killer(service).run_once().task_runs_failed == 0
    assert _lazarus(service).run_once().rescheduled == 0
    assert _row(service, "task_run", task_run)["state"] == "Running"


# -- Lazarus -----------------------------------------------------------------------------


def test_lazarus_reschedules_a_lost_run_three_times_then_fails_it(store: RunStore) -> None:
    service, clock, run, task_run = _setup(store)
    lazarus = _lazarus(service)
    clock.advance(THRESHOLD + 1)
    assert lazarus.run_once().rescheduled == 0, "a task run is still Running"
    _killer(service).run_once()  # the zombie killer fails it first

    for attempt in (1, 2, 3):
        assert lazarus.run_once().rescheduled == 1
        row = _row(service, "flow_run", run)
        assert (row["state"], row["state_message"]) == ("Scheduled", "Rescheduled by a Lazarus process.")
        assert row["times_resurrected"] == attempt and row["state_start_time"] is not None
        assert lazarus.run_once().rescheduled == 0, "a Scheduled run waits for an agent"
        _flow_state(service, run, "Submitted")  # an agent takes it, and it dies again
        _flow_state(service, run, "Running")
        clock.advance(THRESHOLD + 1)

    done = lazarus.run_once()
    assert (done.rescheduled, done.failed) == (0, 1)
    row = _row(service, "flow_run", run)
    assert row["state"] == "Failed" and "3 times without success" in row["state_message"]
    history = _history(service, "flow_run_state", "flow_run_id", run)
    assert history.count("Scheduled") == 4 and history[-1] == "Failed"
    messages = [str(entry["message"]) for entry in _logs(service, run)]
    assert [m for m in messages if "This is attempt" in m] == [
        f"Rescheduled by a Lazarus process. This is attempt {n}." for n in (1, 2, 3)
    ]
    assert _row(service, "task_run", task_run)["state"] == "Failed"


def test_lazarus_takes_submitted_runs_too_but_not_fresh_or_busy_ones(store: RunStore) -> None:
    service, clock, run, _ = _setup(store)
    submitted = service.flow_runs.create_flow_run(
        NewFlowRun(flow_id=_row(service, "flow_run", run)["flow_id"])
    )
    _flow_state(service, submitted, "Submitted")
    clock.advance(THRESHOLD + 1)
    fresh = service.flow_runs.create_flow_run(NewFlowRun(flow_id=_row(service, "flow_run", run)["flow_id"]))
    _flow_state(service, fresh, "Submitted")

    assert _lazarus(service).run_once().rescheduled == 1
    assert _row(service, "flow_run", submitted)["state"] == "Scheduled"
    assert _row(service, "flow_run", fresh)["state"] == "Submitted"
    assert _row(service, "flow_run", run)["state"] == "Running", "its task run is still Running"


def test_lazarus_can_be_turned_off_per_flow_group(store: RunStore) -> None:
    service, clock, run, _ = _setup(store)
    _set_group_settings(store, run, heartbeat_enabled=True, lazarus_enabled=False)
    clock.advance(THRESHOLD + 1)
    _killer(service).run_once()
    assert _lazarus(service).run_once().rescheduled == 0
    assert _row(service, "flow_run", run)["state"] == "Running"


# -- the loops ---------------------------------------------------------------------------


def test_a_service_loop_runs_on_its_interval_survives_failures_wakes_and_stops() -> None:
    calls: list[float] = []

    def flaky() -> None:
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("the database is busy")

    loop = ServiceLoop("test", flaky, interval=0.05)
    loop.start()
    deadline = time.monotonic() + 10
    while len(calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) >= 4, "a failing pass does not end the loop"

    slow = ServiceLoop("slow", flaky, interval=3600)
    slow.start()
    while len(calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    before = len(calls)
    slow.wake()
    while len(calls) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) > before, "wake() runs a pass now, not an hour later"

    started = time.monotonic()
    assert loop.stop(5) and slow.stop(5)
    assert time.monotonic() - started < 2
    settled = len(calls)
    time.sleep(0.2)
    assert len(calls) == settled, "no pass after stop"


def test_services_are_built_from_their_settings(store: RunStore) -> None:
    service = service_on(store)
    everything = BackgroundServices(service, ServicesSettings(zombie_threshold=10, lazarus_threshold=900))
    assert [(loop.name, loop.interval) for loop in everything.loops] == [
        ("scheduler", 30.0),
        ("zombie killer", 2.0),
        ("lazarus", 60.0),
    ]
    nothing = BackgroundServices(
        service, ServicesSettings(scheduler=False, zombie_killer=False, lazarus=False)
    )
    assert nothing.loops == []
    assert (check_interval(0.5), check_interval(100), check_interval(10_000)) == (1.0, 20.0, 60.0)


@pytest.mark.parametrize("scheduling", [True, False])
def test_turning_a_schedule_on_schedules_at_once_only_with_the_scheduler(
    store: RunStore, scheduling: bool
) -> None:
    clock = FakeClock()
    service = service_on(store, clock)
    service = ServerService(service.deps, scheduling=scheduling)
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "p", None)
    schedule = {"clocks": [{"type": "IntervalClock", "interval": 60_000_000}]}
    flow = service.flows.create_flow(
        project, {"name": "f", "__version__": "1.4.1", "schedule": schedule}, set_schedule_active=True
    )
    with service.reading() as session:
        runs = session.select(Select("flow_run", where=eq("flow_id", flow)))
    assert len(runs) == (10 if scheduling else 0)
