"""The Docker adapter against the real daemon that scripts/ensure-engine.sh provides."""

from __future__ import annotations

import docker
import pytest

from dockyard.adapters.docker_runtime import DockerContainerRuntime
from dockyard.domain.errors import RuntimeUnavailable


def test_ping_reports_the_real_daemon(docker_client: docker.DockerClient) -> None:
    info = DockerContainerRuntime(docker_client).ping()

    expected = docker_client.info()
    assert info.id == expected["ID"]
    assert info.os_type == "linux"
    assert info.version == docker_client.version()["Version"]
    assert int(info.api_version.split(".")[0]) >= 1


def test_ping_of_an_absent_daemon_is_runtime_unavailable(tmp_path: object) -> None:
    client = docker.DockerClient(base_url=f"unix://{tmp_path}/no-such.sock", version="1.41", timeout=2)
    with pytest.raises(RuntimeUnavailable) as refused:
        DockerContainerRuntime(client).ping()
    # The whole reason, with the socket it was looking for.
    assert str(refused.value) == (
        f"Docker daemon at unix://{tmp_path}/no-such.sock not reachable: no such socket file"
    )
