"""get_runs_in_queue: due runs, label matching, ordering and the 25-run cap."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.server.context import Caller
from dockyard.domain.server.errors import NotFound
from dockyard.domain.server.filters import Select, eq
from dockyard.domain.server.queue import serves
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.timestamps import canonical
from dockyard.ports.run_store import RunStore
from support.stores import START, FakeClock, service_on, store

__all__ = ["store"]
NOW = canonical(START)
LATER = "2026-03-01T13:00:00+00:00"


def _setup(store: RunStore) -> tuple[ServerService, str, str]:
    service = service_on(store, FakeClock())
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "p", None)
    flow = service.flows.create_flow(
        project, {"name": "f", "__version__": "1.4.1", "tasks": [{"slug": "t-1"}]}
    )
    return service, tenant, flow


def _run(service: ServerService, flow: str, labels: list[str], start: str | None = None) -> str:
    return service.flow_runs.create_flow_run(
        NewFlowRun(flow_id=flow, labels=labels, scheduled_start_time=start)
    )


@pytest.mark.parametrize(
    ("run_labels", "agent_labels", "returned"),
    [
        ([], [], True),
        ([], ["foo"], False),
        (["foo", "bar"], ["foo", "bar"], True),
        (["foo", "bar"], ["foo", "bar", "chris"], True),
        (["foo", "bar"], ["foo", "staging"], False),
        (["foo", "bar"], ["dev"], False),
        (["foo"], [], False),
    ],
)
def test_label_matrix(
    store: RunStore, run_labels: list[str], agent_labels: list[str], returned: bool
) -> None:
    service, tenant, flow = _setup(store)
    run = _run(service, flow, run_labels)
    assert (service.agents.runs_in_queue(tenant, LATER, agent_labels, Caller()) == [run]) is returned
    # The same rule for one pair, as the "no agent" warning applies it.
    assert serves(agent_labels, run_labels) is returned


def test_only_runs_due_before_the_cutoff_oldest_first(store: RunStore) -> None:
    service, tenant, flow = _setup(store)
    late = _run(service, flow, ["a"], "2026-03-01T12:30:00+00:00")
    early = _run(service, flow, ["a"], "2026-03-01T11:00:00Z")
    offset = _run(service, flow, ["a"], "2026-03-01T13:05:00+02:00")  # 11:05 UTC: compare instants
    future = _run(service, flow, ["a"], "2026-03-01T14:00:00+00:00")
    assert service.agents.runs_in_queue(tenant, "2026-03-01T12:30:00+00:00", ["a"], Caller()) == [
        early,
        offset,
        late,
    ]
    assert future not in service.agents.runs_in_queue(tenant, LATER, ["a"], Caller())


def test_runs_leave_the_queue_when_submitted_and_come_back_when_retried(store: RunStore) -> None:
    service, tenant, flow = _setup(store)
    run = _run(service, flow, [])
    service.flow_runs.set_flow_run_states([(run, {"type": "Submitted"})], Caller())
    assert service.agents.runs_in_queue(tenant, LATER, [], Caller()) == []
    service.flow_runs.set_flow_run_states([(run, {"type": "Running"})], Caller())
    assert service.agents.runs_in_queue(tenant, LATER, [], Caller()) == []
    # A Running run whose task run waits for a retry is served again (the retry path).
    with service.reading() as session:
        (task_run,) = session.select(Select("task_run", where=eq("flow_run_id", run)))
    retry = {"type": "Retrying", "start_time": "2026-03-01T12:10:00+00:00"}
    service.task_runs.set_states([(task_run["id"], retry)])
    assert service.agents.runs_in_queue(tenant, "2026-03-01T12:05:00+00:00", [], Caller()) == []
    assert service.agents.runs_in_queue(tenant, LATER, [], Caller()) == [run]


def test_paused_runs_without_a_start_time_are_never_served(store: RunStore) -> None:
    service, tenant, flow = _setup(store)
    run = _run(service, flow, [])
    service.flow_runs.set_flow_run_states([(run, {"type": "Paused"})], Caller())
    assert service.agents.runs_in_queue(tenant, LATER, [], Caller()) == []


def test_at_most_25_runs_and_other_agents_runs_do_not_starve_the_queue(store: RunStore) -> None:
    service, tenant, flow = _setup(store)
    for _ in range(80):  # older runs for another agent fill more than Prefect's 75-row window
        _run(service, flow, ["other"], "2026-03-01T10:00:00+00:00")
    mine = [_run(service, flow, ["mine"], "2026-03-01T11:00:00+00:00") for _ in range(30)]
    served = service.agents.runs_in_queue(tenant, LATER, ["mine"], Caller())
    assert len(served) == 25 and set(served) <= set(mine)


def test_the_queue_bumps_the_calling_agents_last_queried(store: RunStore) -> None:
    clock = FakeClock()
    service = service_on(store, clock)
    tenant = service.tenancy.ensure_default_tenant()
    agent = service.agents.register_agent(
        agent_type="DockerAgent",
        name="a",
        labels=["x"],
        tenant_id=None,
        agent_config_id=None,
        caller=Caller(),
    )
    clock.advance(60)
    service.agents.runs_in_queue(tenant, None, ["x"], Caller(agent_id=agent))
    with service.reading() as session:
        (row,) = session.select(Select("agent", where=eq("id", agent)))
    assert row["last_queried"] > canonical(START.replace(minute=1))


def test_unknown_tenant_is_refused(store: RunStore) -> None:
    service, _, _ = _setup(store)
    with pytest.raises(NotFound, match="Invalid tenant ID"):
        service.agents.runs_in_queue("00000000-0000-4000-8000-999999999999", None, [], Caller())


def test_registering_the_same_agent_twice_returns_one_id(store: RunStore) -> None:
    service, tenant, _ = _setup(store)
    register: dict[str, Any] = {
        "agent_type": "LocalAgent",
        "name": "n",
        "tenant_id": tenant,
        "agent_config_id": None,
    }
    first = service.agents.register_agent(labels=["b", "a"], caller=Caller(core_version="1.4.1"), **register)
    again = service.agents.register_agent(labels=["a", "b"], caller=Caller(core_version="1.4.1"), **register)
    other = service.agents.register_agent(labels=["a"], caller=Caller(core_version="1.4.1"), **register)
    assert first == again != other
