"""A throwaway Docker registry (dockyard-test/registry:2) on a loopback port, for pull tests.

The daemon treats ``localhost:<port>`` as an insecure registry, so plain HTTP works without
daemon configuration. Storage is a host directory, so a test can damage what was pushed.
"""

from __future__ import annotations

import io
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import requests
from testcontainers.core.container import DockerContainer

from support.docker_env import IMAGES, SESSION_LABELS


@dataclass(frozen=True)
class Registry:
    port: int
    storage: Path

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    def blob_files(self, digest: str) -> list[Path]:
        algorithm, hexdigest = digest.split(":", 1)
        return list(
            self.storage.glob(f"docker/registry/v2/blobs/{algorithm}/{hexdigest[:2]}/{hexdigest}/data")
        )


@contextmanager
def running_registry(storage: Path, htpasswd: Path | None = None) -> Iterator[Registry]:
    """Start the registry; with ``htpasswd`` it asks for basic auth (bcrypt entries)."""
    storage.mkdir(parents=True, exist_ok=True)
    container = (
        DockerContainer(IMAGES["registry"])
        .with_kwargs(labels=dict(SESSION_LABELS))
        .with_volume_mapping(storage, "/var/lib/registry", "rw")
    )
    if htpasswd is not None:
        container.with_volume_mapping(htpasswd.parent, "/auth", "ro")
        container.with_env("REGISTRY_AUTH", "htpasswd")
        container.with_env("REGISTRY_AUTH_HTPASSWD_REALM", "dockyard-test")
        container.with_env("REGISTRY_AUTH_HTPASSWD_PATH", f"/auth/{htpasswd.name}")
    # Published on loopback only, on a port the daemon picks.
    container.ports["5000/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]
    container.start()
    try:
        registry = Registry(port=int(container.get_exposed_port(5000)), storage=storage)
        _wait_until_serving(registry)
        yield registry
    finally:
        container.stop()


def _wait_until_serving(registry: Registry, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{registry.port}/v2/", timeout=2).status_code in (200, 401):
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"registry on port {registry.port} did not answer within {within}s")
        time.sleep(0.1)


def push(client: docker.DockerClient, image: str, repository: str, tag: str) -> None:
    """Tag ``image`` as ``repository:tag``, push it, and untag it locally again."""
    client.images.get(image).tag(repository, tag=tag)
    try:
        for line in client.images.push(repository, tag=tag, stream=True, decode=True):
            if "error" in line:
                raise AssertionError(f"push of {repository}:{tag} failed: {line['error']}")
    finally:
        client.images.remove(f"{repository}:{tag}")


def build_unique_image(client: docker.DockerClient, base: str) -> str:
    """An image with a layer no other image has (so pulling it must download that layer)."""
    tag = f"dockyard-test/unique:{uuid.uuid4().hex[:12]}"
    dockerfile = f"FROM {base}\nRUN echo {uuid.uuid4().hex} > /unique\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, labels=dict(SESSION_LABELS), rm=True)
    return tag


def closed_port() -> int:
    """A loopback port nothing listens on (just released by us)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bcrypt_hash(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    # Cost 4 (16 rounds): the registry checks the hash on every request of a push or pull.
    hashed = str(crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))
    if not hashed.startswith("$2"):
        pytest.skip("this libc cannot make the bcrypt hashes the registry needs")
    return hashed
