"""Archiving, moving and deleting flows and runs, flow-group settings, and the counters
Prefect's views read (``run_count``, ``auto_scheduled``), on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.server.agents import NewLog
from dockyard.domain.server.context import ANONYMOUS
from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.filters import MATCH_ALL, Row, Select, eq
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.domain.states import state_document
from dockyard.ports.run_store import RunStore
from support.stores import service_on, store

__all__ = ["store"]

UNKNOWN = "00000000-0000-4000-8000-999999999999"
LATER = "2099-01-01T00:00:00+00:00"
CHILD_TABLES = ("task_run", "flow_run_state", "task_run_state", "log", "task_run_artifact")


def _setup(store: RunStore) -> tuple[ServerService, str, str]:
    service = service_on(store)
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "p", None)
    flow = {"name": "f", "__version__": "1.4.1", "tasks": [{"slug": "a-1", "name": "a"}, {"slug": "b-1"}]}
    return service, tenant, service.flows.create_flow(project, flow)


def _rows(service: ServerService, table: str, where: Any = MATCH_ALL) -> list[Row]:
    with service.reading() as session:
        return session.select(Select(table, where=where))


def _count(service: ServerService) -> dict[str, int]:
    return {
        table: len(_rows(service, table)) for table in ("flow", "flow_run", "task", "edge", *CHILD_TABLES)
    }


def _run_with_history(service: ServerService, flow_id: str, name: str) -> str:
    """A run that went Running with a task run that ran, logged and published an artifact."""
    run_id = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow_id, name=name))
    service.flow_runs.set_flow_run_states([(run_id, state_document("Running", "go"))], caller=ANONYMOUS)
    task_run = _rows(service, "task_run", eq("flow_run_id", run_id))[0]
    service.task_runs.set_states([(task_run["id"], state_document("Running", "t"))])
    service.agents.write_logs([NewLog(flow_run_id=run_id, task_run_id=task_run["id"], message="hello")])
    service.task_runs.create_artifact(task_run["id"], "markdown", {"markdown": "# hi"})
    return run_id


def test_deleting_a_run_takes_everything_that_hangs_off_it(store: RunStore) -> None:
    service, _, flow = _setup(store)
    doomed = _run_with_history(service, flow, "doomed")
    kept = _run_with_history(service, flow, "kept")
    before = _count(service)

    assert service.flow_runs.delete_flow_run(doomed) is True

    after = _count(service)
    assert after["flow_run"] == before["flow_run"] - 1 == 1
    for table in CHILD_TABLES:  # each table held rows of both runs; the kept run's remain
        assert 0 < after[table] < before[table], table
    for table in ("task_run", "flow_run_state", "log"):
        assert {r["flow_run_id"] for r in _rows(service, table)} == {kept}
    assert service.flow_runs.delete_flow_run(doomed) is False  # gone: Prefect's success: false


def test_deleting_a_flow_takes_its_runs_tasks_and_edges_but_not_its_siblings(store: RunStore) -> None:
    service, _, flow = _setup(store)
    other = service.flows.create_flow(
        _rows(service, "project")[0]["id"],
        {"name": "g", "__version__": "1.4.1", "tasks": [{"slug": "x-1"}, {"slug": "y-1"}]},
    )
    service.flows.register_edges(
        other, [{"upstream_task": {"slug": "x-1"}, "downstream_task": {"slug": "y-1"}}]
    )
    _run_with_history(service, flow, "mine")
    survivor = _run_with_history(service, other, "theirs")

    assert service.flows.delete_flow(other) is True

    assert [f["id"] for f in _rows(service, "flow")] == [flow]
    assert {t["flow_id"] for t in _rows(service, "task")} == {flow}
    assert _rows(service, "edge") == [] and _rows(service, "flow_run", eq("id", survivor)) == []
    assert len(_rows(service, "task_run_artifact")) == 1 and len(_rows(service, "log")) == 1
    assert service.flows.delete_flow(UNKNOWN) is False


def test_archiving_cancels_requested_runs_deletes_scheduled_ones_and_refuses_new_runs(
    store: RunStore,
) -> None:
    service, tenant, flow = _setup(store)
    requested = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, name="asked"))
    scheduled = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, name="auto", auto_scheduled=True))
    running = _run_with_history(service, flow, "busy")
    assert set(service.agents.runs_in_queue(tenant, LATER, [], ANONYMOUS)) == {requested, scheduled}

    assert service.flows.archive_flow(flow) is True

    assert _rows(service, "flow")[0]["archived"] is True
    runs = {r["name"]: r for r in _rows(service, "flow_run")}
    assert set(runs) == {"asked", "busy"}  # the schedule's run is gone
    assert runs["asked"]["state"] == "Cancelled"
    assert runs["asked"]["state_message"] == f"Flow {flow} was archived."
    assert runs["busy"]["state"] == "Running" and runs["busy"]["id"] == running  # in flight: untouched
    assert service.agents.runs_in_queue(tenant, LATER, [], ANONYMOUS) == []
    with pytest.raises(InvalidInput, match="archived"):
        service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow))
    assert service.flows.archive_flow(UNKNOWN) is False


def test_a_flow_moves_only_to_a_project_of_its_tenant(store: RunStore) -> None:
    service, tenant, flow = _setup(store)
    target = service.tenancy.create_project(tenant, "q", None)
    assert service.flows.update_flow_project(flow, target) == flow
    assert _rows(service, "flow")[0]["project_id"] == target
    elsewhere = service.tenancy.create_project(service.tenancy.create_tenant("other", "other"), "r", None)
    for flow_id, project_id in ((flow, elsewhere), (flow, UNKNOWN), (UNKNOWN, target)):
        with pytest.raises(InvalidInput, match=r"^Invalid flow or project ID\.$"):
            service.flows.update_flow_project(flow_id, project_id)
    assert _rows(service, "flow")[0]["project_id"] == target


def test_flow_group_settings_shape_new_runs(store: RunStore) -> None:
    service, _, flow = _setup(store)
    group = _rows(service, "flow")[0]["flow_group_id"]
    assert service.flow_groups.set_labels(group, ["b", "a", "b"]) is True
    assert service.flow_groups.set_default_parameters(group, {"n": 2}) is True
    assert service.flow_groups.set_run_config(group, {"type": "DockerRun", "labels": ["ignored"]}) is True
    assert service.flow_groups.set_description(group, "the f flow") is True
    run = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow))
    (row,) = _rows(service, "flow_run", eq("id", run))
    assert row["labels"] == ["a", "b"]  # the group's labels win over its run config's
    assert row["parameters"] == {"n": 2} and row["run_config"]["type"] == "DockerRun"
    assert service.flow_groups.set_labels(group, None) is True  # removed: the run config's labels again
    again = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow))
    assert _rows(service, "flow_run", eq("id", again))[0]["labels"] == ["ignored"]
    assert _rows(service, "flow_group")[0]["description"] == "the f flow"
    assert service.flow_groups.set_labels(UNKNOWN, ["x"]) is False
    with pytest.raises(InvalidInput):
        service.flow_groups.set_default_parameters(group, ["not", "an", "object"])


def test_heartbeat_and_lazarus_switches_live_in_the_flow_group(store: RunStore) -> None:
    service, _, flow = _setup(store)
    assert service.flow_groups.set_flow_setting(flow, "heartbeat_enabled", False) is True
    assert service.flow_groups.set_flow_setting(flow, "lazarus_enabled", False) is True
    settings = _rows(service, "flow_group")[0]["settings"]
    assert settings["heartbeat_enabled"] is False and settings["lazarus_enabled"] is False
    assert settings["version_locking_enabled"] is False  # the others are kept
    assert service.flow_groups.set_flow_setting(UNKNOWN, "heartbeat_enabled", True) is False


def test_deleting_a_flow_group_takes_its_flows(store: RunStore) -> None:
    service, _, flow = _setup(store)
    _run_with_history(service, flow, "r")
    group = _rows(service, "flow")[0]["flow_group_id"]
    assert service.flow_groups.delete_flow_group(group) is True
    assert all(n == 0 for n in _count(service).values()) and _rows(service, "flow_group") == []
    assert service.flow_groups.delete_flow_group(group) is False


def test_relabelling_a_run_changes_which_agents_take_it(store: RunStore) -> None:
    service, tenant, flow = _setup(store)
    run = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, labels=["gpu"]))
    assert service.agents.runs_in_queue(tenant, LATER, ["docker"], ANONYMOUS) == []
    version = service.deps.queue_signal.version
    assert service.flow_runs.set_labels(run, ["docker", "docker"]) is True
    assert service.deps.queue_signal.version > version  # waiting agents look again
    assert service.agents.runs_in_queue(tenant, LATER, ["docker"], ANONYMOUS) == [run]
    assert _rows(service, "flow_run")[0]["labels"] == ["docker"]
    assert service.flow_runs.set_labels(UNKNOWN, ["x"]) is False


def test_run_count_counts_starts_and_auto_scheduled_defaults_false(store: RunStore) -> None:
    service, _, flow = _setup(store)
    run = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow))
    service.flow_runs.set_flow_run_states([(run, state_document("Running", "go"))], caller=ANONYMOUS)
    task_run = _rows(service, "task_run", eq("flow_run_id", run))[0]
    assert task_run["run_count"] == 0
    for state in ("Running", "Retrying", "Running", "Success"):
        service.task_runs.set_states([(task_run["id"], state_document(state, state))])
    assert _rows(service, "task_run", eq("id", task_run["id"]))[0]["run_count"] == 2
    assert _rows(service, "flow_run")[0]["auto_scheduled"] is False
