"""Swarm mode on a Swarm of several hosts: a manager and two workers, each a Docker Engine
in a container of its own (``support.dind_swarm``), with a real server and a real agent
started with --swarm against the manager. Runs land where their constraints say, spread
over the nodes otherwise, and their output reaches the backend from whichever node ran them.

Marked ``multinode``: scripts/test.sh leaves it out unless DOCKYARD_MULTINODE=1 (building
the Docker-in-Docker image takes about two minutes the first time):

    DOCKYARD_MULTINODE=1 bash scripts/test.sh tests/e2e/test_swarm_multinode.py
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from support.agent_process import AgentProcess, wait_until
from support.dind_swarm import DindSwarm, dind_swarm
from support.dockyard_cli import run_logs, wait_final
from support.server_process import ServerProcess
from support.supervision_runs import BUSYBOX, create, start_agent

pytestmark = pytest.mark.multinode


@pytest.fixture(scope="module")
def nodes(docker_client: docker.DockerClient, test_image: Callable[[str], str]) -> Iterator[DindSwarm]:
    with dind_swarm(docker_client, test_image("dind"), load=[test_image("busybox")]) as swarm:
        yield swarm


@pytest.fixture
def label() -> str:
    return f"mn-{uuid.uuid4().hex[:8]}"


def started_on(nodes: DindSwarm, agent: AgentProcess, since: int) -> Counter[str]:
    """How many of the agent's task containers each worker started (its own event log)."""
    counts: Counter[str] = Counter()
    for role, node in nodes.workers.items():
        client = node.client()
        try:
            events = client.events(
                since=since, until=int(time.time()) + 1, decode=True,
                filters={"type": "container", "event": "start", "label": agent.label},
            )  # fmt: skip
            counts[role] = len(list(events))
        finally:
            client.close()
    return counts


def swarm_agent(server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str,
                nodes: DindSwarm, *args: str) -> AgentProcess:  # fmt: skip
    return start_agent(
        server, agents, tmp_path, label, "--swarm", "--base-url", nodes.manager.base_url, *args
    )


def test_a_constrained_run_lands_on_the_chosen_node(
    server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str, nodes: DindSwarm,
) -> None:  # fmt: skip
    since = int(time.time()) - 1
    agent = swarm_agent(server, agents, tmp_path, label, nodes, "--constraint", "node.labels.role==a")
    runs = [create(server, label, f"echo constrained {index}") for index in range(3)]
    finals = [wait_final(server.url, run_id, timeout=120) for run_id in runs]
    assert [run["state"] for run in finals] == ["Success"] * 3, finals
    for index, run_id in enumerate(runs):
        assert f"constrained {index}" in run_logs(server.url, run_id), (
            "output reaches the backend from node a"
        )
    assert started_on(nodes, agent, since) == Counter({"a": 3, "b": 0})


def test_twenty_runs_spread_over_the_nodes(
    server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str, nodes: DindSwarm,
) -> None:  # fmt: skip
    since = int(time.time()) - 1
    agent = swarm_agent(server, agents, tmp_path, label, nodes)
    runs = [create(server, label, f"echo spread {index}; sleep 2") for index in range(20)]
    finals = [wait_final(server.url, run_id, timeout=240) for run_id in runs]
    assert [run["state"] for run in finals] == ["Success"] * 20, [run["state_message"] for run in finals]
    counts = started_on(nodes, agent, since)
    print(f"\n20 runs over the workers: {dict(counts)}")
    # Swarm places each run's one task on the node with the fewest tasks at that moment: both
    # take a share, not necessarily an even one (a node still pulling holds its tasks longer).
    assert sum(counts.values()) == 20 and min(counts.values()) >= 2, counts
    manager = nodes.manager.client()
    try:
        wait_until(lambda: not manager.services.list(filters={"label": agent.label}), timeout=60,
                   what="every service to be removed")  # fmt: skip
    finally:
        manager.close()


def test_an_oom_kill_on_another_node_is_its_exit_code(
    server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str, nodes: DindSwarm,
) -> None:  # fmt: skip
    swarm_agent(server, agents, tmp_path, label, nodes)
    oom = create(server, label, "head -c 67108864 /dev/zero | tail > /dev/null", "--run-config",
                 json.dumps({"host_config": {"mem_limit": "16m"}}), image=BUSYBOX)  # fmt: skip
    run = wait_final(server.url, oom, timeout=120)
    print(f"\nOOM on a worker: {run['state']}: {run['state_message'].splitlines()[0]}")
    assert run["state"] == "Failed" and "exited with code 137" in run["state_message"], run
    # Swarm reports exit code 137 only, and the agent cannot ask another node's Engine.
    assert "OOM" not in run["state_message"]
