"""The agent's HTTP API on a real loopback socket: health mirrors the agent, poke wakes it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from dockyard.adapters.agent_api import AgentApiServer
from dockyard.domain.agent.health import HealthReport


class State:
    def __init__(self) -> None:
        self.report = HealthReport(healthy=True, details={"daemon": "ok"})
        self.poked = threading.Event()


@pytest.fixture
def api() -> Iterator[tuple[str, State]]:
    state = State()
    server = AgentApiServer("127.0.0.1", 0, health=lambda: state.report, poke=state.poked.set)
    server.start()
    host, port = server.address
    try:
        yield f"http://{host}:{port}", state
    finally:
        server.stop()


def test_health_is_200_when_healthy_and_503_with_reasons_when_not(api: tuple[str, State]) -> None:
    url, state = api
    ok = requests.get(f"{url}/api/health", timeout=5)
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    state.report = HealthReport(healthy=False, reasons=("the Docker daemon is unreachable: refused",))
    bad = requests.get(f"{url}/api/health", timeout=5)
    assert bad.status_code == 503
    assert bad.json()["reasons"] == ["the Docker daemon is unreachable: refused"]


def test_poke_wakes_the_agent(api: tuple[str, State]) -> None:
    url, state = api
    assert requests.get(f"{url}/api/poke", timeout=5).status_code == 200
    assert state.poked.is_set()


def test_other_methods_and_paths_are_refused(api: tuple[str, State]) -> None:
    url, state = api
    assert requests.post(f"{url}/api/poke", timeout=5).status_code == 405
    assert not state.poked.is_set()
    assert requests.get(f"{url}/nope", timeout=5).status_code == 404
