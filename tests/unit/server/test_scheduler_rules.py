"""The scheduler: the next 10 runs of every active schedule, created once, never in the
past, removed when the schedule stops; on the in-memory store, SQLite and PostgreSQL alike."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from dockyard.domain.server.context import Caller
from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.filters import Order, Row, Select, eq
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.timestamps import canonical
from dockyard.ports.run_store import RunStore
from support.stores import START, FakeClock, service_on, shared_database, store

__all__ = ["shared_database", "store"]

MINUTE = 60_000_000  # the wire's intervals are microseconds


def every_minute(start: str = "2026-03-01T11:00:20", tz: str = "UTC", **clock: Any) -> dict[str, Any]:
    return {
        "clocks": [
            {"type": "IntervalClock", "interval": MINUTE, "start_date": {"dt": start, "tz": tz}, **clock}
        ]
    }


def _flow(name: str = "f", schedule: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "__version__": "1.4.1",
        "schedule": schedule,
        "tasks": [{"slug": "a-1"}, {"slug": "b-1"}],
        **extra,
    }


def _setup(store: RunStore, clock: FakeClock | None = None) -> tuple[ServerService, str, FakeClock]:
    clock = clock or FakeClock()
    service = service_on(store, clock)
    tenant = service.tenancy.ensure_default_tenant()
    return service, service.tenancy.create_project(tenant, "p", None), clock


def _runs(service: ServerService, flow_id: str | None = None) -> list[Row]:
    where = eq("flow_id", flow_id) if flow_id else eq("auto_scheduled", True)
    with service.reading() as session:
        return session.select(Select("flow_run", where=where, order_by=(Order("scheduled_start_time"),)))


def _starts(service: ServerService, flow_id: str) -> list[str]:
    return [str(r["scheduled_start_time"]) for r in _runs(service, flow_id)]


def _minute(offset: int, second: int = 20) -> str:
    """START (12:00:00) plus ``offset`` minutes, at ``second`` past."""
    return canonical(START.replace(second=second) + timedelta(minutes=offset))


def test_a_new_flow_with_an_active_schedule_gets_its_next_ten_runs_at_once(store: RunStore) -> None:
    service, project, _ = _setup(store)
    flow = service.flows.create_flow(project, _flow(schedule=every_minute()), set_schedule_active=True)

    runs = _runs(service, flow)
    assert [r["scheduled_start_time"] for r in runs] == [_minute(i) for i in range(10)]
    assert all(r["auto_scheduled"] is True and r["state"] == "Scheduled" for r in runs)
    assert all(r["state_start_time"] == r["scheduled_start_time"] for r in runs)
    assert runs[0]["idempotency_key"] == f"auto-scheduled:{_minute(0)}"
    with service.reading() as session:
        task_runs = session.select(Select("task_run", where=eq("flow_run_id", runs[0]["id"])))
    assert len(task_runs) == 2, "the flow runner finds its tasks' ids through these"


def test_the_register_path_schedules_once_tasks_are_in_and_the_schedule_is_turned_on(
    store: RunStore,
) -> None:
    service, project, _ = _setup(store)
    flow = service.flows.create_flow(
        project, {**_flow(schedule=every_minute()), "tasks": None}, set_schedule_active=False
    )
    assert _runs(service, flow) == []
    service.flows.register_tasks(flow, [{"slug": "a-1"}])
    service.flows.set_schedule_active(flow, True)

    runs = _runs(service, flow)
    assert len(runs) == 10
    with service.reading() as session:
        assert len(session.select(Select("task_run", where=eq("flow_run_id", runs[-1]["id"])))) == 1


def test_passes_keep_ten_ahead_never_duplicate_and_never_create_in_the_past(store: RunStore) -> None:
    service, project, clock = _setup(store)
    flow = service.flows.create_flow(project, _flow(schedule=every_minute()), set_schedule_active=True)
    first = service.scheduler.run_once()
    again = service.scheduler.run_once()
    assert (first.created, again.created, first.flows) == (0, 0, 1)

    clock.advance(150)  # 12:02:30: the runs of 12:00:20, 12:01:20 and 12:02:20 are due
    created = service.scheduler.run_once()

    assert created.created == 3
    assert _starts(service, flow) == [_minute(i) for i in range(13)]
    future = [s for s in _starts(service, flow) if s > canonical(clock.moment)]
    assert len(future) == 10 and future[0] == _minute(3)


def test_a_schedule_that_starts_in_the_past_gets_no_past_runs(store: RunStore) -> None:
    service, project, _ = _setup(store)
    flow = service.flows.create_flow(
        project, _flow(schedule=every_minute("2020-01-01T00:00:00")), set_schedule_active=True
    )
    starts = _starts(service, flow)
    assert len(starts) == 10 and min(starts) > canonical(START)
    assert starts[0] == canonical(START + timedelta(minutes=1))


def test_deactivating_deletes_waiting_runs_and_reactivating_recreates_them(store: RunStore) -> None:
    service, project, clock = _setup(store)
    flow = service.flows.create_flow(project, _flow(schedule=every_minute()), set_schedule_active=True)
    started = _runs(service, flow)[0]
    service.flow_runs.set_flow_run_states(
        [(started["id"], {"type": "Submitted", "message": "by an agent"})], Caller()
    )
    by_hand = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, scheduled_start_time=_minute(30)))

    service.flows.set_schedule_active(flow, False)

    assert {r["id"] for r in _runs(service, flow)} == {started["id"], by_hand}
    with service.reading() as session:
        orphans = [
            t for t in session.select(Select("task_run")) if t["flow_run_id"] not in {started["id"], by_hand}
        ]
    assert orphans == [], "a deleted run takes its task runs with it"
    assert service.scheduler.run_once().created == 0, "an inactive schedule creates nothing"

    clock.advance(30)
    service.flows.set_schedule_active(flow, True)
    auto = [r for r in _runs(service, flow) if r["auto_scheduled"]]
    assert [r["scheduled_start_time"] for r in auto] == [_minute(i) for i in range(11)]


def test_clock_parameters_merge_over_defaults_and_clock_labels_replace_the_runs(store: RunStore) -> None:
    service, project, _ = _setup(store)
    schedule = {
        "clocks": [
            {"type": "IntervalClock", "interval": 2 * MINUTE, "parameter_defaults": {"size": "big"},
             "labels": ["gpu"]},
            {"type": "IntervalClock", "interval": 2 * MINUTE, "parameter_defaults": {"size": "small"}},
        ]
    }  # fmt: skip
    parameters = [
        {"name": "size", "default": "medium", "required": False},
        {"name": "n", "default": 3, "required": False},
    ]
    flow = service.flows.create_flow(
        project,
        _flow(schedule=schedule, parameters=parameters, run_config={"labels": ["cpu"]}),
        set_schedule_active=True,
    )
    runs = _runs(service, flow)
    assert len(runs) == 10  # five start times, each with both clocks' runs
    assert len({r["scheduled_start_time"] for r in runs}) == 5
    big = [r for r in runs if r["parameters"]["size"] == "big"]
    small = [r for r in runs if r["parameters"]["size"] == "small"]
    assert len(big) == len(small) == 5
    assert all(r["parameters"] == {"size": "big", "n": 3} and r["labels"] == ["gpu"] for r in big)
    assert all(r["parameters"] == {"size": "small", "n": 3} and r["labels"] == ["cpu"] for r in small)
    assert service.scheduler.run_once().created == 0


def test_the_flow_groups_schedule_wins_over_the_flows(store: RunStore) -> None:
    service, project, _ = _setup(store)
    flow = service.flows.create_flow(project, _flow(schedule=every_minute()), set_schedule_active=False)
    with store.unit_of_work(write=True) as session:
        (row,) = session.select(Select("flow", where=eq("id", flow)))
        hourly = {"clocks": [{"type": "IntervalClock", "interval": 60 * MINUTE}]}
        session.update("flow_group", eq("id", row["flow_group_id"]), {"schedule": hourly})
    service.flows.set_schedule_active(flow, True)
    starts = _starts(service, flow)
    assert starts[:2] == [canonical(START.replace(hour=13)), canonical(START.replace(hour=14))]


def test_a_new_version_takes_over_and_the_archived_one_loses_its_waiting_runs(store: RunStore) -> None:
    service, project, _ = _setup(store)
    old = service.flows.create_flow(project, _flow(schedule=every_minute()), set_schedule_active=True)
    new = service.flows.create_flow(project, _flow(schedule=every_minute()), set_schedule_active=True)
    assert _runs(service, old) == []
    assert len(_runs(service, new)) == 10
    with store.unit_of_work(write=True) as session:  # archived by another path (e.g. an API)
        session.update("flow", eq("id", new), {"archived": True})
    removed = service.scheduler.run_once()
    assert (removed.removed, removed.flows) == (10, 0)


def test_required_parameters_must_come_from_every_clock(store: RunStore) -> None:
    service, project, _ = _setup(store)
    needs_n = [{"name": "n", "required": True}]
    flow = service.flows.create_flow(
        project, _flow(schedule=every_minute(), parameters=needs_n), set_schedule_active=True
    )
    with service.reading() as session:
        (row,) = session.select(Select("flow", where=eq("id", flow)))
    assert row["is_schedule_active"] is False and _runs(service, flow) == []
    with pytest.raises(InvalidInput, match="Can not schedule a flow that has required parameters"):
        service.flows.set_schedule_active(flow, True)

    given = service.flows.create_flow(
        project,
        _flow("g", schedule=every_minute(parameter_defaults={"n": 5}), parameters=needs_n),
        set_schedule_active=True,
    )
    assert [r["parameters"] for r in _runs(service, given)] == [{"n": 5}] * 10


def test_an_unsupported_schedule_is_named_once_and_never_stops_the_others(
    store: RunStore, caplog: pytest.LogCaptureFixture
) -> None:
    service, project, _ = _setup(store)
    odd = {"clocks": [{"type": "MoonClock"}]}
    bad = service.flows.create_flow(project, _flow("bad", schedule=odd), set_schedule_active=True)
    good = service.flows.create_flow(
        project, _flow("good", schedule=every_minute()), set_schedule_active=True
    )
    with caplog.at_level(logging.WARNING, logger="dockyard.server.scheduler"):
        passes = [service.scheduler.run_once() for _ in range(3)]

    assert [p.unsupported for p in passes] == [1, 1, 1]
    named = [r.getMessage() for r in caplog.records if bad in r.getMessage()]
    assert len(named) == 1 and "MoonClock" in named[0], named
    assert _runs(service, bad) == [] and len(_runs(service, good)) == 10


def test_a_pass_that_planned_before_another_pass_wrote_creates_nothing_twice(store: RunStore) -> None:
    service, project, _ = _setup(store)
    flow = service.flows.create_flow(project, _flow(schedule=every_minute()), set_schedule_active=False)
    with store.unit_of_work(write=True) as session:
        session.update("flow", eq("id", flow), {"is_schedule_active": True})
    late = service_on(store, FakeClock()).scheduler  # a second server, same database
    with service.reading() as session:
        (row,) = session.select(Select("flow", where=eq("id", flow)))
    plan = late._plan(row, None, None, START)  # planned before the first server writes
    assert plan is not None and len(plan.events) == 10

    assert service.scheduler.run_once().created == 10
    assert late._create([plan], START) == 0
    assert len(_runs(service, flow)) == 10


def test_two_servers_on_one_database_never_create_a_run_twice(
    shared_database: Callable[[], RunStore],
) -> None:
    stores = [shared_database() for _ in range(2)]
    service, project, _ = _setup(stores[0])
    flows = [
        service.flows.create_flow(project, _flow(f"f{i}", schedule=every_minute()), set_schedule_active=False)
        for i in range(20)
    ]
    with stores[0].unit_of_work(write=True) as session:
        session.update("flow", eq("is_schedule_active", False), {"is_schedule_active": True})
    schedulers = [service.scheduler, service_on(stores[1], FakeClock()).scheduler]
    errors: list[BaseException] = []

    def passes(scheduler: Any) -> None:
        try:
            for _ in range(5):
                scheduler.run_once()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=passes, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    runs = _runs(service)
    assert len(runs) == 200
    assert len({(r["flow_id"], r["scheduled_start_time"]) for r in runs}) == 200
    assert {r["flow_id"] for r in runs} == set(flows)
