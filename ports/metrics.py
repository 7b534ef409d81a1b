"""Metrics: what the use cases report about their work, for an operator to watch.

The domain calls these at the moments that matter (a run claimed, a container started, a
pull done, a service pass over); an adapter turns them into Prometheus metrics. The
``NO_*`` objects do nothing: the default wherever no one is watching (tests, embedders).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class AgentMetrics(Protocol):
    """Called from the agent's threads (poll loop, deployment workers, supervisor): an
    implementation must be thread-safe."""

    def run_claimed(self) -> None:
        """A run was taken from the queue (its Submitted state written by this agent)."""

    def run_deployed(self, *, since_ready: float, since_scheduled: float) -> None:
        """A run's container started: ``since_ready`` seconds after the agent had it claimed
        and due, ``since_scheduled`` seconds after its scheduled start time."""

    def deploy_failed(self) -> None:
        """A run could not be deployed and ended Failed (refused, or Docker said no)."""

    def run_requeued(self) -> None:
        """A claimed run went back to the queue (the daemon was away, or the agent stopped)."""

    def run_settled(self, state: str) -> None:
        """A run's container ended and its final state (``Success``, ``Failed``...) is
        recorded, by the agent or by the flow runner inside."""

    def runs_in_flight(self, *, deploying: int, running: int) -> None:
        """How many runs the agent holds now (what ``--limit`` counts), by phase."""

    def containers_running(self, count: int) -> None:
        """How many of this agent's flow-run containers Docker shows running now."""

    def pull(self, *, seconds: float, ok: bool, downloaded_bytes: int) -> None:
        """An image pull ended."""

    def poll(self, *, seconds: float, ok: bool) -> None:
        """A poll of the backend's queue ended."""

    def backend_error(self, kind: str) -> None:
        """A request to the backend failed: ``unavailable`` (no answer) or ``error``."""

    def daemon_error(self, kind: str) -> None:
        """A request to the Docker daemon failed: ``unavailable`` (no answer) or ``error``."""


class ServicesMetrics(Protocol):
    def service_pass(self, service: str, *, seconds: float, ok: bool, actions: Mapping[str, int]) -> None:
        """One pass of a background service ended; ``actions``: what it did, by kind
        (e.g. ``{"created": 3}`` for the scheduler)."""


class _NoAgentMetrics:
    def run_claimed(self) -> None:
        pass

    def run_deployed(self, *, since_ready: float, since_scheduled: float) -> None:
        pass

    def deploy_failed(self) -> None:
        pass

    def run_requeued(self) -> None:
        pass

    def run_settled(self, state: str) -> None:
        pass

    def runs_in_flight(self, *, deploying: int, running: int) -> None:
        pass

    def containers_running(self, count: int) -> None:
        pass

    def pull(self, *, seconds: float, ok: bool, downloaded_bytes: int) -> None:
        pass

    def poll(self, *, seconds: float, ok: bool) -> None:
        pass

    def backend_error(self, kind: str) -> None:
        pass

    def daemon_error(self, kind: str) -> None:
        pass


class _NoServicesMetrics:
    def service_pass(self, service: str, *, seconds: float, ok: bool, actions: Mapping[str, int]) -> None:
        pass


NO_AGENT_METRICS: AgentMetrics = _NoAgentMetrics()
NO_SERVICES_METRICS: ServicesMetrics = _NoServicesMetrics()
