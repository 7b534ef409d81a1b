"""`dockyard server` + `dockyard agent start` + a real Docker daemon, as real processes."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from support.agent_process import AgentProcess, wait_until
from support.docker_env import SESSION_LABELS
from support.dockyard_cli import dockyard_run
from support.prefect_client import prefect_env
from support.prefect_flows import docker_mapped_flow, register_and_run
from support.server_process import ServerProcess, running_server

DOCKYARD = Path(sys.executable).parent / "dockyard"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    # Also on docker0: flow containers reach the server through host.docker.internal.
    with running_server(tmp_path / "dockyard.db", docker_bridge=True) as running:
        yield running


def test_a_run_becomes_a_container_with_the_agents_env_labels_mounts_and_networks(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    test_image: Any,
) -> None:  # fmt: skip
    image = test_image("busybox")
    label = f"e2e-{uuid.uuid4().hex[:8]}"
    net1 = docker_client.networks.create(f"dy-e2e-a-{label}", labels=SESSION_LABELS)
    net2 = docker_client.networks.create(f"dy-e2e-b-{label}", labels=SESSION_LABELS)
    volume = f"dy-e2e-vol-{label}"
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("from the host\n")
    try:
        agent = AgentProcess(
            server.url,
            log_dir=tmp_path,
            args=["--label", label, "--no-pull", "--env", "AGENT_SETTING=a=b", "--volume", f"{data}:/data:ro",
                  "--volume", f"{volume}:/cache", "--network", net1.name, "--network", net2.name],
        ).start()  # fmt: skip
        agents.append(agent)
        created = dockyard_run(
            server.url, "create", "--image", image, "--label", label, "--name", "e2e-otter",
            "--env", "RUN_SETTING=yes", "--command", "cat /data/hello.txt; sleep 60",
        )  # fmt: skip
        run_id = created["id"]

        container = wait_until(lambda: (agent.containers(docker_client) or [None])[0], what="the container")
        wait_until(
            lambda: dockyard_run(server.url, "show", run_id)["state"] in ("Submitted", "Running"),
            what="claimed",
        )
        history = [s["state"] for s in dockyard_run(server.url, "show", run_id)["states"]]
        assert history[:2] == ["Scheduled", "Submitted"], history
        container.reload()
        attrs = container.attrs
        env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
        assert env["AGENT_SETTING"] == "a=b" and env["RUN_SETTING"] == "yes"
        assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == run_id
        assert env["PREFECT__BACKEND"] == "server"
        assert env["PREFECT__CLOUD__API"] == f"http://host.docker.internal:{server.port}"
        labels = attrs["Config"]["Labels"]
        assert labels["io.prefect.flow-run-id"] == run_id
        assert labels["org.dockyard.agent"] == agent.name
        assert attrs["Name"] == "/e2e-otter"
        assert attrs["Config"]["Cmd"] == ["/bin/sh", "-c", "cat /data/hello.txt; sleep 60"]
        mounts = {m["Destination"]: m for m in attrs["Mounts"]}
        assert mounts["/data"]["Source"] == str(data) and mounts["/data"]["RW"] is False
        assert mounts["/cache"]["Type"] == "volume" and mounts["/cache"]["Name"] == volume
        assert set(attrs["NetworkSettings"]["Networks"]) == {net1.name, net2.name}
        assert "host.docker.internal:host-gateway" in attrs["HostConfig"]["ExtraHosts"]
        wait_until(lambda: "from the host" in container.logs().decode(), what="the bind mount to be read")
    finally:
        for agent in agents:
            agent.cleanup(docker_client)
        net1.remove()
        net2.remove()
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(volume).remove(force=True)


def test_a_real_prefect_flow_runs_to_success_in_the_prefect_image(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    test_image: Any,
) -> None:  # fmt: skip
    test_image("prefect")
    label = f"e2e-{uuid.uuid4().hex[:8]}"
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "flow.py").write_text(docker_mapped_flow("e2e-flow", label=label))
    env = prefect_env(server.url, tmp_path / "home")
    ids = register_and_run(flows / "flow.py", env, project="e2e", parameters={"n": 4})

    agent = AgentProcess(
        server.url, log_dir=tmp_path, args=["--label", label, "--no-pull", "--volume", f"{flows}:/flows:ro"]
    )
    agents.append(agent.start())
    deadline = time.monotonic() + 120
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = dockyard_run(server.url, "show", ids["run_id"])
        if run["state"] in ("Success", "Failed", "Cancelled"):
            break
        time.sleep(0.5)
    logs = subprocess.run([str(DOCKYARD), "run", "logs", ids["run_id"], "--api", server.url],
                          capture_output=True, text=True).stdout  # fmt: skip
    assert run.get("state") == "Success", f"{run}\nagent:\n{agent.output()[-3000:]}\nlogs:\n{logs}"
    states = [s["state"] for s in run["states"]]
    assert states[:3] == ["Scheduled", "Submitted", "Running"] and states[-1] == "Success"
    assert "the total is 10" in logs, logs
    wait_until(lambda: not agent.containers(docker_client), what="the container to be removed")
