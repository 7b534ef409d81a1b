"""build_docker_client: addresses, TLS settings, the DOCKER_* environment, and a daemon
that is away when the agent starts."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from dockyard.adapters.docker_client import FALLBACK_API_VERSION, TlsSettings, build_docker_client
from dockyard.adapters.docker_runtime import DockerContainerRuntime
from dockyard.domain.errors import ConfigurationError, RuntimeUnavailable
from support.containers import case_on
from support.registry import closed_port
from support.socket_relay import SocketRelay


@pytest.mark.parametrize(
    "address", ["ftp://host:21", "tcp://", "tcp://127.0.0.1", "localhost:2375", "unix://", "https://host:x"]
)
def test_an_unusable_address_is_a_configuration_error(address: str) -> None:
    with pytest.raises(ConfigurationError, match="address"):
        build_docker_client(address, 10)


def test_missing_tls_files_are_named(tmp_path: Path) -> None:
    present = tmp_path / "present.pem"
    present.write_text("not checked here")
    missing = str(tmp_path / "missing.pem")

    with pytest.raises(ConfigurationError, match=r"CA file not found: .*missing\.pem"):
        build_docker_client("tcp://127.0.0.1:2376", 10, tls=TlsSettings(ca_cert=missing))
    with pytest.raises(ConfigurationError, match="key file not found"):
        build_docker_client(
            "tcp://127.0.0.1:2376", 10, tls=TlsSettings(client_cert=str(present), client_key=missing)
        )
    with pytest.raises(ConfigurationError, match="needs its key"):
        build_docker_client("tcp://127.0.0.1:2376", 10, tls=TlsSettings(client_cert=str(present)))


def test_tls_needs_a_tcp_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TLS settings need a tcp://"):
        build_docker_client("unix:///var/run/docker.sock", 10, tls=TlsSettings())


def test_a_cert_path_without_certificates_is_a_configuration_error(tmp_path: Path) -> None:
    environ = {
        "DOCKER_HOST": "tcp://127.0.0.1:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path),
    }

    with pytest.raises(ConfigurationError, match=f"TLS files in {tmp_path} are not usable"):
        build_docker_client(None, 10, environ=environ)


def test_tls_verify_is_on_when_a_ca_is_given_unless_turned_off() -> None:
    assert TlsSettings(ca_cert="/ca.pem").verifies is True
    assert TlsSettings(ca_cert="/ca.pem", verify=False).verifies is False
    assert TlsSettings().verifies is False
    assert TlsSettings(verify=True).verifies is True


@pytest.mark.skipif(importlib.util.find_spec("paramiko") is not None, reason="paramiko is installed")
def test_ssh_without_its_library_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="paramiko"):
        build_docker_client("ssh://dockyard@127.0.0.1", 10)


def test_docker_host_from_the_environment_is_used(
    docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    assert DockerContainerRuntime(build_docker_client(None, 10)).ping().id == docker_client.info()["ID"]

    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed_port()}")
    with pytest.raises(RuntimeUnavailable, match=r"not reachable.*refused"):
        DockerContainerRuntime(build_docker_client(None, 10)).ping()


def test_an_agent_built_while_the_daemon_is_away_works_once_it_is_back(
    docker_client: docker.DockerClient, test_image: Callable[[str], str]
) -> None:
    relay = SocketRelay(Path(f"/tmp/dockyard-relay-{uuid.uuid4().hex[:8]}.sock"))
    client = build_docker_client(relay.url, 10)  # nothing listens there yet
    runtime = DockerContainerRuntime(client)
    assert client.api.api_version == FALLBACK_API_VERSION
    with pytest.raises(RuntimeUnavailable, match="not reachable"):
        runtime.ping()

    relay.start()
    try:
        # The first call after the daemon is back negotiates the API version by itself.
        with case_on(docker_client, runtime) as case:
            container_id = case.run(test_image("busybox"), "echo back")
            state = runtime.wait_container(container_id)
        assert state is not None and state.exit_code == 0
        info = runtime.ping()
        assert info.id == docker_client.info()["ID"]
        assert client.api.api_version == info.api_version
    finally:
        relay.stop()
        client.close()

    with pytest.raises(RuntimeUnavailable, match="not reachable"):
        runtime.ping()


def test_every_request_on_the_socket_shares_one_connection_pool() -> None:
    client = build_docker_client("unix:///var/run/docker.sock", 10)
    try:
        first = client.api.get_adapter("http+docker://localhost/v1.41/containers/a/start")
        second = client.api.get_adapter("http+docker://localhost/v1.41/containers/b/json")
        assert first is second
        pool = first.get_connection("http+docker://localhost/v1.41/containers/a/start")
        assert pool is first.get_connection("http+docker://localhost/v1.41/containers/b/json")
        assert pool.socket_path == "/var/run/docker.sock"
        assert client.api.trust_env is False
    finally:
        client.close()
