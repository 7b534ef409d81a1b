"""State writes: derived columns, the Submitted lock, the task-run running rule,
cancellation, and task runs made for the flow runner."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.server.context import Caller
from dockyard.domain.server.errors import AlreadySubmitted, InvalidInput, NotFound, StateUpdateFailed
from dockyard.domain.server.filters import Order, Row, Select, eq
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.timestamps import normalise
from dockyard.ports.run_store import RunStore
from support.stores import FakeClock, service_on, store

__all__ = ["store"]
AGENT = "11111111-1111-4111-8111-111111111111"


def _setup(store: RunStore) -> tuple[ServerService, str]:
    service = service_on(store, FakeClock())
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "p", None)
    flow = service.flows.create_flow(
        project, {"name": "f", "__version__": "1.4.1", "tasks": [{"slug": "a-1"}, {"slug": "b-1"}]}
    )
    run = service.flow_runs.create_flow_run(
        NewFlowRun(flow_id=flow, scheduled_start_time="2026-03-01T12:00:00Z")
    )
    return service, run


def _row(service: ServerService, table: str, row_id: str) -> Row:
    with service.reading() as session:
        (row,) = session.select(Select(table, where=eq("id", row_id)))
    return row


def _task_runs(service: ServerService, run: str) -> list[Row]:
    with service.reading() as session:
        return session.select(
            Select("task_run", where=eq("flow_run_id", run), order_by=(Order("map_index"),))
        )


def _set(service: ServerService, run: str, doc: dict[str, Any], agent: str | None = None) -> None:
    service.flow_runs.set_flow_run_states([(run, doc)], Caller(agent_id=agent))


def test_a_new_run_is_scheduled_with_pending_task_runs(store: RunStore) -> None:
    service, run = _setup(store)
    row = _row(service, "flow_run", run)
    assert (row["state"], row["version"], row["state_message"]) == ("Scheduled", 1, "Flow run scheduled.")
    assert row["state_start_time"] == row["scheduled_start_time"] == "2026-03-01T12:00:00.000000+00:00"
    assert normalise(row["serialized_state"]["start_time"]) == row["state_start_time"]
    task_runs = _task_runs(service, run)
    assert [(t["map_index"], t["state"], t["version"]) for t in task_runs] == [(-1, "Pending", 1)] * 2
    assert task_runs[0]["serialized_state"] == {"type": "Pending", "message": "Task run created"}


def test_each_write_derives_the_run_columns(store: RunStore) -> None:
    service, run = _setup(store)
    submitted = {"type": "Submitted", "message": "Submitted for execution", "state": {"type": "Scheduled"}}
    _set(service, run, submitted, agent=AGENT)
    row = _row(service, "flow_run", run)
    assert (row["state"], row["version"], row["agent_id"]) == ("Submitted", 2, AGENT)
    assert row["serialized_state"] == submitted and row["state_start_time"] is None and row["heartbeat"]
    _set(service, run, {"type": "Running", "message": "Running flow."})
    running = _row(service, "flow_run", run)
    assert running["start_time"] and running["end_time"] is None and running["version"] == 3
    _set(service, run, {"type": "Running", "message": "again"})
    assert _row(service, "flow_run", run)["start_time"] == running["start_time"]  # only the first Running
    _set(service, run, {"type": "Success", "message": "done"})
    done = _row(service, "flow_run", run)
    assert (done["state"], done["version"], done["state_message"]) == ("Success", 5, "done")
    assert done["end_time"] and done["state_timestamp"] >= running["state_timestamp"]
    with service.reading() as session:
        history = session.select(
            Select("flow_run_state", where=eq("flow_run_id", run), order_by=(Order("version"),))
        )
    assert [h["state"] for h in history] == ["Scheduled", "Submitted", "Running", "Running", "Success"]


def test_the_submitted_lock_lets_exactly_one_submission_through(store: RunStore) -> None:
    service, run = _setup(store)
    _set(service, run, {"type": "Submitted"})
    with pytest.raises(
        AlreadySubmitted, match=r"^State update failed: this run has already been submitted\.$"
    ):
        _set(service, run, {"type": "Submitted"})
    _set(service, run, {"type": "Running"})
    with pytest.raises(AlreadySubmitted):
        _set(service, run, {"type": "Submitted"})
    assert _row(service, "flow_run", run)["version"] == 3  # refused writes left no trace
    _set(service, run, {"type": "Scheduled", "start_time": "2026-03-01T12:05:00+00:00"})  # rescheduled
    _set(service, run, {"type": "Submitted"})


def test_invalid_states_are_refused(store: RunStore) -> None:
    service, run = _setup(store)
    for bad in (
        {"type": "Bogus"},
        {"message": "no type"},
        {"type": "Running", "message": 3},
        {"type": "Scheduled", "start_time": "not a time"},
    ):
        with pytest.raises(InvalidInput):
            _set(service, run, bad)
    with pytest.raises(InvalidInput, match="too large"):
        _set(service, run, {"type": "Failed", "message": "x" * 1_100_000})
    with pytest.raises(NotFound, match="State update failed for flow run ID"):
        _set(service, "00000000-0000-4000-8000-999999999999", {"type": "Running"})
    assert _row(service, "flow_run", run)["version"] == 1


def test_a_batch_of_states_is_all_or_nothing(store: RunStore) -> None:
    service, run = _setup(store)
    with pytest.raises(NotFound):
        service.flow_runs.set_flow_run_states(
            [(run, {"type": "Running"}), ("00000000-0000-4000-8000-999999999999", {"type": "Running"})],
            Caller(),
        )
    assert _row(service, "flow_run", run)["state"] == "Scheduled"


def test_a_task_run_runs_only_inside_a_running_flow_run(store: RunStore) -> None:
    service, run = _setup(store)
    task_run = _task_runs(service, run)[0]["id"]
    with pytest.raises(StateUpdateFailed, match="provided a running state but associated flow run"):
        service.task_runs.set_states([(task_run, {"type": "Running"})])
    _set(service, run, {"type": "Running"})
    service.task_runs.set_states([(task_run, {"type": "Running", "cached_inputs": {"x": 1}})])
    service.task_runs.set_states([(task_run, {"type": "Success", "_result": {"location": "3"}})])
    row = _row(service, "task_run", task_run)
    assert (row["state"], row["version"]) == ("Success", 3)
    assert row["serialized_state"]["cached_inputs"] == {"x": 1}  # carried forward
    assert row["start_time"] and row["end_time"]


def test_mapped_children_are_created_once_at_version_zero(store: RunStore) -> None:
    service, run = _setup(store)
    parent = _task_runs(service, run)[0]
    again = service.task_runs.get_or_create(run, parent["task_id"], None)
    assert again["id"] == parent["id"]
    child = service.task_runs.get_or_create(run, parent["task_id"], 0)
    assert (child["map_index"], child["version"], child["state"]) == (0, 0, "Pending")
    assert service.task_runs.get_or_create(run, parent["task_id"], 0)["id"] == child["id"]
    with pytest.raises(InvalidInput, match="Invalid task ID"):
        service.task_runs.get_or_create(run, "00000000-0000-4000-8000-999999999999", 0)


def test_cancelling(store: RunStore) -> None:
    service, run = _setup(store)
    assert service.flow_runs.cancel_flow_run(run) == "Cancelled"  # not started: at once
    assert {t["state"] for t in _task_runs(service, run)} == {"Cancelled"}
    assert service.flow_runs.cancel_flow_run(run) == "Cancelled"  # finished: unchanged
    assert _row(service, "flow_run", run)["version"] == 2

    service2, running = _setup_running(store, service)
    assert service2.flow_runs.cancel_flow_run(running) == "Cancelling"
    assert _row(service2, "flow_run", running)["state"] == "Cancelling"
    assert service2.flow_runs.cancel_flow_run(running) == "Cancelling"


def _setup_running(store: RunStore, service: ServerService) -> tuple[ServerService, str]:
    with service.reading() as session:
        (flow,) = session.select(Select("flow"))
    run = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow["id"]))
    _set(service, run, {"type": "Running"})
    return service, run


def test_names_heartbeats_and_logs(store: RunStore) -> None:
    service, run = _setup(store)
    service.flow_runs.set_name("flow_run", run, "renamed")
    with pytest.raises(InvalidInput):
        service.flow_runs.set_name("flow_run", run, " ")
    service.flow_runs.heartbeat("flow_run", run)
    assert _row(service, "flow_run", run)["name"] == "renamed" and _row(service, "flow_run", run)["heartbeat"]
    from dockyard.domain.server.agents import NewLog

    written = service.agents.write_logs(
        [
            NewLog(flow_run_id=run, message="one", level="warning"),
            NewLog(flow_run_id=run, message="two", timestamp="2026-03-01T12:00:00"),
            NewLog(flow_run_id="00000000-0000-4000-8000-999999999999", message="lost"),
        ]
    )
    assert written == 2
    with service.reading() as session:
        logs = session.select(Select("log", order_by=(Order("timestamp"),)))
    assert [(log["message"], log["level"]) for log in logs] == [("two", "INFO"), ("one", "WARNING")]
    assert logs[0]["timestamp"] == "2026-03-01T12:00:00.000000+00:00"
