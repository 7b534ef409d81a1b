"""`dockyard server start` with its default addresses: loopback plus the docker0 bridge's
own address (so local flow containers reach it as host.docker.internal), never a wildcard
address that would offer the API to other machines.

The kernel's socket table (/proc/net/tcp, /proc/net/tcp6) is the witness; docker0's address
comes from the daemon's bridge interface, as `ip` shows it.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests

from support.agent_process import DOCKYARD
from support.docker_env import SESSION_LABELS
from support.server_process import free_port

LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """Every local address a TCP socket listens on at ``port`` (IPv4 and IPv6)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, port_hex = fields[1].partition(":")
            if fields[3] != LISTEN or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            words = b"".join(
                struct.pack("<I", struct.unpack(">I", raw[i : i + 4])[0]) for i in range(0, len(raw), 4)
            )
            found.add(socket.inet_ntop(family, words))
    return found


@pytest.fixture
def default_server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_SERVER_")}
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [str(DOCKYARD), "server", "start", "--port", str(port), "--db", str(tmp_path / "d.db")],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not listening_addresses(port):
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "server.log"
            ).read_text()
            time.sleep(0.1)
        time.sleep(0.3)  # every address is bound before serving starts; give the last a moment
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def test_the_default_server_listens_on_loopback_and_docker0_only(
    default_server: int, docker_client: docker.DockerClient
) -> None:
    interface = docker_client.networks.get("bridge").attrs["Options"]["com.docker.network.bridge.name"]
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show", interface], capture_output=True, text=True)
    bridge = shown.stdout.split(" inet ")[1].split("/")[0]  # "... inet 172.17.0.1/16 ..."

    addresses = listening_addresses(default_server)

    assert addresses == {"127.0.0.1", bridge}
    assert not addresses & {"0.0.0.0", "::"}
    assert requests.get(f"http://127.0.0.1:{default_server}/health", timeout=5).ok


def test_a_local_flow_container_reaches_the_server_through_the_bridge(
    default_server: int, docker_client: docker.DockerClient, test_image: object
) -> None:
    busybox = test_image("busybox")  # type: ignore[operator]
    # Detached, then waited on and read: run(remove=True) streams logs while the container may
    # already be gone, and on a loaded host that read came back empty.
    container = docker_client.containers.run(
        busybox, ["wget", "-qO-", f"http://host.docker.internal:{default_server}/health"],
        extra_hosts={"host.docker.internal": "host-gateway"}, labels=SESSION_LABELS, detach=True,
    )  # fmt: skip
    try:
        status = container.wait(timeout=60)
        output = container.logs(stdout=True, stderr=True)
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, output
    assert b"ok" in output
