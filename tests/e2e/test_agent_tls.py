"""`dockyard agent start --base-url tcp://... --tls-*` against a second, TLS-only dockerd.

The second daemon (support.tls_daemon) listens on a loopback port, accepts only clients
with a certificate its CA signed, and has no bridge network: runs use ``--network none``
and no host.docker.internal entry. A TLS failure the agent can only see by connecting
(wrong or missing client certificate, a CA that did not sign the daemon) is treated like an
unreachable daemon: the agent stays up, retries, and reports itself unhealthy with the
reason. A TLS setting it can check without connecting (a file that does not exist) stops it
at once with exit code 1.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import requests

from dockyard.adapters.docker_client import TlsSettings, build_docker_client
from support.agent_process import DOCKYARD, AgentProcess, wait_until
from support.dockyard_cli import dockyard_run, run_logs, wait_final
from support.server_process import ServerProcess, free_port, running_server
from support.tls_daemon import TlsDaemon, dockerd_missing, make_certificates, tls_daemon


@pytest.fixture(scope="module")
def remote(docker_client: docker.DockerClient) -> Iterator[TlsDaemon]:
    reason = dockerd_missing()
    if reason:
        pytest.skip(f"cannot start a second Docker daemon: {reason}")
    with tls_daemon() as daemon:
        yield daemon


@pytest.fixture(scope="module")
def remote_client(remote: TlsDaemon) -> Iterator[docker.DockerClient]:
    certs = remote.certs
    tls = TlsSettings(ca_cert=str(certs.ca), client_cert=str(certs.cert), client_key=str(certs.key))
    client = build_docker_client(remote.url, 60, tls=tls)
    yield client
    client.close()


@pytest.fixture(scope="module")
def remote_busybox(
    remote_client: docker.DockerClient, docker_client: docker.DockerClient, test_image: Callable[[str], str]
) -> str:
    """The busybox test image, copied from the main daemon (the second one has none)."""
    busybox = test_image("busybox")
    remote_client.images.load(b"".join(docker_client.images.get(busybox).save(named=True)))
    return busybox


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "dockyard.db") as running:
        yield running


@pytest.fixture
def agents(
    docker_client: docker.DockerClient, remote_client: docker.DockerClient
) -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.cleanup(remote_client)
        agent.cleanup(docker_client)


def tls_args(remote: TlsDaemon, *, ca: Path, cert: Path | None, key: Path | None) -> list[str]:
    args = ["--base-url", remote.url, "--tls-ca", str(ca), "--network", "none", "--no-docker-interface"]
    if cert is not None and key is not None:
        args += ["--tls-cert", str(cert), "--tls-key", str(key)]
    return args


@pytest.mark.parametrize("given_by", ["--tls-* flags", "DOCKER_* variables"])
def test_a_run_succeeds_in_a_container_on_the_tls_daemon(
    remote: TlsDaemon, remote_client: docker.DockerClient, remote_busybox: str, server: ServerProcess,
    agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path, given_by: str,
) -> None:  # fmt: skip
    label = f"tls-{uuid.uuid4().hex[:8]}"
    certs = remote.certs
    if given_by == "--tls-* flags":
        args, env = tls_args(remote, ca=certs.ca, cert=certs.cert, key=certs.key), {}
    else:  # as for the Docker CLI: no --base-url, the daemon and its TLS from the environment
        args = ["--network", "none", "--no-docker-interface"]
        env = {"DOCKER_HOST": remote.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs.directory)}
    agent = AgentProcess(
        server.url, log_dir=tmp_path, args=["--label", label, "--keep-containers", *args], env=env
    )
    agents.append(agent.start())

    run_id = dockyard_run(
        server.url, "create", "--image", remote_busybox, "--label", label, "--command", "echo tls; exit 0"
    )["id"]
    run = wait_final(server.url, run_id)

    assert run["state"] == "Success", f"{run}\nagent:\n{agent.output()[-3000:]}"
    assert any(line.endswith(": tls") for line in run_logs(server.url, run_id).splitlines())
    kept = agent.containers(remote_client)  # --keep-containers: the finished container stays
    assert [c.labels["io.prefect.flow-run-id"] for c in kept] == [run_id]
    assert kept[0].attrs["State"]["ExitCode"] == 0
    assert kept[0].logs() == b"tls\n"
    assert agent.containers(docker_client) == []  # nothing on the main daemon
    assert agent.alive()


def health(port: int) -> tuple[int, dict[str, object]]:
    answer = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
    return answer.status_code, answer.json()


@pytest.mark.parametrize("credentials", ["signed by another CA", "no client certificate"])
def test_a_tls_handshake_failure_keeps_the_agent_up_and_unhealthy_naming_tls(
    remote: TlsDaemon, server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, credentials: str
) -> None:
    other = make_certificates(tmp_path / "other")
    cert, key = (other.cert, other.key) if credentials == "signed by another CA" else (None, None)
    port = free_port()
    args = tls_args(remote, ca=remote.certs.ca, cert=cert, key=key)
    agent = AgentProcess(server.url, log_dir=tmp_path, args=["--agent-address", f"127.0.0.1:{port}", *args])
    agents.append(agent.start())

    def unhealthy() -> dict[str, object] | None:
        try:
            status, body = health(port)
        except requests.RequestException:
            return None
        return body if status == 503 and body.get("daemon") == "unreachable" else None

    body = wait_until(unhealthy, timeout=30, what="an unhealthy report")
    reasons = " ".join(str(reason) for reason in body["reasons"])  # type: ignore[union-attr]
    assert "TLS" in reasons, body
    assert agent.alive()
    wait_until(lambda: "TLS" in agent.output(), what="the agent to log the TLS failure")
    assert agent.stop() == 0  # it winds down normally when told to


def test_a_missing_certificate_file_stops_the_agent_with_a_clear_message(
    remote: TlsDaemon, server: ServerProcess, tmp_path: Path
) -> None:
    missing = tmp_path / "absent-cert.pem"
    result = subprocess.run(
        [str(DOCKYARD), "agent", "start", "--api", server.url,
         *tls_args(remote, ca=remote.certs.ca, cert=missing, key=remote.certs.key)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result
    assert f"TLS client certificate file not found: {missing}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
