"""A remote daemon over TLS: a second dockerd on a loopback port with generated
certificates, reached through build_docker_client."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from dockyard.adapters.docker_client import TlsSettings, build_docker_client
from dockyard.adapters.docker_runtime import DockerContainerRuntime
from dockyard.domain.errors import RuntimeUnavailable
from support.containers import eventually
from support.docker_env import SESSION_LABELS
from support.tls_daemon import TlsDaemon, dockerd_missing, make_certificates, tls_daemon

UNTIL_TERM = "trap 'echo bye; exit 0' TERM; echo hello; while true; do sleep 0.1; done"


@pytest.fixture(scope="module")
def remote(docker_client: docker.DockerClient) -> Iterator[TlsDaemon]:
    reason = dockerd_missing()
    if reason:
        pytest.skip(f"cannot start a second Docker daemon: {reason}")
    with tls_daemon() as daemon:
        yield daemon


def _settings(remote: TlsDaemon) -> TlsSettings:
    certs = remote.certs
    return TlsSettings(ca_cert=str(certs.ca), client_cert=str(certs.cert), client_key=str(certs.key))


@pytest.fixture(scope="module")
def remote_runtime(remote: TlsDaemon) -> Iterator[DockerContainerRuntime]:
    client = build_docker_client(remote.url, 60, tls=_settings(remote))
    yield DockerContainerRuntime(client)
    client.close()


def test_ping_over_tls_reaches_the_second_daemon(
    remote_runtime: DockerContainerRuntime, docker_client: docker.DockerClient
) -> None:
    info = remote_runtime.ping()

    assert info.id and info.id != docker_client.info()["ID"]
    assert info.os_type == "linux"
    assert info.api_version


def test_the_docker_environment_variables_select_the_tls_daemon(
    remote: TlsDaemon, remote_runtime: DockerContainerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", remote.url)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(remote.certs.directory))

    client = build_docker_client(None, 30)
    try:
        assert DockerContainerRuntime(client).ping().id == remote_runtime.ping().id
    finally:
        client.close()


def test_the_daemon_ca_is_used_whatever_the_ca_bundle_variables_say(
    remote: TlsDaemon, remote_runtime: DockerContainerRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # requests would otherwise check the daemon against this (unrelated) bundle.
    unrelated = make_certificates(tmp_path / "unrelated")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(unrelated.ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(unrelated.ca))

    client = build_docker_client(remote.url, 30, tls=_settings(remote))
    try:
        assert DockerContainerRuntime(client).ping().id == remote_runtime.ping().id
    finally:
        client.close()


@pytest.mark.parametrize(
    ("what", "settings"),
    [
        ("no client certificate", lambda remote, other: TlsSettings(ca_cert=str(remote.certs.ca))),
        ("no TLS at all", lambda remote, other: None),
        (
            "a CA that did not sign the daemon",
            lambda remote, other: TlsSettings(
                ca_cert=str(other.ca), client_cert=str(remote.certs.cert), client_key=str(remote.certs.key)
            ),
        ),
    ],
)
def test_a_failed_tls_handshake_is_named(
    remote: TlsDaemon, tmp_path: Path, what: str, settings: Callable[..., TlsSettings | None]
) -> None:
    other = make_certificates(tmp_path / "other")
    client = build_docker_client(remote.url, 30, tls=settings(remote, other))
    try:
        with pytest.raises(RuntimeUnavailable, match="TLS"):
            DockerContainerRuntime(client).ping()
    finally:
        client.close()


@pytest.fixture(scope="module")
def remote_busybox(
    remote: TlsDaemon,
    remote_runtime: DockerContainerRuntime,
    docker_client: docker.DockerClient,
    test_image: Callable[[str], str],
) -> str:
    """The busybox test image, copied from the main daemon (the second one has none)."""
    busybox = test_image("busybox")
    archive = b"".join(docker_client.images.get(busybox).save(named=True))
    client = build_docker_client(remote.url, 60, tls=_settings(remote))
    try:
        client.images.load(archive)
    finally:
        client.close()
    assert remote_runtime.inspect_image(busybox) is not None
    return busybox


def _body(image: str, script: str) -> dict[str, object]:
    # The second daemon has no bridge network.
    return {
        "Image": image,
        "Cmd": ["sh", "-c", script],
        "Labels": SESSION_LABELS,
        "HostConfig": {"NetworkMode": "none"},
    }


def test_a_container_runs_on_the_remote_daemon(
    remote_runtime: DockerContainerRuntime, remote_busybox: str
) -> None:
    container_id = remote_runtime.create_container(
        "dockyard-remote-run", _body(remote_busybox, "echo over TLS; exit 4")
    )
    remote_runtime.start_container(container_id)

    followed = b"".join(remote_runtime.follow_logs(container_id))
    state = remote_runtime.wait_container(container_id)
    remote_runtime.remove_container(container_id)

    assert followed == b"over TLS\n"
    assert state is not None and state.exit_code == 4
    assert remote_runtime.inspect_container(container_id) is None


def test_thirty_tls_streams_at_once_keep_their_connections(
    remote_runtime: DockerContainerRuntime, remote_busybox: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Over TCP every request shares one connection pool per host: more streams than its
    # size would mean connections discarded with "Connection pool is full" warnings.
    caplog.set_level(logging.WARNING, logger="urllib3")
    ids = []
    for number in range(30):
        ids.append(
            remote_runtime.create_container(f"dockyard-remote-{number}", _body(remote_busybox, UNTIL_TERM))
        )
        remote_runtime.start_container(ids[-1])
    received: dict[str, list[bytes]] = {container_id: [] for container_id in ids}
    followers = [
        threading.Thread(target=lambda c=container_id: received[c].extend(remote_runtime.follow_logs(c)))
        for container_id in ids
    ]
    try:
        for follower in followers:
            follower.start()
        eventually(
            lambda: all(b"hello" in b"".join(chunks) for chunks in received.values()), what="30 hellos"
        )
        stoppers = [threading.Thread(target=remote_runtime.stop_container, args=(c, 30)) for c in ids]
        for thread in stoppers:
            thread.start()
        for thread in stoppers + followers:
            thread.join(timeout=120)
    finally:
        for container_id in ids:
            remote_runtime.remove_container(container_id)

    assert {c: b"".join(chunks) for c, chunks in received.items()} == dict.fromkeys(ids, b"hello\nbye\n")
    assert not [record.getMessage() for record in caplog.records if "pool is full" in record.getMessage()]
