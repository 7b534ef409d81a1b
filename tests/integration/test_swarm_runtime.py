"""SwarmServiceRuntime against the real daemon as a single-node Swarm manager: services as
the port describes them (their task's state), stopping, removal without leftovers, logs
that end with the task, names, network scopes, digests, and a daemon that manages no Swarm."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors
import pytest

from dockyard.adapters.docker_client import build_docker_client
from dockyard.adapters.swarm_inspect import STOPPED
from dockyard.adapters.swarm_runtime import SwarmServiceRuntime
from dockyard.domain.agent.runtime_state import ContainerState
from dockyard.domain.errors import ConfigurationError, ContainerNameConflict, PullFailed
from support.containers import eventually
from support.docker_env import SESSION_LABELS
from support.registry import push, running_registry
from support.second_daemon import second_daemon
from support.swarm import SERVICE_ID_LABEL, Swarm, remove_services
from support.tls_daemon import dockerd_missing

CASE = "org.dockyard.test-case"


@pytest.fixture(scope="module")
def runtime(swarm: Swarm) -> Iterator[SwarmServiceRuntime]:
    client = build_docker_client(None, 60)
    runtime = SwarmServiceRuntime(client, follow_check=0.2)
    runtime.ping()
    yield runtime
    client.close()


@pytest.fixture
def case(docker_client: docker.DockerClient) -> Iterator[str]:
    case_id = uuid.uuid4().hex[:12]
    yield case_id
    remove_services(docker_client, f"{CASE}={case_id}")


@pytest.fixture
def service(runtime: SwarmServiceRuntime, case: str, test_image: Callable[[str], str]) -> Callable[..., str]:
    """Create a one-replica, never-restarted service running ``sh -c script``."""
    image = test_image("busybox")

    def create(script: str, *, name: str | None = None, image: str = image, **template: Any) -> str:
        labels = {**SESSION_LABELS, CASE: case}
        spec = {
            "Labels": labels,
            "TaskTemplate": {
                "ContainerSpec": {"Image": image, "Args": ["sh", "-c", script], "Labels": labels,
                                  "StopGracePeriod": 2_000_000_000},
                "RestartPolicy": {"Condition": "none", "MaxAttempts": 0},
                **template,
            },
            "Mode": {"Replicated": {"Replicas": 1}},
        }  # fmt: skip
        return runtime.create_service(name or f"dyt-{uuid.uuid4().hex[:10]}", spec)

    return create


def state_of(runtime: SwarmServiceRuntime, service_id: str) -> ContainerState:
    state = runtime.inspect_container(service_id)
    assert state is not None
    return state


def until(
    runtime: SwarmServiceRuntime, service_id: str, check: Callable[[ContainerState], bool]
) -> ContainerState:
    eventually(lambda: check(state_of(runtime, service_id)), what=f"service {service_id} to change")
    return state_of(runtime, service_id)


def task_containers(client: docker.DockerClient, service_id: str) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"{SERVICE_ID_LABEL}={service_id}"}))


def test_ping_names_the_swarm_and_lists_services_by_label(
    runtime: SwarmServiceRuntime, service: Callable[..., str], case: str, docker_client: docker.DockerClient
) -> None:
    daemon = runtime.ping()
    assert daemon.id == docker_client.info()["Swarm"]["Cluster"]["ID"]
    ids = {service("true"), service("true")}
    listed = runtime.list_containers({CASE: case})
    assert {state.id for state in listed} == ids
    assert all(state.labels[CASE] == case and state.started_at is not None for state in listed)
    assert runtime.list_containers({CASE: "no-such-case"}) == []


def test_a_task_that_exits_0_or_3_ends_with_its_exit_code(
    runtime: SwarmServiceRuntime, service: Callable[..., str]
) -> None:
    ok, bad = service("echo fine"), service("exit 3")
    done = until(runtime, ok, lambda s: s.ended)
    assert (done.status, done.exit_code, done.error) == ("exited", 0, "")
    failed = until(runtime, bad, lambda s: s.ended)
    assert (failed.status, failed.exit_code) == ("exited", 3)
    assert failed.error == "", "Swarm's 'task: non-zero exit (3)' says nothing the code does not"


def test_an_oom_kill_is_told_by_the_tasks_container_on_this_manager(
    runtime: SwarmServiceRuntime, service: Callable[..., str]
) -> None:
    oom = service(
        "head -c 67108864 /dev/zero | tail > /dev/null", Resources={"Limits": {"MemoryBytes": 16 << 20}}
    )
    state = until(runtime, oom, lambda s: s.ended)
    assert (state.exit_code, state.oom_killed) == (137, True)
    listed = [s for s in runtime.list_containers({}) if s.id == oom]
    assert listed[0].oom_killed, "listing tells it too"


def test_a_missing_image_is_rejected_and_an_unmet_constraint_waits_with_the_schedulers_reason(
    runtime: SwarmServiceRuntime, service: Callable[..., str]
) -> None:
    missing = service("true", image=f"dockyard-test/missing-{uuid.uuid4().hex[:8]}:1")
    rejected = until(runtime, missing, lambda s: s.ended)
    assert rejected.status == "rejected" and "No such image" in rejected.error
    unplaced = service("true", Placement={"Constraints": ["node.labels.dockyard-test==nowhere"]})
    waiting = until(runtime, unplaced, lambda s: "no suitable node" in s.error)
    assert waiting.status == "pending" and not waiting.ended


def test_stopping_stops_the_task_and_keeps_the_service_as_the_record(
    runtime: SwarmServiceRuntime, service: Callable[..., str], docker_client: docker.DockerClient
) -> None:
    running = service("trap 'echo stopping; exit 5' TERM; while true; do sleep 0.1; done")
    until(runtime, running, lambda s: s.status == "running")
    runtime.stop_container(running, 2)
    stopped = until(runtime, running, lambda s: s.ended and not task_containers(docker_client, running))
    assert (stopped.status, stopped.error) == ("exited", STOPPED)
    runtime.stop_container(running, 2)  # again: nothing to do
    runtime.stop_container("no-such-service", 2)


def test_removal_removes_the_service_and_every_task_container_failed_or_not(
    runtime: SwarmServiceRuntime, service: Callable[..., str], docker_client: docker.DockerClient
) -> None:
    ids = [service("exit 0"), service("exit 7")]
    for service_id in ids:
        until(runtime, service_id, lambda s: s.ended)
        assert task_containers(docker_client, service_id), "the ended task's container is kept until removal"
        runtime.remove_container(service_id)
        assert runtime.inspect_container(service_id) is None
        eventually(lambda service_id=service_id: not task_containers(docker_client, service_id),
                   what="the task's container to be removed")  # fmt: skip
    runtime.remove_container(ids[0])  # again: no error


def test_following_output_ends_once_the_task_has_ended(
    runtime: SwarmServiceRuntime, service: Callable[..., str]
) -> None:
    service_id = service("echo one; sleep 1; echo two >&2; sleep 1; echo three")
    started = time.monotonic()
    chunks = list(runtime.follow_logs(service_id, timestamps=True))
    assert time.monotonic() - started < 30, "the follow ended with the task (Swarm's own would not)"
    lines = b"".join(chunks).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["one", "two", "three"]
    assert all(line[:4].isdigit() and "T" in line.split(" ", 1)[0] for line in lines)
    assert runtime.container_logs(service_id, tail=1) == b"three\n"
    # An ended service's output is read at once; ``since`` skips what came before.
    assert b"one" in b"".join(runtime.follow_logs(service_id))
    assert list(runtime.follow_logs("no-such-service")) == []


def test_a_taken_name_is_a_name_conflict(service: Callable[..., str]) -> None:
    name = f"dyt-{uuid.uuid4().hex[:10]}"
    service("true", name=name)
    with pytest.raises(ContainerNameConflict, match=name):
        service("true", name=name)


def test_network_scopes(runtime: SwarmServiceRuntime, docker_client: docker.DockerClient) -> None:
    made = []
    try:
        for driver, options in (("bridge", {}), ("overlay", {"attachable": True})):
            name = f"dyt-{driver}-{uuid.uuid4().hex[:8]}"
            made.append(
                docker_client.networks.create(name, driver=driver, labels=dict(SESSION_LABELS), **options)
            )
        assert runtime.network_scope(made[0].name) == "local"
        assert runtime.network_scope(made[1].name) == "swarm"
        assert runtime.network_scope(f"dyt-missing-{uuid.uuid4().hex[:8]}") is None
    finally:
        for network in made:
            network.remove()


def test_an_image_resolves_to_the_digest_its_registry_serves(
    runtime: SwarmServiceRuntime, docker_client: docker.DockerClient, tmp_path: Any,
    test_image: Callable[[str], str],
) -> None:  # fmt: skip
    with running_registry(tmp_path / "storage") as registry:
        repo = f"{registry.host}/dyt{uuid.uuid4().hex[:10]}/busybox"
        push(docker_client, test_image("busybox"), repo, "1")
        pinned = runtime.resolve_image(f"{repo}:1")
        assert pinned.startswith(f"{repo}:1@sha256:") and len(pinned.rsplit(":", 1)[1]) == 64
        with pytest.raises(PullFailed, match=f"Cannot resolve image {repo}:2 at its registry"):
            runtime.resolve_image(f"{repo}:2")


@pytest.mark.skipif(dockerd_missing() is not None, reason=str(dockerd_missing()))
def test_a_daemon_that_manages_no_swarm_is_refused_saying_how_to_make_one() -> None:
    with second_daemon() as daemon:
        client = build_docker_client(daemon.base_url, 30)
        try:
            with pytest.raises(ConfigurationError, match=r"not in an active Swarm.*docker swarm init"):
                SwarmServiceRuntime(client).ping()
        finally:
            client.close()
