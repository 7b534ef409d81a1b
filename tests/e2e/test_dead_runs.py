"""A Prefect 1.4.1 flow whose container is killed (`docker kill`) or frozen (`docker pause`)
mid-task never stays Running: the task run ends Failed and the flow run reaches a final
state, with dockyard's agent and with Prefect's own DockerAgent. The server runs with a
10 s heartbeat threshold and the flow sends heartbeats every 2 s
(PREFECT__CLOUD__HEARTBEAT_INTERVAL).

With dockyard's agent, a killed container is settled at once (its running task run with
it); a frozen one goes silent, the zombie killer fails its task run, Lazarus reschedules
the flow run, the agent stops the frozen container and deploys the run again, and the
flow runner ends it Failed. With Prefect's agent, which does not watch containers, the
zombie killer and Lazarus do it all.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from support.agent_process import AgentProcess, wait_until
from support.dockyard_cli import dockyard_run, wait_final
from support.prefect_client import PREFECT_CLI, prefect_env, run_python
from support.server_process import ServerProcess, running_server

FLOW_SOURCE = """
import time

from prefect import Flow, task
from prefect.run_configs import DockerRun
from prefect.storage import Local


@task
def long_work():
    time.sleep(600)


@task
def afterwards(x):
    return x


run_config = DockerRun(image="dockyard-test/prefect:1.4.1", labels=["{label}"],
                       env={"PREFECT__CLOUD__HEARTBEAT_INTERVAL": "2"})
with Flow("{name}", storage=Local(path="/flows/flow.py", stored_as_script=True, add_default_labels=False),
          run_config=run_config) as flow:
    afterwards(long_work())
"""

REGISTER_AND_RUN = """
import importlib.util, json, sys
from prefect import Client
spec = importlib.util.spec_from_file_location("dead_flow", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
client = Client()
client.create_project("dead")
flow_id = module.flow.register(project_name="dead", no_url=True)
print(json.dumps({"run_id": client.create_flow_run(flow_id=flow_id)}))
"""

RUN = """
query($id: uuid!) {
  flow_run_by_pk(id: $id) {
    state state_message
    task_runs { state state_message task { slug } }
    states(order_by: {version: asc}) { state message }
  }
}"""

FINAL = ("Success", "Failed", "Cancelled")
THRESHOLDS = ["--zombie-threshold", "10", "--lazarus-threshold", "10"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "dockyard.db", docker_bridge=True, extra_args=THRESHOLDS) as running:
        yield running


@pytest.fixture
def flow_run(server: ServerProcess, tmp_path: Path, test_image: Any) -> tuple[str, str, Path]:
    """(run id, label, flows directory) of a registered flow's new run."""
    test_image("prefect")
    label = f"dead-{uuid.uuid4().hex[:8]}"
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "flow.py").write_text(FLOW_SOURCE.replace("{name}", "dead-flow").replace("{label}", label))
    env = prefect_env(server.url, tmp_path / "home")
    out = run_python(REGISTER_AND_RUN, env, str(flows / "flow.py"))
    return str(json.loads(out.strip().splitlines()[-1])["run_id"]), label, flows


@pytest.fixture
def prefect_containers(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Run ids whose containers (made by Prefect's agent, without our labels) are removed."""
    run_ids: list[str] = []
    yield run_ids
    for run_id in run_ids:
        found = docker_client.containers.list(all=True, filters={"label": f"io.prefect.flow-run-id={run_id}"})
        for container in found:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


@contextlib.contextmanager
def prefect_docker_agent(server: ServerProcess, tmp_path: Path, label: str, flows: Path) -> Iterator[Path]:
    """`prefect agent docker start` against the server. Prefect's agent hands its flow
    containers http://host.docker.internal:<server.port> for a localhost API."""
    home = tmp_path / "agent-home"
    env = {
        **prefect_env(f"http://localhost:{server.port}", home),
        "PREFECT__SERVER__PORT": str(server.port),
    }
    log = tmp_path / "prefect-agent.log"
    args = [str(PREFECT_CLI), "agent", "docker", "start", "--label", label, "--no-pull",
            "--name", f"dead-{label}", "--volume", f"{flows}:/flows:ro"]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _run(server: ServerProcess, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = server.data(RUN, {"id": run_id})["flow_run_by_pk"]
    return run


def _task(run: dict[str, Any], slug: str = "long_work-1") -> dict[str, Any]:
    return next(t for t in run["task_runs"] if t["task"]["slug"] == slug)


def _container_at_work(server: ServerProcess, client: docker.DockerClient, run_id: str) -> Any:
    wait_until(
        lambda: _task(_run(server, run_id))["state"] == "Running",
        timeout=120, interval=0.5, what="the long task to be running",
    )  # fmt: skip
    found = client.containers.list(filters={"label": f"io.prefect.flow-run-id={run_id}"})
    assert len(found) == 1, found
    return found[0]


def _final(server: ServerProcess, run_id: str, why: Callable[[], str]) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        run = _run(server, run_id)
        return run if run["state"] in FINAL else None

    try:
        return dict(wait_until(final, timeout=180, interval=1.0, what="a final state"))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_run(server, run_id)}\n{why()}") from None


def _dockyard_agent(server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str,
                    flows: Path) -> AgentProcess:  # fmt: skip
    args = ["--label", label, "--no-pull", "--volume", f"{flows}:/flows:ro", "--cancel-grace", "2"]
    agent = AgentProcess(server.url, log_dir=tmp_path, args=args)
    agents.append(agent.start())
    return agent


def test_docker_kill_with_dockyards_agent(
    server: ServerProcess, flow_run: tuple[str, str, Path], agents: list[AgentProcess],
    docker_client: docker.DockerClient, tmp_path: Path,
) -> None:  # fmt: skip
    run_id, label, flows = flow_run
    agent = _dockyard_agent(server, agents, tmp_path, label, flows)
    _container_at_work(server, docker_client, run_id).kill()

    run = _final(server, run_id, agent.output)

    assert run["state"] == "Failed" and "exited with code 137" in run["state_message"], run
    task = _task(run)
    assert task["state"] == "Failed" and task["state_message"] == run["state_message"], task


def test_docker_pause_with_dockyards_agent(
    server: ServerProcess, flow_run: tuple[str, str, Path], agents: list[AgentProcess],
    docker_client: docker.DockerClient, tmp_path: Path,
) -> None:  # fmt: skip
    run_id, label, flows = flow_run
    agent = _dockyard_agent(server, agents, tmp_path, label, flows)
    frozen = _container_at_work(server, docker_client, run_id)
    frozen.pause()
    try:
        run = _final(server, run_id, agent.output)
    finally:
        with contextlib.suppress(docker.errors.APIError):
            frozen.reload()
            if frozen.status == "paused":
                frozen.unpause()

    assert run["state"] == "Failed", run
    task = _task(run)
    assert task["state"] == "Failed" and "No heartbeat detected" in task["state_message"], task
    messages = [s["message"] for s in run["states"]]
    assert "Rescheduled by a Lazarus process." in messages, messages
    with pytest.raises(docker.errors.NotFound):
        frozen.reload()  # the agent stopped and removed the frozen container


def test_docker_kill_with_prefects_docker_agent(
    server: ServerProcess, flow_run: tuple[str, str, Path], prefect_containers: list[str],
    docker_client: docker.DockerClient, tmp_path: Path,
) -> None:  # fmt: skip
    run_id, label, flows = flow_run
    prefect_containers.append(run_id)
    with prefect_docker_agent(server, tmp_path, label, flows) as log:
        _container_at_work(server, docker_client, run_id).kill()
        run = _final(server, run_id, lambda: log.read_text(errors="replace")[-3000:])

    assert run["state"] == "Failed", run
    task = _task(run)
    assert task["state"] == "Failed" and "No heartbeat detected" in task["state_message"], task
    assert "Rescheduled by a Lazarus process." in [s["message"] for s in run["states"]]


def test_docker_pause_with_prefects_docker_agent(
    server: ServerProcess, flow_run: tuple[str, str, Path], prefect_containers: list[str],
    docker_client: docker.DockerClient, tmp_path: Path,
) -> None:  # fmt: skip
    run_id, label, flows = flow_run
    prefect_containers.append(run_id)
    with prefect_docker_agent(server, tmp_path, label, flows) as log:
        _container_at_work(server, docker_client, run_id).pause()
        run = _final(server, run_id, lambda: log.read_text(errors="replace")[-3000:])

    assert run["state"] == "Failed", run
    task = _task(run)
    assert task["state"] == "Failed" and "No heartbeat detected" in task["state_message"], task
    assert "Rescheduled by a Lazarus process." in [s["message"] for s in run["states"]]


def test_a_long_command_run_is_kept_alive_by_the_agents_heartbeats(
    agents: list[AgentProcess], tmp_path: Path, test_image: Any
) -> None:
    """A run with a plain command has no flow runner to send heartbeats; the agent sends
    them (every 30 s), so Lazarus (here after 45 s of silence) never takes it for dead."""
    image = test_image("busybox")
    label = f"alive-{uuid.uuid4().hex[:8]}"
    with running_server(tmp_path / "alive.db", extra_args=["--lazarus-threshold", "45"]) as server:
        agents.append(
            AgentProcess(server.url, log_dir=tmp_path, args=["--label", label, "--no-pull"]).start()
        )
        created = dockyard_run(
            server.url, "create", "--image", image, "--label", label, "--command", "sleep 60; echo done"
        )
        run = wait_final(server.url, str(created["id"]), timeout=150)

    assert [s["state"] for s in run["states"]] == ["Scheduled", "Submitted", "Running", "Success"], run
