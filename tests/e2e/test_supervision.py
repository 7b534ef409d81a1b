"""Every run reaches its true final state: real server, real agent processes, real daemon."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from support.agent_process import AgentProcess, wait_until
from support.docker_events import recorded_events
from support.dockyard_cli import dockyard_run, run_logs, wait_final
from support.second_daemon import second_daemon
from support.server_process import ServerProcess, free_port
from support.supervision_runs import BUSYBOX, create, start_agent, states
from support.tls_daemon import dockerd_missing


@pytest.fixture
def label() -> str:
    return f"sv-{uuid.uuid4().hex[:8]}"


def test_exit_codes_and_oom_become_final_states(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, test_image: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    agent = start_agent(server, agents, tmp_path, label)
    ok = create(server, label, "echo all good")
    bad = create(server, label, "echo about to fail; exit 3")
    # 64 MB into a 16 MB container with no swap: the kernel's OOM killer ends it.
    oom = create(
        server, label, "head -c 67108864 /dev/zero | tail > /dev/null",
        "--run-config", json.dumps({"host_config": {"mem_limit": "16m", "memswap_limit": "16m"}}),
    )  # fmt: skip

    assert states(wait_final(server.url, ok)) == ["Scheduled", "Submitted", "Running", "Success"]
    failed = wait_final(server.url, bad)
    assert failed["state"] == "Failed"
    assert "exited with code 3" in failed["state_message"]
    assert "about to fail" in failed["state_message"], "the last output lines are in the message"
    assert "about to fail" in run_logs(server.url, bad)
    oomed = wait_final(server.url, oom)
    assert oomed["state"] == "Failed" and "OOM" in oomed["state_message"], oomed["state_message"]
    assert "all good" in run_logs(server.url, ok), (
        "output of images that do not ship logs reaches the backend"
    )
    wait_until(lambda: not agent.containers(docker_client), what="every container to be removed")


def test_cancelling_a_running_container_stops_it_and_ends_cancelled(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    agent = start_agent(server, agents, tmp_path, label, "--cancel-grace", "2")
    run_id = create(server, label, "trap '' TERM; echo running; sleep 300")
    wait_until(
        lambda: dockyard_run(server.url, "show", run_id)["state"] in ("Submitted", "Running"), what="claimed"
    )
    container = wait_until(lambda: (agent.containers(docker_client) or [None])[0], what="the container")
    wait_until(lambda: container.reload() or container.status == "running", what="running")

    dockyard_run(server.url, "cancel", run_id)
    run = wait_final(server.url, run_id, timeout=30)
    assert run["state"] == "Cancelled", run
    wait_until(lambda: not agent.containers(docker_client), what="the container to be gone")


def test_a_run_over_its_time_limit_fails_as_timed_out(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    agent = start_agent(server, agents, tmp_path, label, "--cancel-grace", "1")
    run_id = create(server, label, "sleep 300", "--timeout", "2")
    run = wait_final(server.url, run_id, timeout=40)
    assert run["state"] == "Failed" and "timed out" in run["state_message"], run
    wait_until(lambda: not agent.containers(docker_client), what="the container to be gone")


def test_limit_two_never_runs_more_than_two_containers(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    agent = start_agent(server, agents, tmp_path, label, "--limit", "2")
    runs = [create(server, label, "sleep 2") for _ in range(5)]
    most, done = 0, threading.Event()

    def sample() -> None:
        nonlocal most
        while not done.is_set():
            running = docker_client.containers.list(filters={"label": agent.label, "status": "running"})
            most = max(most, len(running))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        finals = [wait_final(server.url, run_id, timeout=60) for run_id in runs]
    finally:
        done.set()
        sampler.join(timeout=5)
    assert [run["state"] for run in finals] == ["Success"] * 5
    assert 1 <= most <= 2, most


def test_kill_9_of_the_agent_mid_run_then_restart_ends_the_run_once(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    first = start_agent(server, agents, tmp_path, label)
    creates = {"type": "container", "event": "create", "label": first.label}
    with recorded_events(docker_client, creates) as created:
        run_id = create(server, label, "echo working; sleep 8; echo done; exit 4")  # a loaded host's window
        # Mid-run: killed once the container runs (not between its create and its start).
        container = wait_until(
            lambda: next((c for c in first.containers(docker_client) if c.status == "running"), None),
            what="the running container",
        )
        first.kill9()
        assert container.reload() is None and container.status == "running", "kill -9 must not stop the run"

        second = start_agent(server, agents, tmp_path, label, name=first.name)  # same host: same lock dir
        run = wait_final(server.url, run_id, timeout=60)
        assert run["state"] == "Failed" and "exited with code 4" in run["state_message"], run
        assert second.alive(), "a dead agent's lease is free at once: the restart is not refused"
        assert states(run).count("Submitted") == 1 and states(run).count("Failed") == 1, states(run)
        wait_until(lambda: not second.containers(docker_client), what="the container to be removed")
    assert len(created) == 1, "the run's container was created exactly once"
    logs = run_logs(server.url, run_id)
    shipped = [line for line in logs.splitlines() if "container:" in line]
    assert [line.split("container: ")[1] for line in shipped] == ["working", "done"], logs


@pytest.mark.skipif(dockerd_missing() is not None, reason=str(dockerd_missing()))
def test_a_daemon_restart_mid_run_is_reconciled(
    server: ServerProcess, docker_client: docker.DockerClient, tmp_path: Path, label: str, test_image: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    address = f"127.0.0.1:{free_port()}"
    with second_daemon() as daemon:
        daemon.load_image(docker_client, BUSYBOX)
        agent = AgentProcess(server.url, log_dir=tmp_path, args=[
            "--label", label, "--no-pull", "--no-docker-interface", "--base-url", daemon.base_url,
            "--agent-address", address,
        ]).start()  # fmt: skip
        try:
            run_id = create(server, label, "echo started; sleep 300")
            wait_until(
                lambda: dockyard_run(server.url, "show", run_id)["state"] in ("Submitted", "Running"),
                what="claimed",
            )
            client = daemon.client()
            wait_until(
                lambda: client.containers.list(filters={"label": agent.label}), what="a running container"
            )
            health = f"http://{address}/api/health"
            assert requests.get(health, timeout=5).status_code == 200

            daemon.stop()  # its containers stop with it
            wait_until(
                lambda: requests.get(health, timeout=5).status_code == 503, what="unhealthy while away"
            )
            assert agent.alive(), "losing the daemon must not end the agent"
            daemon.start()

            run = wait_final(server.url, run_id, timeout=60)
            assert run["state"] == "Failed" and "exited with code" in run["state_message"], run
            wait_until(lambda: requests.get(health, timeout=5).status_code == 200, what="healthy again")
            client = daemon.client()  # a new connection: the daemon restarted
            wait_until(lambda: not client.containers.list(all=True, filters={"label": agent.label}),
                       what="the container to be removed")  # fmt: skip
        finally:
            agent.stop(signal.SIGTERM)


def test_sigterm_winds_the_agent_down_and_the_next_start_adopts_the_running_container(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    first = start_agent(server, agents, tmp_path, label)
    run_id = create(server, label, "sleep 5; echo finished")
    container = wait_until(lambda: (first.containers(docker_client) or [None])[0], what="the container")
    assert first.proc is not None

    first.proc.send_signal(signal.SIGTERM)
    # The requirement itself: stop claiming, finish in-flight work, exit within 10 s.
    assert first.proc.wait(timeout=10) == 0, first.output()[-2000:]
    container.reload()
    assert container.status == "running", "shutdown leaves running containers alone"
    assert dockyard_run(server.url, "show", run_id)["state"] == "Running"

    start_agent(server, agents, tmp_path, label, name=first.name)
    run = wait_final(server.url, run_id, timeout=60)
    assert states(run) == ["Scheduled", "Submitted", "Running", "Success"], states(run)
    assert "finished" in run_logs(server.url, run_id), (
        "the adopted container's output still reaches the backend"
    )


def test_a_run_created_without_a_command_runs_the_images_own(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, test_image: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    start_agent(server, agents, tmp_path, label)
    # busybox's own command is `sh`, which ends at once with no input.
    run_id = str(dockyard_run(server.url, "create", "--image", BUSYBOX, "--label", label)["id"])
    run = wait_final(server.url, run_id)
    assert states(run) == ["Scheduled", "Submitted", "Running", "Success"], run
