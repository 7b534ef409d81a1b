"""The dashboard's read models on the in-memory fake and on real SQLite: filters, paging,
a run's detail, the log cursor, flows by group, agent health and the day's activity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dockyard.domain.server.agents import NewLog
from dockyard.domain.server.context import Caller
from dockyard.domain.server.filters import Select, eq
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.views.agents import agent_health
from dockyard.domain.server.views.runs import LogCursor, RunQuery, container_id_in, levels_from
from dockyard.ports.run_store import RunStore
from support.stores import START, FakeClock, service_on, store

__all__ = ["store"]
AGENT = Caller(agent_id=None, core_version="1.4.1")
# A required parameter has its value from the clock: the schedule may be active.
SCHEDULE = {
    "type": "Schedule",
    "clocks": [{"type": "IntervalClock", "interval": 3_600_000_000, "parameter_defaults": {"n": 0}}],
}


def _project(service: ServerService) -> str:
    tenant = service.tenancy.ensure_default_tenant()
    with service.reading() as session:
        found = session.select(Select("project", where=eq("name", "p")))
    return str(found[0]["id"]) if found else service.tenancy.create_project(tenant, "p", None)


def _flow(service: ServerService, name: str = "etl", **extra: object) -> str:
    serialized = {
        "name": name,
        "__version__": "1.4.1",
        "tasks": [{"slug": "extract-1", "name": "extract", "max_retries": 2}],
        **extra,
    }
    return service.flows.create_flow(_project(service), serialized)


def _run(service: ServerService, flow: str, labels: list[str] | None = None, name: str | None = None) -> str:
    return service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, labels=labels or [], name=name))


def _set(service: ServerService, run: str, state: str, caller: Caller = AGENT) -> None:
    service.flow_runs.set_flow_run_states([(run, {"type": state, "message": f"now {state}"})], caller)


def test_runs_newest_first_filtered_by_state_label_and_flow_and_paged(store: RunStore) -> None:
    clock = FakeClock()
    service = service_on(store, clock)
    etl, other = _flow(service, "etl"), _flow(service, "other")
    runs = []
    for index in range(5):
        clock.advance(1)
        runs.append(
            _run(service, etl if index % 2 == 0 else other, ["a"] if index < 3 else ["b"], f"r{index}")
        )
    _set(service, runs[0], "Failed")
    views = service.views.runs
    assert [r.name for r in views.runs(RunQuery()).runs] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.name for r in views.runs(RunQuery(state="Failed")).runs] == ["r0"]
    assert [r.name for r in views.runs(RunQuery(label="b")).runs] == ["r4", "r3"]
    etl_group = next(c.group_id for c in views.runs(RunQuery()).flows if c.name == "etl")
    assert [r.name for r in views.runs(RunQuery(flow_group_id=etl_group)).runs] == ["r4", "r2", "r0"]
    assert [r.name for r in views.runs(RunQuery(flow_group_id=etl_group, label="a")).runs] == ["r2", "r0"]
    first, second = views.runs(RunQuery(per_page=3)), views.runs(RunQuery(per_page=3, page=2))
    assert [r.name for r in first.runs] == ["r4", "r3", "r2"] and first.has_next
    assert [r.name for r in second.runs] == ["r1", "r0"] and not second.has_next
    item = first.runs[0]
    assert (item.flow_name, item.tenant_slug, item.state, item.labels) == (
        "etl",
        "default",
        "Scheduled",
        ("b",),
    )


def test_a_run_in_detail_names_its_agent_and_container_and_counts_task_retries(store: RunStore) -> None:
    clock = FakeClock()
    service = service_on(store, clock)
    flow = _flow(service)
    agent = service.agents.register_agent(
        agent_type="DockerAgent",
        name="dock-1",
        labels=["a"],
        tenant_id=None,
        agent_config_id=None,
        caller=AGENT,
    )
    caller = Caller(agent_id=agent)
    run = _run(service, flow, name="nightly")
    clock.advance(2)
    _set(service, run, "Submitted", caller)
    service.agents.write_logs(
        [NewLog(run, "Submitted for execution: Container ID: " + "ab12" * 16, name="dock-1")]
    )
    clock.advance(1)
    _set(service, run, "Running", caller)
    task_run = service.task_runs.get_or_create(run, _task_id(service, flow), None)["id"]
    for name in ("Running", "Retrying", "Running", "Retrying", "Running", "Success"):
        service.task_runs.set_states([(task_run, {"type": name})])
    clock.advance(5)
    detail = service.views.runs.run(run)
    assert detail is not None
    assert detail.run.agent_name == "dock-1" and detail.container_id == "ab12" * 16
    assert [s.state for s in detail.timeline] == ["Scheduled", "Submitted", "Running"]
    assert detail.timeline[1].duration is not None
    assert detail.timeline[1].duration >= timedelta(seconds=1)
    (task,) = detail.task_runs
    assert (task.name, task.state, task.retries, task.max_retries) == ("extract", "Success", 2, 2)
    assert service.views.runs.task_run_owner(task_run) == run
    assert service.views.runs.run("00000000-0000-4000-8000-999999999999") is None


def _task_id(service: ServerService, flow: str) -> str:
    with service.reading() as session:
        return str(session.select(Select("task", where=eq("flow_id", flow)))[0]["id"])


def test_the_log_cursor_misses_and_repeats_nothing_even_within_one_stored_instant(store: RunStore) -> None:
    clock = FakeClock(tick=timedelta(0))  # every write in the same instant: the hard case
    service = service_on(store, clock)
    run = _run(service, _flow(service))
    views = service.views.runs
    service.agents.write_logs([NewLog(run, f"line{i}") for i in range(1, 4)])
    first = views.logs(run, after=LogCursor(), limit=2)
    assert [line.message for line in first.lines] == ["line1", "line2"]
    second = views.logs(run, after=first.cursor, limit=2)
    assert [line.message for line in second.lines] == ["line3"]
    service.agents.write_logs([NewLog(run, "line4")])  # stored at the very same instant
    third = views.logs(run, after=second.cursor)
    assert [line.message for line in third.lines] == ["line4"]
    assert views.logs(run, after=third.cursor).lines == ()
    clock.advance(1)
    service.agents.write_logs([NewLog(run, "line5", level="ERROR"), NewLog(run, "line6", level="DEBUG")])
    fourth = views.logs(run, after=third.cursor)
    assert [line.message for line in fourth.lines] == ["line5", "line6"]
    # A cursor belongs to the level it was read at: a reader at WARNING has its own.
    warnings = views.logs(run, after=LogCursor(), min_level="WARNING")
    assert [line.message for line in warnings.lines] == ["line5"]
    assert views.logs(run, after=warnings.cursor, min_level="WARNING").lines == ()
    tail = views.logs(run, limit=3)
    assert [line.message for line in tail.lines] == ["line4", "line5", "line6"] and tail.truncated
    assert views.logs(run, after=tail.cursor).lines == ()
    assert not tail.finished and tail.run_state == "Scheduled"


def test_flows_are_listed_by_group_with_versions_schedule_next_and_recent_runs(store: RunStore) -> None:
    clock = FakeClock()
    # Only the runs made here: the scheduler's own runs are the scheduler tests' business.
    service = service_on(store, clock, scheduling=False)
    old = _flow(service, "etl")
    new = _flow(
        service, "etl", schedule=SCHEDULE, parameters=[{"name": "n", "required": True, "default": None}]
    )
    done = service.flow_runs.create_flow_run(NewFlowRun(flow_id=new, name="done", parameters={"n": 1}))
    _set(service, done, "Success")
    clock.advance(1)
    upcoming = service.flow_runs.create_flow_run(
        NewFlowRun(
            flow_id=new,
            scheduled_start_time=(START + timedelta(hours=1)).isoformat(),
            name="later",
            parameters={"n": 2},
        )
    )
    (flow,) = service.views.flows.flows()
    assert (flow.name, flow.version, flow.versions, flow.flow_id) == ("etl", 2, 2, new)
    assert flow.has_schedule and flow.schedule_active
    assert [r.id for r in flow.next_runs] == [upcoming]
    assert [r.name for r in flow.recent_runs] == ["later", "done"]
    by_group = service.views.flows.flow(flow.group_id)
    by_version = service.views.flows.flow(old)
    assert by_group is not None and by_version is not None
    assert by_group.flow.group_id == by_version.flow.group_id == flow.group_id
    assert [(v.version, v.archived) for v in by_group.versions] == [(2, False), (1, True)]
    assert [(p.name, p.required) for p in by_group.parameters] == [("n", True)]
    service.flows.set_schedule_active(new, False)
    assert not service.views.flows.flows()[0].schedule_active
    assert service.views.flows.flow("00000000-0000-4000-8000-999999999999") is None


def test_agent_health_follows_the_last_poll(store: RunStore) -> None:
    clock = FakeClock()
    service = service_on(store, clock)
    service.tenancy.ensure_default_tenant()
    service.agents.register_agent(
        agent_type="DockerAgent", name="old", labels=[], tenant_id=None, agent_config_id=None, caller=AGENT
    )
    clock.advance(120)
    fresh = service.agents.register_agent(
        agent_type="DockerAgent",
        name="fresh",
        labels=["x"],
        tenant_id=None,
        agent_config_id=None,
        caller=AGENT,
    )
    run = _run(service, _flow(service))
    _set(service, run, "Submitted", Caller(agent_id=fresh))
    clock.advance(30)
    agents = service.views.agents.agents()
    assert [(a.name, a.health, a.in_flight) for a in agents] == [("fresh", "healthy", 1), ("old", "late", 0)]
    clock.advance(3600)
    assert {a.health for a in service.views.agents.agents()} == {"unresponsive"}


def test_agent_health_thresholds() -> None:
    assert agent_health(None, START) == "unresponsive"
    assert agent_health(START - timedelta(seconds=60), START) == "healthy"
    assert agent_health(START - timedelta(seconds=61), START) == "late"
    assert agent_health(START - timedelta(minutes=11), START) == "unresponsive"


def test_the_days_activity_is_read_from_runs_and_their_histories(store: RunStore) -> None:
    clock = FakeClock()
    service = service_on(store, clock)
    flow = _flow(service)
    for final in ("Success", "Success", "Failed"):
        run = _run(service, flow)
        clock.advance(2)
        _set(service, run, "Submitted")
        clock.advance(1)
        _set(service, run, "Running")
        clock.advance(10)
        _set(service, run, final)
    _run(service, flow)  # never ran
    day = service.views.activity.last_day()
    assert day.totals == {"Success": 2, "Failed": 1, "Cancelled": 0, "Other": 0}
    assert day.from_due.count == 3 and day.from_due.p50 == pytest.approx(3.0, abs=0.01)
    assert day.from_submitted.p50 == pytest.approx(1.0, abs=0.01)


def test_levels_and_container_ids() -> None:
    assert levels_from("warning") == ["WARNING", "ERROR", "CRITICAL"]
    assert levels_from(None) == levels_from("nonsense") == ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    assert container_id_in("Submitted for execution: Container ID: 0123456789abcdef") == "0123456789abcdef"
    assert container_id_in("Submitted for execution") is None
