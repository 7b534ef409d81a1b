"""The backend's API key end to end: `dockyard server start --api-key K`, `dockyard agent
start --key K`, and a real Prefect 1.4.1 flow whose runner can only report Success if the
key reached its container (the server refuses every request without it).

Where the key must not appear: container labels, the agent's log, run logs, Failed
messages (a container that prints the key included: the agent redacts what it passes on),
the server's log, and `dockyard agent plan` output. It is in the flow container's
environment by design: the flow runner authenticates with it (Prefect 1's contract), so
`docker inspect` on the daemon shows it to whoever may use the daemon anyway.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from support.agent_process import DOCKYARD, AgentProcess
from support.prefect_client import prefect_env
from support.prefect_flows import docker_greeting_flow, register_and_run
from support.server_process import ServerProcess, running_server

KEY = f"dyk-{uuid.uuid4().hex}"
FINAL = ("Success", "Failed", "Cancelled")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    # On docker0 too: the flow runner reaches the server as host.docker.internal.
    with running_server(tmp_path / "dockyard.db", docker_bridge=True, api_key=KEY) as running:
        yield running


def dockyard_run(server: ServerProcess, *args: str) -> str:
    """``dockyard run <args>`` with the key from the environment (never on a command line)."""
    env = {**os.environ, "DOCKYARD_API_KEY": KEY, "DOCKYARD_API": server.url}
    done = subprocess.run([str(DOCKYARD), "run", *args], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_final(server: ServerProcess, run_id: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = json.loads(dockyard_run(server, "show", run_id, "--json"))
        if run["state"] in FINAL:
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} not final within {timeout}s: {run.get('state')}")


def test_the_api_key_reaches_the_flow_runner_and_nowhere_it_should_not(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient,
    tmp_path: Path, test_image: Any,
) -> None:  # fmt: skip
    test_image("prefect")
    busybox = test_image("busybox")
    refused_without_key = requests.post(server.url, json={"query": "{ hello }"}, timeout=10)
    assert refused_without_key.status_code == 401 or "errors" in refused_without_key.json()

    label = f"secret-{uuid.uuid4().hex[:8]}"
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "flow.py").write_text(
        docker_greeting_flow("secret-flow", label=label, message="authenticated flow ran")
    )
    prefect = {**prefect_env(server.url, tmp_path / "home"), "PREFECT__CLOUD__API_KEY": KEY}
    flow_run = register_and_run(flows / "flow.py", prefect, project="secrets")

    agent = AgentProcess(
        server.url, log_dir=tmp_path,
        args=["--key", KEY, "--label", label, "--no-pull", "--volume", f"{flows}:/flows:ro",
              "--keep-containers", "--show-flow-logs", "--log-level", "DEBUG"],
    )  # fmt: skip
    agents.append(agent.start())

    prints_key = dockyard_run(
        server, "create", "--image", busybox, "--label", label, "--json",
        "--command", 'echo "the key is $PREFECT__CLOUD__API_KEY"; exit 3',
    )  # fmt: skip
    refused = dockyard_run(
        server, "create", "--image", busybox, "--label", label, "--json",
        "--run-config", json.dumps({"host_config": {"privileged": True}}),
    )  # fmt: skip
    flow = wait_final(server, flow_run["run_id"])
    printed = wait_final(server, json.loads(prints_key)["id"])
    denied = wait_final(server, json.loads(refused)["id"])
    logs = {run["id"]: dockyard_run(server, "logs", run["id"]) for run in (flow, printed, denied)}

    assert flow["state"] == "Success", f"{flow}\n{logs[flow['id']]}\n{agent.output()[-3000:]}"
    assert "authenticated flow ran" in logs[flow["id"]]  # the runner's own logs, sent with the key
    assert printed["state"] == "Failed" and "the key is <redacted>" in printed["state_message"]
    assert "the key is <redacted>" in logs[printed["id"]]
    assert denied["state"] == "Failed" and "--allow-privileged" in denied["state_message"]

    kept = agent.containers(docker_client)
    assert len(kept) == 2  # the flow's and the printing run's; none for the refused run
    for container in kept:
        assert KEY not in json.dumps(container.labels)
        assert f"PREFECT__CLOUD__API_KEY={KEY}" in container.attrs["Config"]["Env"]
    for run in (flow, printed, denied):
        assert KEY not in json.dumps(run), run["id"]
        assert KEY not in logs[run["id"]]
    assert "the key is <redacted>" in agent.output()  # --show-flow-logs, redacted
    assert KEY not in agent.output()
    assert KEY not in server.log()

    plan = subprocess.run(
        [str(DOCKYARD), "agent", "plan", "--key", KEY, "--image", busybox],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    env = dict(item.split("=", 1) for item in json.loads(plan.stdout)["container"]["Env"])
    assert env["PREFECT__CLOUD__API_KEY"] == env["PREFECT__CLOUD__AUTH_TOKEN"] == "<redacted>"
    assert KEY not in plan.stdout + plan.stderr
