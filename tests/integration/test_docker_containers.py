"""DockerContainerRuntime's container lifecycle against the real daemon."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import docker
import pytest

from dockyard.domain.errors import ContainerNameConflict, ImageNotFound, RuntimeRequestFailed
from support.containers import CASE_LABEL, Case, eventually, output_contains

ROLE = "org.dockyard.test-role"
# Wait for a shell's traps to be set before signalling it.
LOOP = "echo ready; while true; do sleep 0.1; done"


def test_the_body_is_created_as_given(
    case: Case, busybox: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    first, second = case.network(), case.network()
    tmp_path.chmod(0o777)
    body = case.body(
        busybox,
        'echo "$GREETING" > /out/greeting; cat /etc/hosts',
        Env=["GREETING=hello from the env"],
        HostConfig={
            "Binds": [f"{tmp_path}:/out"],
            "ExtraHosts": ["host.docker.internal:host-gateway"],
        },
        NetworkingConfig={"EndpointsConfig": {first: {"Aliases": ["flow-runner"]}}},
    )
    name = case.name("body")

    container_id = case.runtime.create_container(name, body)
    case.runtime.connect_network(container_id, second)

    seen = docker_client.api.inspect_container(container_id)
    assert seen["Name"] == f"/{name}"
    assert "GREETING=hello from the env" in seen["Config"]["Env"]
    assert seen["Config"]["Labels"][CASE_LABEL] == case.id
    assert seen["HostConfig"]["Binds"] == [f"{tmp_path}:/out"]
    assert seen["HostConfig"]["ExtraHosts"] == ["host.docker.internal:host-gateway"]
    assert set(seen["NetworkSettings"]["Networks"]) == {first, second}
    assert "flow-runner" in seen["NetworkSettings"]["Networks"][first]["Aliases"]

    case.runtime.start_container(container_id)
    state = case.runtime.wait_container(container_id)

    assert state is not None and state.ended and state.exit_code == 0
    assert (tmp_path / "greeting").read_text() == "hello from the env\n"
    assert b"host.docker.internal" in case.runtime.container_logs(container_id)


def test_a_taken_name_is_a_name_conflict(case: Case, busybox: str) -> None:
    name = case.name("taken")
    case.runtime.create_container(name, case.body(busybox, "true"))

    with pytest.raises(ContainerNameConflict, match="already in use"):
        case.runtime.create_container(name, case.body(busybox, "true"))


def test_a_missing_image_is_image_not_found(case: Case) -> None:
    image = f"dockyard-test/absent:{uuid.uuid4().hex[:8]}"

    with pytest.raises(ImageNotFound, match="No such image"):
        case.runtime.create_container(case.name("noimage"), case.body(image, "true"))


def test_other_refusals_carry_the_daemon_words(case: Case, busybox: str) -> None:
    body = case.body(busybox, "true", HostConfig={"Memory": -5})
    with pytest.raises(RuntimeRequestFailed, match=r"Cannot create container .*emory"):
        case.runtime.create_container(case.name("badmem"), body)
    with pytest.raises(RuntimeRequestFailed, match="No such container"):
        case.runtime.start_container(f"no-such-container-{case.id}")


@pytest.mark.parametrize("code", [0, 3])
def test_exit_codes_and_times_are_observed(case: Case, busybox: str, code: int) -> None:
    container_id = case.run(busybox, f"exit {code}")

    state = case.runtime.wait_container(container_id)

    assert state is not None
    assert (state.status, state.exit_code, state.oom_killed, state.error) == ("exited", code, False, "")
    assert state.started_at is not None and state.finished_at is not None
    assert state.labels[CASE_LABEL] == case.id


def test_a_created_container_has_no_exit_code_or_times(case: Case, busybox: str) -> None:
    name = case.name("created")
    container_id = case.runtime.create_container(name, case.body(busybox, "true"))

    state = case.runtime.inspect_container(container_id)

    assert state is not None
    assert (state.id, state.name, state.status) == (container_id, name, "created")
    assert (state.exit_code, state.started_at, state.finished_at, state.ended) == (None, None, None, False)


def test_a_command_that_cannot_start_reports_why(case: Case, busybox: str) -> None:
    body = {"Image": busybox, "Cmd": ["/no/such/program"], "Labels": case.labels}
    container_id = case.runtime.create_container(case.name("nostart"), body)

    with pytest.raises(RuntimeRequestFailed, match="no/such/program"):
        case.runtime.start_container(container_id)

    state = case.runtime.inspect_container(container_id)
    assert state is not None
    assert state.exit_code not in (None, 0)
    assert "no/such/program" in state.error


def test_running_out_of_memory_is_observed(case: Case, busybox: str) -> None:
    limit = 8 * 1024 * 1024
    container_id = case.run(
        busybox,
        "head -c 100m /dev/zero | tail > /dev/null",
        HostConfig={"Memory": limit, "MemorySwap": limit},
    )

    state = case.runtime.wait_container(container_id)

    assert state is not None and state.ended
    assert state.oom_killed is True
    assert state.exit_code == 137


def test_a_container_ignoring_term_is_killed_after_the_grace(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, f"trap '' TERM; {LOOP}")
    eventually(output_contains(case.runtime, container_id, b"ready"), what="the trap")

    asked = time.monotonic()
    case.runtime.stop_container(container_id, grace_seconds=2)
    waited = time.monotonic() - asked

    state = case.runtime.inspect_container(container_id)
    assert state is not None and state.ended
    assert state.exit_code == 137
    assert waited >= 1.9  # SIGKILL cannot come before the grace period is over


def test_a_container_handling_term_ends_on_its_own_terms(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, f"trap 'echo got TERM; exit 0' TERM; {LOOP}")
    eventually(output_contains(case.runtime, container_id, b"ready"), what="the trap")

    case.runtime.stop_container(container_id, grace_seconds=60)

    state = case.runtime.inspect_container(container_id)
    assert state is not None and state.ended
    assert state.exit_code == 0
    assert b"got TERM" in case.runtime.container_logs(container_id)


def test_stopping_a_stopped_or_missing_container_is_quiet(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, "exit 5")
    case.runtime.wait_container(container_id)

    case.runtime.stop_container(container_id, grace_seconds=1)
    case.runtime.stop_container(f"no-such-container-{case.id}", grace_seconds=1)

    state = case.runtime.inspect_container(container_id)
    assert state is not None and state.exit_code == 5


def test_remove_is_forceful_and_idempotent(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, LOOP)

    case.runtime.remove_container(container_id)
    case.runtime.remove_container(container_id)
    case.runtime.remove_container(f"no-such-container-{case.id}")

    assert case.runtime.inspect_container(container_id) is None


def test_listing_by_labels_includes_exited_containers(case: Case, busybox: str) -> None:
    exited = case.run(busybox, "exit 7", Labels={**case.labels, ROLE: "a"})
    running = case.run(busybox, LOOP, Labels={**case.labels, ROLE: "b"})
    unlabelled_role = case.run(busybox, LOOP)
    case.runtime.wait_container(exited)

    everything = case.runtime.list_containers({CASE_LABEL: case.id})
    with_role = case.runtime.list_containers({CASE_LABEL: case.id, ROLE: None})
    role_a = case.runtime.list_containers({CASE_LABEL: case.id, ROLE: "a"})

    assert {state.id for state in everything} == {exited, running, unlabelled_role}
    assert {state.id for state in with_role} == {exited, running}
    assert [(state.id, state.status, state.exit_code) for state in role_a] == [(exited, "exited", 7)]
    assert case.runtime.list_containers({CASE_LABEL: f"{case.id}-other"}) == []


def test_networks_connect_idempotently_and_unknown_ones_fail_the_start(
    case: Case, busybox: str, docker_client: docker.DockerClient
) -> None:
    network = case.network()
    container_id = case.runtime.create_container(case.name("net"), case.body(busybox, "true"))

    case.runtime.connect_network(container_id, network)
    case.runtime.connect_network(container_id, network)

    attached = docker_client.api.inspect_container(container_id)["NetworkSettings"]["Networks"]
    assert network in attached
    # The daemon (20.10) accepts an unknown network until the container starts.
    case.runtime.connect_network(container_id, f"no-such-network-{case.id}")
    with pytest.raises(RuntimeRequestFailed, match=f"no-such-network-{case.id} not found"):
        case.runtime.start_container(container_id)


def test_waiting_with_a_timeout_reports_a_running_container(case: Case, busybox: str) -> None:
    container_id = case.run(busybox, LOOP)

    state = case.runtime.wait_container(container_id, timeout=1)

    assert state is not None
    assert (state.status, state.ended, state.exit_code) == ("running", False, None)
    assert case.runtime.wait_container(f"no-such-container-{case.id}", timeout=1) is None
