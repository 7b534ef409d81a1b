"""ContainerRuntime: where flow runs execute (the Docker daemon), and the part of it
supervision needs (``WorkloadRuntime``), which a Swarm service runtime has too."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.agent.runtime_state import ContainerState, DaemonInfo, ImageInfo, PullProgress


@runtime_checkable
class WorkloadRuntime(Protocol):
    """Where runs execute, as supervision sees them: one workload per run, described as a
    ``ContainerState``. A container (``ContainerRuntime``), or in swarm mode a Swarm service
    whose one task runs the container (``ServiceRuntime``): the methods below then act on
    the service. Every method raises ``RuntimeUnavailable`` when the daemon cannot be
    reached and ``RuntimeRequestFailed`` (or a subclass) when it answers with an error."""

    def ping(self) -> DaemonInfo:
        """Check the daemon answers; return who it is."""

    def start_container(self, container_id: str) -> None:
        """Start a created container."""

    def inspect_container(self, container_id: str) -> ContainerState | None:
        """The container's state, or None if it no longer exists."""

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ContainerState]:
        """Containers in any status carrying every given label (value None: any value).
        Exit code, OOM flag and error are filled in for ended containers (times and the
        OOM flag only where the exit was not clean); ``inspect_container`` gives all."""

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after the grace period. A missing or stopped container is
        not an error."""

    def remove_container(self, container_id: str) -> None:
        """Remove (forcefully). Idempotent: a missing container is not an error."""

    def container_logs(self, container_id: str, tail: int | None = None) -> bytes:
        """Stdout and stderr so far, interleaved; the last ``tail`` lines if given."""

    def follow_logs(
        self, container_id: str, *, timestamps: bool = False, since: datetime | None = None
    ) -> Iterator[bytes]:
        """Stdout and stderr as they come, until the container ends: from the start, or
        from the second ``since`` falls in. With ``timestamps`` each line starts with
        Docker's RFC 3339 timestamp (nanoseconds, UTC) and a space."""


@runtime_checkable
class ContainerRuntime(WorkloadRuntime, Protocol):
    """A Docker daemon that runs each flow run as a container of its own."""

    def pull_image(
        self,
        reference: str,
        credentials: RegistryCredentials | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> ImageInfo:
        """Pull ``reference``. Raises ``PullFailed`` with the registry's message, including
        errors reported inside the pull stream. ``progress`` is called with the pull's
        progress so far as the registry reports it (often: per chunk), and once at the end."""

    def ensure_volume(self, name: str, labels: Mapping[str, str]) -> bool:
        """Create the named volume unless it exists. True if it was created."""

    def create_container(self, name: str, body: Mapping[str, Any]) -> str:
        """Create (not start) a container from an Engine API body; return its id.
        Raises ``ContainerNameConflict`` if the name is taken, ``ImageNotFound`` if the
        image is missing."""

    def connect_network(self, container_id: str, network: str) -> None:
        """Attach a created container to another network."""
