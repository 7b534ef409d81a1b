"""Fixtures shared by the Docker adapter's integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import docker
import pytest

from dockyard.adapters.docker_client import build_docker_client
from dockyard.adapters.docker_runtime import DockerContainerRuntime
from support.containers import Case, case_on


@pytest.fixture(scope="module")
def runtime(docker_client: docker.DockerClient) -> Iterator[DockerContainerRuntime]:
    client = build_docker_client(None, 60)
    yield DockerContainerRuntime(client)
    client.close()


@pytest.fixture
def case(docker_client: docker.DockerClient, runtime: DockerContainerRuntime) -> Iterator[Case]:
    with case_on(docker_client, runtime) as case:
        yield case


@pytest.fixture
def busybox(test_image: Callable[[str], str]) -> str:
    return test_image("busybox")
