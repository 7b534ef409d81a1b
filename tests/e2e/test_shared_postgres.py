"""Two `dockyard server` processes on one PostgreSQL database serving agents together:
every run deployed once whichever server its agent polls, and an agent waiting on one
server woken by a run created on the other."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from dockyard.adapters.graphql_transport import GraphQLTransport
from dockyard.adapters.run_client import RunClient
from dockyard.domain.agent.labels import AGENT, FLOW_RUN_ID, MANAGED
from dockyard.entrypoints.cli_run import PROJECT, docker_run_config
from support.agent_process import AgentProcess, wait_until
from support.docker_events import recorded_events
from support.server_process import ServerProcess, running_server

pytestmark = pytest.mark.postgres

BUSYBOX = "dockyard-test/busybox:1"
RUNS = 300
FINAL = ("Success", "Failed", "Cancelled")
STATES = """
query($ids: [uuid!]) {
  flow_run(where: {id: {_in: $ids}}) { id state states { state } }
}"""
VERSION = "query($after: Int, $timeout: Float) { dockyard_queue_version(after: $after, timeout: $timeout) }"


@pytest.fixture
def two_servers(fresh_postgres: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with (
        running_server(fresh_postgres, log_dir=tmp_path, log_level="INFO") as one,
        running_server(fresh_postgres, log_dir=tmp_path, log_level="INFO") as two,
    ):
        yield one, two


def _client(server: ServerProcess) -> RunClient:
    return RunClient(GraphQLTransport(requests.Session(), server.url))


def _create_runs(server: ServerProcess, label: str, count: int, first: int) -> list[str]:
    client = _client(server)
    flow_id = client.ensure_flow(client.ensure_project(PROJECT), "shared")
    config = docker_run_config(
        image=BUSYBOX, command="echo deployed once", env=(), labels=[label], timeout=None, extra=None
    )
    return [
        client.create_flow_run(flow_id, name=f"run-{first + i}", labels=[label], run_config=config)
        for i in range(count)
    ]


def _runs(server: ServerProcess, ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 100):
        for run in server.data(STATES, {"ids": ids[start : start + 100]})["flow_run"]:
            found[run["id"]] = run
    return found


def test_two_servers_and_three_agents_deploy_each_of_300_runs_once(
    two_servers: tuple[ServerProcess, ServerProcess], agents: list[AgentProcess],
    docker_client: docker.DockerClient, tmp_path: Path, test_image: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    one, two = two_servers
    label = f"shared-{uuid.uuid4().hex[:8]}"
    placement = {"a": one, "b": two, "c": one}  # three agents, spread over the two servers
    fleet = {
        name: AgentProcess(
            server.url, log_dir=tmp_path, name=f"{label}-{name}", args=["--label", label, "--no-pull"]
        )
        for name, server in placement.items()
    }
    with recorded_events(
        docker_client, {"type": "container", "event": "create", "label": f"{MANAGED}=true"}
    ) as made:
        agents.extend(agent.start() for agent in fleet.values())
        for agent in fleet.values():
            wait_until(
                lambda a=agent: "Waiting for flow runs" in a.output(), timeout=60, what=f"{agent.name}"
            )
        began = time.monotonic()
        # half the runs created through each server
        ids = _create_runs(one, label, RUNS // 2, 0) + _create_runs(two, label, RUNS // 2, RUNS // 2)
        wait_until(
            lambda: sum(r["state"] in FINAL for r in _runs(two, ids).values()) == RUNS,
            timeout=900, interval=2.0, what=f"all {RUNS} runs to finish",
        )  # fmt: skip
        took = time.monotonic() - began
        for agent in fleet.values():
            wait_until(
                lambda a=agent: not a.containers(docker_client), timeout=120, what="containers removed"
            )

    ours = set(ids)
    creates = Counter(
        e["Actor"]["Attributes"][FLOW_RUN_ID]
        for e in made
        if e["Actor"]["Attributes"].get(FLOW_RUN_ID) in ours
    )
    by_agent = Counter(
        e["Actor"]["Attributes"][AGENT] for e in made if e["Actor"]["Attributes"].get(FLOW_RUN_ID) in ours
    )
    found = _runs(one, ids)
    submitted = Counter(sum(s["state"] == "Submitted" for s in run["states"]) for run in found.values())
    print(
        f"\n{RUNS} runs, 2 servers, 3 agents: {sum(creates.values())} container creates in {took:.0f}s; "
        f"per agent {dict(sorted(by_agent.items()))}; Submitted states per run {dict(submitted)}"
    )
    assert len(creates) == RUNS and set(creates.values()) == {1}, "each run deployed exactly once"
    assert submitted == {1: RUNS}, "one Submitted state per run"
    assert Counter(run["state"] for run in found.values()) == {"Success": RUNS}
    assert set(by_agent) == {agent.name for agent in fleet.values()}, "every agent, on both servers, served"
    assert all(agent.alive() for agent in fleet.values())


def test_an_agent_waiting_on_one_server_wakes_when_a_run_is_created_on_the_other(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    one, two = two_servers
    seen = one.data(VERSION)["dockyard_queue_version"]
    woke: list[tuple[int, float]] = []

    def long_poll() -> None:
        began = time.monotonic()
        version = one.data(VERSION, {"after": seen, "timeout": 30})["dockyard_queue_version"]
        woke.append((version, time.monotonic() - began))

    waiter = threading.Thread(target=long_poll)
    waiter.start()
    time.sleep(1.0)  # waiting on server one
    _create_runs(two, f"wake-{uuid.uuid4().hex[:6]}", 1, 0)
    waiter.join(30)
    assert woke, "the long poll did not answer"
    version, waited = woke[0]
    print(f"\nthe long poll on server one answered {waited:.2f}s after it began (run created at ~1s on two)")
    assert version != seen
    assert waited < 10, "woken by the other server's run, not by the poll's 30 s timeout"
