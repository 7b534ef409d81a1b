"""Real Docker for integration and e2e tests.

Everything a test creates carries ``TEST_LABEL`` with this session's id, so the session
removes exactly what it made (and nothing a concurrent session or a user made).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterable

import docker
import docker.errors

from support.paths import SCRIPTS
from support.swarm import remove_services

TEST_LABEL = "org.dockyard.test-session"
SESSION_ID = uuid.uuid4().hex[:12]
SESSION_LABELS = {TEST_LABEL: SESSION_ID}

# The local images scripts/build-test-images.sh builds, by short name.
IMAGES = {
    "busybox": "dockyard-test/busybox:1",
    "prefect-stub": "dockyard-test/prefect-stub:1",
    "python": "dockyard-test/python:3.11",
    "registry": "dockyard-test/registry:2",
    "prefect": "dockyard-test/prefect:1.4.1",
    "dind": "dockyard-test/dind:20.10",
}

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def ensure_engine() -> None:
    subprocess.run(["bash", str(SCRIPTS / "ensure-engine.sh")], check=True)


def ensure_images(client: docker.DockerClient, names: Iterable[str]) -> None:
    missing = []
    for name in names:
        try:
            client.images.get(IMAGES[name])
        except docker.errors.ImageNotFound:
            missing.append(name)
    if missing:
        subprocess.run(["bash", str(SCRIPTS / "build-test-images.sh"), *missing], check=True)


def remove_labelled(client: docker.DockerClient, label: str) -> None:
    """Remove Swarm services, containers, then networks and volumes, carrying ``label``
    (``key=value``)."""
    remove_services(client, label)
    for container in client.containers.list(all=True, filters={"label": label}, ignore_removed=True):
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):  # its owner is removing it right now
                raise
    for network in client.networks.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
    for volume in client.volumes.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
