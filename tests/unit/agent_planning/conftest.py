"""Agent settings tests read only the environment they set: the agent's, Prefect's and
Docker's variables of the machine running them are put aside."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("PREFECT__", "DOCKYARD_AGENT_", "DOCKER_")):
            monkeypatch.delenv(name)
    yield
