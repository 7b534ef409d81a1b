"""One run never runs twice, restarts lose nothing, health tells the truth: real server,
real agent processes, real daemon."""

from __future__ import annotations

import signal
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
from dockyard.domain.agent.labels import INSTANCE
from dockyard.domain.agent.polling import BACKOFF
from dockyard.entrypoints.cli_run import PROJECT, docker_run_config
from support.agent_process import AgentProcess, wait_until
from support.docker_events import recorded_events
from support.dockyard_cli import dockyard_run, run_logs, wait_final
from support.server_process import ServerProcess, free_port, start_server

BUSYBOX = "dockyard-test/busybox:1"
FINAL = ("Success", "Failed", "Cancelled")
RUNS = """
query($ids: [uuid!]) {
  flow_run(where: {id: {_in: $ids}}) {
    id state
    states(order_by: [{version: asc}]) { state }
    logs(order_by: [{timestamp: asc}]) { name message }
  }
}"""


@pytest.fixture
def label() -> str:
    return f"inst-{uuid.uuid4().hex[:8]}"


def agent_on(server: ServerProcess, tmp_path: Path, label: str, *args: str, name: str | None = None,
             lock_dir: Path | None = None) -> AgentProcess:  # fmt: skip
    return AgentProcess(
        server.url, log_dir=tmp_path, name=name, lock_dir=lock_dir,
        args=["--label", label, "--no-pull", *args],
    )  # fmt: skip


def waiting_for_runs(agent: AgentProcess) -> bool:
    return "Waiting for flow runs" in agent.output()


def create_runs(server: ServerProcess, label: str, commands: list[str]) -> list[str]:
    client = RunClient(GraphQLTransport(requests.Session(), server.url))
    flow_id = client.ensure_flow(client.ensure_project(PROJECT), "instances")
    return [
        client.create_flow_run(flow_id, name=None, labels=[label], run_config=run_config(label, command))
        for command in commands
    ]


def run_config(label: str, command: str) -> dict[str, Any]:
    return docker_run_config(image=BUSYBOX, command=command, env=(), labels=[label], timeout=None, extra=None)


def runs(server: ServerProcess, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {run["id"]: run for run in server.data(RUNS, {"ids": ids})["flow_run"]}


def container_lines(run: dict[str, Any]) -> list[str]:
    return [entry["message"] for entry in run["logs"] if entry["name"] == "container"]


def test_a_second_agent_with_a_live_name_is_refused_at_start_naming_the_first(
    server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str
) -> None:
    first = agent_on(server, tmp_path, label)
    agents.append(first.start())
    wait_until(lambda: waiting_for_runs(first), timeout=60, what="the first agent to serve")

    second = agent_on(server, tmp_path, label, name=first.name)
    agents.append(second.start())
    assert second.proc is not None
    code = second.proc.wait(timeout=60)
    message = second.output()
    print(f"\nsecond agent exited {code}: {message.strip().splitlines()[-1]}")
    assert code != 0
    assert f"another agent named '{first.name}' is already running on this host" in message
    assert first.proc is not None and f"pid {first.proc.pid}" in message
    assert "give each agent its own --name" in message
    assert first.alive(), "the first agent is not disturbed"


def test_same_named_agents_on_two_hosts_run_each_of_50_runs_once(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, test_image: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    pair = [
        agent_on(server, tmp_path, label, name=f"twin-{label}", lock_dir=tmp_path / host)
        for host in ("host-a", "host-b")
    ]
    with recorded_events(
        docker_client, {"type": "container", "event": "create", "label": pair[0].label}
    ) as made:
        agents.extend(agent.start() for agent in pair)
        for agent in pair:
            wait_until(lambda agent=agent: waiting_for_runs(agent), timeout=60, what=f"{agent.name} to serve")
        ids = create_runs(server, label, [f"echo output-of-run-{i}" for i in range(50)])
        wait_until(
            lambda: all(run["state"] in FINAL for run in runs(server, ids).values()),
            timeout=240, interval=1.0, what="every run to finish",
        )  # fmt: skip
        wait_until(lambda: not pair[0].containers(docker_client), what="every container to be removed")

    found = runs(server, ids)
    split = sorted(Counter(event["Actor"]["Attributes"].get(INSTANCE) for event in made).values())
    print(f"\n{len(made)} container creates for {len(ids)} runs; per agent process: {split}")
    assert len(made) == 50
    assert [found[i]["state"] for i in ids] == ["Success"] * 50
    for i, run_id in enumerate(ids):
        assert container_lines(found[run_id]) == [f"output-of-run-{i}"], found[run_id]["logs"]
        states = [state["state"] for state in found[run_id]["states"]]
        assert states.count("Running") == 1 and states.count("Submitted") == 1, states
    assert all(agent.alive() for agent in pair)


def test_output_written_while_the_agent_is_down_reaches_the_run_logs(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, test_image: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    first = agent_on(server, tmp_path, label)
    agents.append(first.start())
    (run_id,) = create_runs(server, label, ["echo a; sleep 6; echo b"])

    def shipped() -> list[str]:
        return container_lines(runs(server, [run_id])[run_id])

    wait_until(lambda: "a" in shipped(), timeout=60, what="line a shipped")

    assert first.stop(signal.SIGINT) == 0, first.output()[-2000:]
    container = wait_until(lambda: (first.containers(docker_client) or [None])[0], what="the container")
    wait_until(lambda: container.reload() or container.status == "exited", timeout=30, what="the exit")
    assert shipped() == ["a"], "b came while no agent ran"

    second = agent_on(server, tmp_path, label, name=first.name)
    agents.append(second.start())
    run = wait_final(server.url, run_id)
    lines = shipped()
    print(f"\nrun logs after the restart: {lines}")
    assert run["state"] == "Success"
    assert lines == ["a", "b"]
    assert "b" in run_logs(server.url, run_id)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Servers a test starts (and kills, and starts again); all stopped at the end."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def test_health_says_503_within_three_poll_intervals_of_a_backend_kill_and_200_once_it_is_back(
    own_server: list[ServerProcess], agents: list[AgentProcess], tmp_path: Path, label: str, test_image: Any
) -> None:
    test_image("busybox")
    db = tmp_path / "dockyard.db"
    server = start_server(db)
    own_server.append(server)
    address = f"127.0.0.1:{free_port()}"
    agent = agent_on(server, tmp_path, label, "--agent-address", address)
    agents.append(agent.start())
    health = f"http://{address}/api/health"
    wait_until(lambda: _status(health) == 200, timeout=60, what="healthy")
    # Idle long enough for the poll backoff to reach its longest wait.
    time.sleep(sum(BACKOFF[:-1]) + 1)
    assert _status(health) == 200

    server.process.kill()
    server.process.wait(timeout=10)
    killed = time.monotonic()
    wait_until(lambda: _status(health) == 503, timeout=3 * BACKOFF[-1], interval=0.2, what="503")
    to_503 = time.monotonic() - killed
    body = requests.get(health, timeout=5).json()
    print(f"\n503 after {to_503:.1f}s: {body}")
    assert any(server.url in reason for reason in body["reasons"]), body
    assert agent.alive()

    back = start_server(db, port=server.port)
    own_server.append(back)
    restarted = time.monotonic()
    wait_until(lambda: _status(health) == 200, timeout=3 * BACKOFF[-1], interval=0.2, what="200 again")
    print(f"200 again {time.monotonic() - restarted:.1f}s after the server came back")
    (run_id,) = create_runs(back, label, ["echo still serving"])
    assert wait_final(back.url, run_id)["state"] == "Success"
    assert dockyard_run(back.url, "show", run_id)["state"] == "Success"


def _status(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0
