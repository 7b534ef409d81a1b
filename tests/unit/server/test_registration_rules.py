"""Tenants, projects, flows (versions, archiving, idempotency), tasks and edges, and how
a new run takes its labels, run config and parameters."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.server.errors import InvalidInput, NotFound, UniqueViolation
from dockyard.domain.server.filters import Order, Row, Select, eq
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.ports.run_store import RunStore
from support.stores import service_on, store

__all__ = ["store"]


def _flow(name: str = "f", **extra: Any) -> dict[str, Any]:
    return {"name": name, "__version__": "1.4.1", **extra}


def _setup(store: RunStore) -> tuple[ServerService, str]:
    service = service_on(store)
    tenant = service.tenancy.ensure_default_tenant()
    return service, service.tenancy.create_project(tenant, "p", None)


def _rows(service: ServerService, table: str, **where: Any) -> list[Row]:
    (column, value), *_ = where.items() if where else ((None, None),)
    query = Select(table, where=eq(column, value)) if column else Select(table)
    with service.reading() as session:
        return session.select(query)


def test_one_default_tenant_and_unique_names(store: RunStore) -> None:
    service = service_on(store)
    tenant = service.tenancy.ensure_default_tenant()
    assert service.tenancy.ensure_default_tenant() == tenant
    with pytest.raises(UniqueViolation, match=r"^Uniqueness violation\.$"):
        service.tenancy.create_tenant("again", "default")
    with pytest.raises(InvalidInput, match="slug"):
        service.tenancy.create_tenant("x", "Not A Slug")
    service.tenancy.create_project(tenant, "p", "desc")
    with pytest.raises(UniqueViolation, match=r"^Uniqueness violation\.$"):
        service.tenancy.create_project(tenant, "p", None)
    with pytest.raises(NotFound, match="Invalid tenant ID"):
        service.tenancy.create_project("00000000-0000-4000-8000-999999999999", "q", None)


def test_new_versions_archive_the_old_ones(store: RunStore) -> None:
    service, project = _setup(store)
    first = service.flows.create_flow(project, _flow(run_config={"labels": ["x"]}))
    second = service.flows.create_flow(project, _flow())
    other = service.flows.create_flow(project, _flow("g"))
    flows = {f["id"]: f for f in _rows(service, "flow")}
    assert (flows[first]["version"], flows[first]["archived"]) == (1, True)
    assert (flows[second]["version"], flows[second]["archived"]) == (2, False)
    assert (
        flows[first]["version_group_id"]
        == flows[second]["version_group_id"]
        != flows[other]["version_group_id"]
    )
    assert flows[second]["core_version"] == "1.4.1" and flows[second]["settings"] == {}
    (group,) = _rows(service, "flow_group", id=flows[second]["flow_group_id"])
    assert group["settings"]["heartbeat_enabled"] is True


def test_the_same_idempotency_key_returns_the_current_flow(store: RunStore) -> None:
    service, project = _setup(store)
    first = service.flows.create_flow(project, _flow(), idempotency_key="k1")
    assert service.flows.create_flow(project, _flow(), idempotency_key="k1") == first
    changed = service.flows.create_flow(project, _flow(), idempotency_key="k2")
    assert changed != first and len(_rows(service, "flow")) == 2


def test_tasks_and_edges_register_once_by_slug(store: RunStore) -> None:
    service, project = _setup(store)
    flow = service.flows.create_flow(project, _flow())
    tasks = [
        {"slug": "a-1", "name": "a", "tags": ["t"], "trigger": {"fn": "prefect.triggers.all_successful"}},
        {"slug": "b-1", "name": "b", "max_retries": 2},
    ]
    service.flows.register_tasks(flow, tasks)
    service.flows.register_tasks(flow, tasks[:1])
    edge = {"upstream_task": {"slug": "a-1"}, "downstream_task": {"slug": "b-1"}, "key": "x", "mapped": True}
    service.flows.register_edges(flow, [edge])
    service.flows.register_edges(flow, [edge])
    stored = {t["slug"]: t for t in _rows(service, "task", flow_id=flow)}
    assert sorted(stored) == ["a-1", "b-1"]
    assert stored["b-1"]["mapped"] and not stored["a-1"]["mapped"] and stored["b-1"]["max_retries"] == 2
    assert stored["a-1"]["trigger"] == "prefect.triggers.all_successful"
    assert len(_rows(service, "edge", flow_id=flow)) == 1
    (row,) = _rows(service, "flow", id=flow)
    assert [t["slug"] for t in row["serialized_flow"]["tasks"]] == ["a-1", "b-1"]
    with pytest.raises(InvalidInput, match="Edges could not be registered"):
        service.flows.register_edges(
            flow, [{"upstream_task": {"slug": "a-1"}, "downstream_task": {"slug": "zz"}}]
        )
    with pytest.raises(InvalidInput):
        service.flows.register_tasks(flow, [{"name": "no slug"}])


def test_bad_flows_are_refused(store: RunStore) -> None:
    service, project = _setup(store)
    with pytest.raises(InvalidInput):
        service.flows.create_flow(project, {"no": "name"})
    with pytest.raises(InvalidInput, match="too old"):
        service.flows.create_flow(project, {"name": "f", "__version__": "0.5.0"})
    with pytest.raises(NotFound):
        service.flows.create_flow("00000000-0000-4000-8000-999999999999", _flow())
    assert _rows(service, "flow") == []


def test_schedules_stay_inactive_without_a_schedule(store: RunStore) -> None:
    service, project = _setup(store)
    plain = service.flows.create_flow(project, _flow())
    scheduled = service.flows.create_flow(project, _flow("s", schedule={"type": "Schedule"}))
    service.flows.set_schedule_active(plain, True)
    assert _rows(service, "flow", id=plain)[0]["is_schedule_active"] is False
    assert _rows(service, "flow", id=scheduled)[0]["is_schedule_active"] is True
    service.flows.set_schedule_active(scheduled, False)
    assert _rows(service, "flow", id=scheduled)[0]["is_schedule_active"] is False


def test_run_labels_run_config_and_parameters_resolve_in_order(store: RunStore) -> None:
    service, project = _setup(store)
    flow = service.flows.create_flow(
        project,
        _flow(
            run_config={"type": "DockerRun", "labels": ["from-flow", "b"]},
            parameters=[
                {"name": "n", "default": 3},
                {"name": "zero", "default": 0},
                {"name": "x", "default": None},
            ],
        ),
    )
    from_flow = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow))
    explicit = service.flow_runs.create_flow_run(
        NewFlowRun(flow_id=flow, labels=["z", "a", "z"], parameters={"x": 1})
    )
    from_config = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, run_config={"labels": ["rc"]}))
    empty = service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, labels=[]))
    runs = {r["id"]: r for r in _rows(service, "flow_run")}
    assert runs[from_flow]["labels"] == ["b", "from-flow"]
    assert runs[from_flow]["run_config"] == {"type": "DockerRun", "labels": ["from-flow", "b"]}
    assert runs[from_flow]["parameters"] == {"n": 3}  # falsy defaults are not carried
    assert runs[explicit]["labels"] == ["a", "z"] and runs[explicit]["parameters"] == {"n": 3, "x": 1}
    assert runs[from_config]["labels"] == ["rc"] and runs[from_config]["run_config"] == {"labels": ["rc"]}
    assert runs[empty]["labels"] == []


def test_run_creation_rules(store: RunStore) -> None:
    service, project = _setup(store)
    flow = service.flows.create_flow(project, _flow(parameters=[{"name": "must", "required": True}]))
    with pytest.raises(InvalidInput, match="Required parameters were not supplied"):
        service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow))
    run = service.flow_runs.create_flow_run(
        NewFlowRun(flow_id=flow, parameters={"must": 1}, idempotency_key="k")
    )
    again = service.flow_runs.create_flow_run(
        NewFlowRun(flow_id=flow, parameters={"must": 2}, idempotency_key="k")
    )
    assert run == again and len(_rows(service, "flow_run")) == 1
    (row,) = _rows(service, "flow_run")
    group = _rows(service, "flow", id=flow)[0]["version_group_id"]
    by_group = service.flow_runs.create_flow_run(NewFlowRun(version_group_id=group, parameters={"must": 1}))
    assert _rows(service, "flow_run", id=by_group)[0]["flow_id"] == flow
    service.flows.create_flow(project, _flow(parameters=[]))  # archives the first version
    with pytest.raises(InvalidInput, match="is archived"):
        service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, parameters={"must": 1}))
    with pytest.raises(InvalidInput, match="flow_id or a version_group_id"):
        service.flow_runs.create_flow_run(NewFlowRun())
    assert row["name"] == "test-run" and row["context"] == {}


def test_deleting_a_project_removes_its_flows_and_runs(store: RunStore) -> None:
    service, project = _setup(store)
    keep = service.tenancy.create_project(None, "keep", None)
    flow = service.flows.create_flow(project, _flow(tasks=[{"slug": "a"}]))
    kept = service.flows.create_flow(keep, _flow("k", tasks=[{"slug": "a"}]))
    service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow))
    survivor = service.flow_runs.create_flow_run(NewFlowRun(flow_id=kept))
    service.tenancy.delete_project(project)
    assert [r["id"] for r in _rows(service, "flow_run")] == [survivor]
    assert [f["id"] for f in _rows(service, "flow")] == [kept]
    assert {t["flow_run_id"] for t in _rows(service, "task_run")} == {survivor}
    with service.reading() as session:
        states = session.select(Select("flow_run_state", order_by=(Order("version"),)))
    assert {s["flow_run_id"] for s in states} == {survivor}
