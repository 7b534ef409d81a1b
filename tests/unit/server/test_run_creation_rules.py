"""create_flow_run's checks and names: a DockerRun dockyard's agent would refuse is refused
when the run is created (other agents' run configs are stored as they come), generated run
names are unique within a tenant, and a run no live agent would take is logged once."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from dockyard.domain.server.context import Caller
from dockyard.domain.server.coverage import AGENT_SEEN_WITHIN, AgentSighting, live_agents, unserved
from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.filters import Select
from dockyard.domain.server.lookup import by_id
from dockyard.domain.server.names import NAME_ATTEMPTS, unique_run_name
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.ports.run_store import RunStore
from support.stores import START, FakeClock, service_on, store

__all__ = ["store"]


def _flow(service: ServerService) -> str:
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "p", None)
    return service.flows.create_flow(project, {"name": "f", "__version__": "1.4.1", "tasks": []})


def _create(service: ServerService, flow: str, **fields: Any) -> str:
    return service.flow_runs.create_flow_run(NewFlowRun(flow_id=flow, **fields))


# -- run configs ---------------------------------------------------------------------------

# As Prefect 1.4.1 serialises its run configs (RunConfigSchema), every field set.
PREFECT_RUN_CONFIGS = [
    {"type": "DockerRun", "__version__": "1.4.1", "image": "prefecthq/prefect:1.4.1", "env": {"A": "1"},
     "labels": ["docker"], "ports": [8080], "host_config": {"mem_limit": "1g"}},
    {"type": "DockerRun", "__version__": "1.4.1", "image": None, "env": None, "labels": [], "ports": None,
     "host_config": None},
    {"type": "LocalRun", "__version__": "1.4.1", "env": None, "labels": ["l"], "working_dir": "/srv"},
    {"type": "UniversalRun", "__version__": "1.4.1", "env": {"A": "1"}, "labels": []},
    {"type": "KubernetesRun", "__version__": "1.4.1", "env": None, "labels": [], "image": "Not A Docker Ref",
     "job_template_path": None, "job_template": None, "cpu_limit": "1", "cpu_request": None,
     "memory_limit": None, "memory_request": None, "service_account_name": None,
     "image_pull_secrets": None, "image_pull_policy": None},
    {"type": "ECSRun", "__version__": "1.4.1", "labels": [], "task_role_arn": "arn:x", "cpu": "256"},
    {"type": "DockerRun", "image": "busybox:1", "command": ["echo", "hi"], "timeout": 30},  # dockyard's keys
]  # fmt: skip


@pytest.mark.parametrize("config", PREFECT_RUN_CONFIGS, ids=lambda c: str(c["type"]))
def test_prefect_run_configs_are_stored_as_they_come(store: RunStore, config: dict[str, Any]) -> None:
    service = service_on(store)
    run_id = _create(service, _flow(service), run_config=config)
    with service.reading() as session:
        stored = by_id(session, "flow_run", run_id)
    assert stored is not None and stored["run_config"] == config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"type": "DockerRun", "image": "busybox:1", "imagee": "x", "cpu": 1},
            "run_config: DockerRun has unsupported keys: `cpu`, `imagee`; its keys are command, env, "
            "host_config, image, labels, placement, ports, timeout.",
        ),
        (
            {"type": "DockerRun", "image": "Busybox:1"},
            "run_config `image`: invalid image reference 'Busybox:1': repository name must be lowercase.",
        ),
        (
            {"type": "DockerRun", "image": "busybox:1", "env": {"A": None}},
            "env value of `A` must be a string",
        ),
        ({"type": "DockerRun", "command": ""}, "run_config `command` must not be empty."),
        ({"type": "DockerRun", "timeout": -1}, "run_config `timeout` must be a positive number of seconds."),
        ({"type": "DockerRun", "labels": "docker"}, "run_config.labels must be a list of strings."),
        (["DockerRun"], "run_config is not an object but a list."),
        ("DockerRun", "run_config is not an object but a string."),
    ],
)
def test_a_docker_run_the_agent_would_refuse_is_refused_at_once(
    store: RunStore, config: Any, message: str
) -> None:
    service = service_on(store)
    flow = _flow(service)
    with pytest.raises(InvalidInput) as refused:
        _create(service, flow, run_config=config)
    assert message in str(refused.value)
    with service.reading() as session:
        assert session.select(Select("flow_run")) == []  # nothing was created


# -- names ---------------------------------------------------------------------------------


def test_generated_names_are_unique_within_the_tenant(store: RunStore) -> None:
    service = service_on(store)  # its generator always says "test-run"
    flow = _flow(service)
    ids = [_create(service, flow) for _ in range(3)]
    given = _create(service, flow, name="test-run")  # a name given is kept, taken or not
    with service.reading() as session:
        names = [by_id(session, "flow_run", run_id)["name"] for run_id in [*ids, given]]  # type: ignore[index]
    assert names[0] == "test-run"
    assert names[1] == f"test-run-{ids[1][:8]}"
    assert names[2] == f"test-run-{ids[2]}"  # the short suffix was taken too (ids share a prefix)
    assert names[3] == "test-run" and len(set(names[:3])) == 3


def test_a_name_is_found_in_one_look_up_and_a_suffix_when_the_names_run_out() -> None:
    in_use = {"a", "b"}
    asked: list[list[str]] = []

    def taken(names: Sequence[str]) -> set[str]:
        asked.append(list(names))
        return in_use & set(names)

    names = itertools.cycle(["a", "b", "c"])
    assert unique_run_name(lambda: next(names), taken, "0123456789") == "c"
    assert asked == [["a", "b", "c"]]  # the draws, once each, in one look-up
    asked.clear()
    assert unique_run_name(lambda: "a", taken, "0123456789") == "a-01234567"
    assert asked == [["a"], ["a-01234567"]]
    in_use.add("a-01234567")  # a name someone gave a run
    assert unique_run_name(lambda: "a", taken, "0123456789") == "a-0123456789"
    draws = itertools.count()
    unique_run_name(lambda: f"n{next(draws)}", set, "0123456789")
    assert next(draws) == NAME_ATTEMPTS  # bounded


# -- runs no agent would take ----------------------------------------------------------------


def test_a_live_agent_is_one_seen_within_the_window() -> None:
    seen = AgentSighting(("a", "b"), START - AGENT_SEEN_WITHIN)
    stale = AgentSighting(("a", "b"), START - AGENT_SEEN_WITHIN - timedelta(seconds=1))
    never = AgentSighting(("a", "b"), None)
    assert live_agents([seen, stale, never], START) == [seen]
    assert not unserved("Scheduled", ["a"], [seen])
    assert unserved("Scheduled", ["a", "c"], [seen])
    assert not unserved("Running", ["a", "c"], [])  # taken already: no agent is needed now
    assert unserved("Retrying", [], [seen])  # an agent with labels never takes a run without


def test_a_run_no_live_agent_would_take_is_logged_once(
    store: RunStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    service = service_on(store, clock)
    flow = _flow(service)
    tenant = service.tenancy.ensure_default_tenant()
    caplog.set_level(logging.WARNING, logger="dockyard.server")

    lonely = _create(service, flow, labels=["gpu", "prod"])
    warnings = [r.getMessage() for r in caplog.records if "no agent" in r.getMessage()]
    assert warnings == [
        f"Flow run {lonely} (test-run) has labels ['gpu', 'prod'], which no agent seen in the last 120 s "
        "serves: it waits until one with these labels (or more) asks for work"
    ]

    agent = service.agents.register_agent(
        agent_type="DockerAgent", name="a", labels=["gpu", "prod", "x"], tenant_id=tenant,
        agent_config_id=None, caller=Caller(),
    )  # fmt: skip
    caplog.clear()
    _create(service, flow, labels=["prod"])
    assert not [r for r in caplog.records if "no agent" in r.getMessage()]

    clock.advance(AGENT_SEEN_WITHIN.total_seconds() + 1)  # the agent went quiet
    _create(service, flow, labels=["prod"])
    assert len([r for r in caplog.records if "no agent" in r.getMessage()]) == 1
    service.agents.runs_in_queue(tenant, None, ["gpu", "prod", "x"], Caller(agent_id=agent))  # it asks again
    caplog.clear()
    _create(service, flow, labels=["prod"])
    assert not [r for r in caplog.records if "no agent" in r.getMessage()]
