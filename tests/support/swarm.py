"""A single-node Docker Swarm on the test daemon, for the tests of swarm mode.

The daemon is left as it was found. A daemon already managing a Swarm is used as it is and
never left. A daemon in no Swarm joins one (``docker swarm init --advertise-addr
127.0.0.1``) for the sessions that need it, and the last of them to finish leaves it. Test
sessions on one machine share one daemon, so they agree through a lock file: each holds it
shared while it uses the Swarm; a marker file names the Swarm node the tests created. A
session that ends and can take the lock exclusively (no other session uses the Swarm) leaves
the Swarm if the marker names it; a session killed before it could still leaves the marker,
and the next one to finish cleans up after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

STATE_DIR = Path(os.environ.get("DOCKYARD_TEST_STATE", "/tmp"))
LOCK = STATE_DIR / "dockyard-test-swarm.lock"
MARKER = STATE_DIR / "dockyard-test-swarm.node"
SERVICE_ID_LABEL = "com.docker.swarm.service.id"  # on every task's container


@dataclass(frozen=True)
class Swarm:
    node_id: str
    created_by_tests: bool


def swarm_state(client: docker.DockerClient) -> dict[str, object]:
    info: dict[str, object] = client.info().get("Swarm") or {}
    return info


@contextlib.contextmanager
def single_node_swarm(client: docker.DockerClient) -> Iterator[Swarm]:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            swarm = _join(client)
        finally:
            fcntl.flock(lock, fcntl.LOCK_SH)  # in use by this session from here on
        try:
            yield swarm
        finally:
            _leave_if_last(client, lock)


def _join(client: docker.DockerClient) -> Swarm:
    state = swarm_state(client)
    if state.get("LocalNodeState") == "inactive":
        subprocess.run(
            ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
            check=True,
            capture_output=True,
            text=True,
        )
        state = swarm_state(client)
        MARKER.write_text(str(state.get("NodeID", "")))
    if state.get("LocalNodeState") != "active" or not state.get("ControlAvailable"):
        raise RuntimeError(f"the test daemon is in a Swarm but not as a manager: {state}")
    node_id = str(state.get("NodeID", ""))
    ours = MARKER.exists() and MARKER.read_text().strip() == node_id
    return Swarm(node_id=node_id, created_by_tests=ours)


def _leave_if_last(client: docker.DockerClient, lock: object) -> None:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # type: ignore[arg-type]
    except BlockingIOError:
        return  # another session still uses the Swarm: the last one leaves it
    try:
        node_id = str(swarm_state(client).get("NodeID", ""))
        if MARKER.exists() and node_id and MARKER.read_text().strip() == node_id:
            subprocess.run(["docker", "swarm", "leave", "--force"], check=True, capture_output=True)
            MARKER.unlink()
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)  # type: ignore[arg-type]


def remove_services(client: docker.DockerClient, label: str) -> None:
    """Remove the services carrying ``label`` (``key=value``); Swarm removes their tasks'
    containers. A daemon that manages no Swarm has none."""
    try:
        services = client.services.list(filters={"label": label})
    except docker.errors.APIError:
        return  # not a Swarm manager
    for service in services:
        with contextlib.suppress(docker.errors.NotFound):
            service.remove()
    # Swarm removes the tasks' containers a moment later; networks they use wait for that.
    deadline = time.monotonic() + 30
    ids = [service.id for service in services]
    while ids and time.monotonic() < deadline:
        left = [
            service_id
            for service_id in ids
            if client.containers.list(
                all=True, filters={"label": f"com.docker.swarm.service.id={service_id}"}
            )
        ]
        if not left:
            return
        ids = left
        time.sleep(0.2)
