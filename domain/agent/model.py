"""What the agent knows about a flow run, read from the backend.

These are plain values: the GraphQL adapter builds them from the metadata query, the use
cases and the planning functions read them. Nothing here talks to anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FlowInfo:
    id: str
    name: str
    core_version: str | None = None
    # Serialized storage (``{"type": "Docker", "registry_url": ..., ...}``) or None.
    storage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TaskRunInfo:
    id: str
    version: int
    serialized_state: Mapping[str, Any]

    @property
    def state(self) -> str:
        return str(self.serialized_state.get("type", ""))


@dataclass(frozen=True)
class FlowRun:
    """A flow run as the agent's metadata query returns it."""

    id: str
    name: str
    version: int
    state: str
    serialized_state: Mapping[str, Any]
    flow: FlowInfo
    run_config: Mapping[str, Any] | None = None
    labels: tuple[str, ...] = ()
    task_runs: tuple[TaskRunInfo, ...] = ()
    # When the backend last recorded this state; used for supervision timing.
    state_timestamp: datetime | None = None

    @property
    def start_time(self) -> str | None:
        """The ``start_time`` of the current state (ISO string), if it has one."""
        value = self.serialized_state.get("start_time")
        return str(value) if value else None


@dataclass(frozen=True)
class RunStatus:
    """The current state of a run, as supervision needs it."""

    id: str
    state: str
    version: int
    message: str | None = None


@dataclass(frozen=True)
class StateUpdate:
    """One state for one run, for writing several in one request."""

    run_id: str
    version: int | None
    state: Mapping[str, Any]


@dataclass(frozen=True)
class RunLog:
    """One run log line for the backend (``write_run_logs``)."""

    flow_run_id: str
    message: str
    level: str = "INFO"
    name: str = "agent"
    timestamp: datetime | None = None
    task_run_id: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerPlan:
    """Everything the agent will ask of Docker for one run, decided before touching it.

    ``body`` is the Docker Engine API container-create body (``Image``, ``Cmd``, ``Env`` as
    ``KEY=VALUE`` strings, ``Labels``, ``HostConfig``, ``NetworkingConfig``...), JSON-ready:
    the runtime adapter sends it as it is, so what ``dockyard agent plan`` prints is exactly
    what gets created.
    """

    name: str
    image: str
    pull: bool  # the image may be pulled when the daemon lacks it (every policy but "never")
    create_volumes: tuple[str, ...]
    connect_networks: tuple[str, ...]
    body: Mapping[str, Any]
    # Env keys whose values are secrets: redacted wherever the plan is shown.
    secret_env: frozenset[str] = frozenset()
    pull_first: bool = False  # pull before creating, present or not (policy "always")
    # How the agent treats the run (also written as labels, for a restarted agent to read):
    timeout: float | None = None  # seconds the run may take
    ship_logs: bool = False  # the container's output becomes run logs

    def env(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.body.get("Env", []))
        return dict(pairs)


@dataclass(frozen=True)
class ServicePlan:
    """Everything the agent will ask of a Docker Swarm for one run (swarm mode), decided
    before touching it: one service whose one task runs the flow run's container.

    ``spec`` is the Engine API ``ServiceSpec`` without its ``Name`` (``Labels``,
    ``TaskTemplate``, ``Mode``), JSON-ready, sent as it is.
    """

    name: str
    image: str
    spec: Mapping[str, Any]
    networks: tuple[str, ...] = ()  # must be swarm-scoped: checked against the Swarm before creating
    # Pin the image to the digest its registry serves now, so every node runs the same one
    # (pull policy "always"); otherwise each node resolves the tag itself.
    resolve_digest: bool = False
    secret_env: frozenset[str] = frozenset()
    timeout: float | None = None
    ship_logs: bool = False

    def env(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.spec["TaskTemplate"]["ContainerSpec"].get("Env", []))
        return dict(pairs)
