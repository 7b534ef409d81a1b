"""Swarm mode end to end: a real server, real agent processes started with --swarm, and the
test daemon as a single-node Swarm (the ``swarm`` fixture). Every run is a Swarm service;
each scenario of the container supervision tests holds for it, and so do Swarm's own:
placement, tasks that no node takes or that a node rejects, swarm-scoped networks and
registry logins the nodes pull with."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from support.agent_process import AgentProcess, wait_until
from support.docker_env import SESSION_LABELS
from support.docker_events import recorded_events
from support.dockyard_cli import dockyard_run, run_logs, wait_final
from support.registry import bcrypt_hash, running_registry
from support.second_daemon import second_daemon
from support.server_process import ServerProcess
from support.supervision_runs import create, start_agent, states
from support.swarm import Swarm
from support.tls_daemon import dockerd_missing

pytestmark = pytest.mark.usefixtures("swarm")


@pytest.fixture
def label() -> str:
    return f"sw-{uuid.uuid4().hex[:8]}"


def swarm_agent(server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str, *args: str,
                name: str | None = None) -> AgentProcess:  # fmt: skip
    return start_agent(server, agents, tmp_path, label, "--swarm", *args, name=name)


def services(client: docker.DockerClient, agent: AgentProcess) -> list[Any]:
    return list(client.services.list(filters={"label": agent.label}))


def all_gone(client: docker.DockerClient, agent: AgentProcess) -> bool:
    """No service of the agent's left, and no container of their tasks on the node."""
    return not services(client, agent) and not agent.containers(client)


def test_exit_codes_and_oom_become_final_states(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, test_image: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    agent = swarm_agent(server, agents, tmp_path, label)
    ok = create(server, label, "echo all good")
    bad = create(server, label, "echo about to fail; exit 3")
    # 64 MB into a 16 MB task (no swap on the test machines): the kernel's OOM killer ends it.
    oom = create(
        server, label, "head -c 67108864 /dev/zero | tail > /dev/null",
        "--run-config", json.dumps({"host_config": {"mem_limit": "16m"}}),
    )  # fmt: skip

    assert states(wait_final(server.url, ok)) == ["Scheduled", "Submitted", "Running", "Success"]
    failed = wait_final(server.url, bad)
    assert failed["state"] == "Failed"
    assert "exited with code 3" in failed["state_message"]
    assert "about to fail" in failed["state_message"], "the last output lines are in the message"
    assert "about to fail" in run_logs(server.url, bad)
    oomed = wait_final(server.url, oom)
    # Swarm reports exit code 137 only; the task ran on this manager's own daemon, whose
    # container says the OOM killer ended it.
    assert oomed["state"] == "Failed" and "137" in oomed["state_message"], oomed["state_message"]
    assert "OOM" in oomed["state_message"], oomed["state_message"]
    assert "all good" in run_logs(server.url, ok)
    wait_until(lambda: all_gone(docker_client, agent), what="every service and task container to be removed")


def test_cancelling_a_running_service_stops_it_and_ends_cancelled(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    agent = swarm_agent(server, agents, tmp_path, label, "--cancel-grace", "2")
    run_id = create(server, label, "trap '' TERM; echo running; sleep 300")
    container = wait_until(
        lambda: next(iter(docker_client.containers.list(filters={"label": agent.label})), None),
        what="the service's task to run",
    )
    dockyard_run(server.url, "cancel", run_id)
    run = wait_final(server.url, run_id, timeout=30)
    assert run["state"] == "Cancelled", run
    with pytest.raises(docker.errors.NotFound):  # stopped (SIGKILL after the grace) and removed
        container.reload()
    wait_until(lambda: all_gone(docker_client, agent), what="the service to be removed")


def test_a_run_over_its_time_limit_fails_as_timed_out(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    agent = swarm_agent(server, agents, tmp_path, label, "--cancel-grace", "1")
    run_id = create(server, label, "sleep 300", "--timeout", "3")
    run = wait_final(server.url, run_id, timeout=40)
    assert run["state"] == "Failed" and "timed out" in run["state_message"], run
    wait_until(lambda: all_gone(docker_client, agent), what="the service to be removed")


def test_limit_two_never_runs_more_than_two_services_and_ships_each_output_once(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    # All five wait in the queue before the agent starts: the limit, not their arrival, paces them.
    runs = [create(server, label, f"echo output of run {index}; sleep 2") for index in range(5)]
    agent = swarm_agent(server, agents, tmp_path, label, "--limit", "2")
    most, done = 0, threading.Event()

    def sample() -> None:
        nonlocal most
        while not done.is_set():
            # A service's task runs in a container carrying the service's labels.
            running = docker_client.containers.list(filters={"label": agent.label, "status": "running"})
            most = max(most, len(running))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        finals = [wait_final(server.url, run_id, timeout=90) for run_id in runs]
    finally:
        done.set()
        sampler.join(timeout=5)
    assert [run["state"] for run in finals] == ["Success"] * 5
    assert 1 <= most <= 2, most
    for index, run_id in enumerate(runs):
        assert run_logs(server.url, run_id).count(f"output of run {index}") == 1, run_logs(server.url, run_id)
    wait_until(lambda: all_gone(docker_client, agent), what="every service to be removed")


def test_kill_9_of_the_agent_mid_run_then_restart_ends_the_run_once(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    first = swarm_agent(server, agents, tmp_path, label)
    with recorded_events(docker_client, {"type": "service", "event": "create"}) as created:
        run_id = create(server, label, "echo working; sleep 5; echo done; exit 4")
        wait_until(
            lambda: docker_client.containers.list(filters={"label": first.label, "status": "running"}),
            what="the service's task to run",
        )
        [service] = services(docker_client, first)
        first.kill9()

        second = swarm_agent(server, agents, tmp_path, label, name=first.name)  # same host: same lock dir
        run = wait_final(server.url, run_id, timeout=60)
        assert run["state"] == "Failed" and "exited with code 4" in run["state_message"], run
        assert second.alive()
        assert states(run).count("Submitted") == 1 and states(run).count("Failed") == 1, states(run)
        wait_until(lambda: all_gone(docker_client, second), what="the service to be removed")
    names = [event["Actor"]["Attributes"].get("name", "") for event in created]
    assert [name for name in names if name.startswith(service.name)] == [service.name], names
    shipped = [
        line.split("container: ")[1]
        for line in run_logs(server.url, run_id).splitlines()
        if "container:" in line
    ]
    assert shipped == ["working", "done"], shipped


def test_a_task_the_node_rejects_fails_with_swarms_reason(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str,
) -> None:  # fmt: skip
    agent = swarm_agent(server, agents, tmp_path, label)
    missing = f"dockyard-test/missing-{uuid.uuid4().hex[:8]}:1"
    run = wait_final(server.url, create(server, label, "echo never", image=missing), timeout=60)
    assert run["state"] == "Failed", run
    assert "refused to run" in run["state_message"] and f"No such image: {missing}" in run["state_message"], (
        run
    )
    wait_until(lambda: all_gone(docker_client, agent), what="the service to be removed")


def test_placement_constraints_and_a_task_no_node_can_take(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, swarm: Swarm,
) -> None:  # fmt: skip
    nowhere = f"{label}-nowhere"
    pinned = swarm_agent(server, agents, tmp_path, nowhere, "--constraint",
                         "node.labels.dockyard-test==nowhere", "--placement-timeout", "3")  # fmt: skip
    asks = swarm_agent(server, agents, tmp_path, label, "--allow-placement", "node.role==*")

    def placed(*constraints: str) -> str:
        return json.dumps({"placement": {"constraints": list(constraints)}})

    unplaced = create(server, nowhere, "echo never")
    on_manager = create(server, label, "echo on the manager", "--run-config", placed("node.role==manager"))
    not_allowed = create(server, label, "echo never", "--run-config", placed(f"node.id!={swarm.node_id}"))

    run = wait_final(server.url, unplaced, timeout=40)
    assert run["state"] == "Failed", run
    assert "No Swarm node could take the flow run's task within 3s" in run["state_message"], run
    assert "no suitable node" in run["state_message"], "Swarm's own reason is given"
    assert wait_final(server.url, on_manager)["state"] == "Success"
    refused = wait_final(server.url, not_allowed)
    assert refused["state"] == "Failed" and "--allow-placement" in refused["state_message"], refused
    for agent in (pinned, asks):
        wait_until(lambda agent=agent: all_gone(docker_client, agent), what="the services to be removed")


@pytest.fixture
def networks(docker_client: docker.DockerClient) -> Iterator[Callable[..., str]]:
    made: list[Any] = []

    def make(driver: str, **options: Any) -> str:
        name = f"dyt-{driver}-{uuid.uuid4().hex[:8]}"
        made.append(
            docker_client.networks.create(name, driver=driver, labels=dict(SESSION_LABELS), **options)
        )
        return name

    yield make
    for network in made:
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()


def test_runs_join_swarm_scoped_networks_and_a_local_bridge_is_refused(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, networks: Callable[..., str],
) -> None:  # fmt: skip
    overlay, bridge = networks("overlay", attachable=True), networks("bridge")
    on_overlay = swarm_agent(server, agents, tmp_path, label, "--network", overlay)
    on_bridge = swarm_agent(server, agents, tmp_path, f"{label}-b", "--network", bridge)

    joined = create(server, label, "ip -4 addr show eth0 | grep -q inet && echo on the overlay")
    refused = create(server, f"{label}-b", "echo never")
    run = wait_final(server.url, joined)
    assert run["state"] == "Success", run
    assert "on the overlay" in run_logs(server.url, joined)
    failed = wait_final(server.url, refused)
    assert failed["state"] == "Failed", failed
    assert f"The network {bridge!r} is a local network" in failed["state_message"], failed
    for agent in (on_overlay, on_bridge):
        wait_until(lambda agent=agent: all_gone(docker_client, agent), what="the services to be removed")


def test_nodes_pull_with_the_agents_registry_login(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, test_image: Any,
) -> None:  # fmt: skip
    password = uuid.uuid4().hex
    (tmp_path / "auth").mkdir()
    htpasswd = tmp_path / "auth" / "htpasswd"
    htpasswd.write_text(f"robot:{bcrypt_hash(password)}\n")
    with running_registry(tmp_path / "storage", htpasswd=htpasswd) as registry:
        repo = f"{registry.host}/dyt{uuid.uuid4().hex[:10]}/busybox"
        login = {"username": "robot", "password": password}
        docker_client.images.get(test_image("busybox")).tag(repo, "private")
        try:
            for line in docker_client.images.push(
                repo, "private", stream=True, decode=True, auth_config=login
            ):
                assert "error" not in line, line
        finally:
            docker_client.images.remove(f"{repo}:private")  # the node must pull it
        auth_file = tmp_path / "auth.json"
        auth_file.write_text(json.dumps({registry.host: login}))
        anonymous, pinned, by_tag = (f"{label}-{kind}" for kind in ("anon", "pin", "tag"))
        login_file = ("--registry-auth-file", str(auth_file))
        for agent_label, *args in (
            (anonymous, "--pull-policy", "if-not-present"),
            (pinned, "--pull-policy", "always", *login_file),
            (by_tag, "--pull-policy", "if-not-present", *login_file),
        ):
            agent = AgentProcess(
                server.url, log_dir=tmp_path, args=["--swarm", "--label", agent_label, *args]
            )
            agents.append(agent.start())
        try:
            refused = wait_final(server.url, create(server, anonymous, "echo never", image=f"{repo}:private"))
            by_digest = wait_final(server.url, create(server, pinned, "echo pinned", image=f"{repo}:private"))
            named = wait_final(server.url, create(server, by_tag, "echo by tag", image=f"{repo}:private"))
        finally:
            for reference in [image.id for image in docker_client.images.list(name=repo)]:
                with contextlib.suppress(docker.errors.APIError):
                    docker_client.images.remove(reference, force=True)
    assert refused["state"] == "Failed" and "No such image" in refused["state_message"], refused
    assert by_digest["state"] == "Success", by_digest
    assert "pinned" in run_logs(server.url, by_digest["id"])
    assert named["state"] == "Success", named
    assert "by tag" in run_logs(server.url, named["id"])
    for agent in agents:
        assert password not in agent.output()


@pytest.mark.skipif(dockerd_missing() is not None, reason=str(dockerd_missing()))
def test_an_agent_started_with_swarm_on_a_daemon_that_manages_no_swarm_is_refused(
    server: ServerProcess, tmp_path: Path, label: str,
) -> None:  # fmt: skip
    with second_daemon() as daemon:  # in no Swarm
        agent = AgentProcess(server.url, log_dir=tmp_path, args=[
            "--label", label, "--swarm", "--base-url", daemon.base_url,
        ]).start()  # fmt: skip
        try:
            assert agent.proc is not None
            assert agent.proc.wait(timeout=30) != 0
        finally:
            agent.kill9()
    assert "not in an active Swarm" in agent.output(), agent.output()[-2000:]
    assert "docker swarm init" in agent.output()
