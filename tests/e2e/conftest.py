"""Fixtures shared by the e2e tests: a server process and the agent processes a test
starts (each removed with everything it created, even when the test fails)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from support.agent_process import AgentProcess
from support.server_process import ServerProcess, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A dockyard server on a fresh database (a module may define its own)."""
    with running_server(tmp_path / "dockyard.db") as running:
        yield running


@pytest.fixture
def agents(docker_client: docker.DockerClient) -> Iterator[list[AgentProcess]]:
    """Append the agents a test starts; they are killed and their containers removed."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.cleanup(docker_client)
