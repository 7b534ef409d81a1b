"""ServiceRuntime: a Docker Swarm manager, where each flow run is a service of its own.

Supervision sees the services through ``WorkloadRuntime``: a service's ``ContainerState``
is its one task's (``status`` pending, starting, running, exited, rejected or dead), its id
is the service's, and stopping it stops its task and keeps the service, ended, as the record
of the run until it is removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from dockyard.domain.agent.config import RegistryCredentials
from dockyard.ports.container_runtime import WorkloadRuntime


@runtime_checkable
class ServiceRuntime(WorkloadRuntime, Protocol):
    """``ping`` raises ``ConfigurationError`` when the daemon is not a Swarm manager; the
    ``DaemonInfo`` it returns names the Swarm (its ``id`` is the cluster's), since every
    manager of one Swarm serves the same services."""

    def create_service(
        self, name: str, spec: Mapping[str, Any], credentials: RegistryCredentials | None = None
    ) -> str:
        """Create a service from an Engine API ``ServiceSpec`` (without its ``Name``) under
        ``name``; return its id. The nodes pull its image with ``credentials`` (else those
        the agent host's Docker config holds for the image's registry). Raises
        ``ContainerNameConflict`` if the name is taken."""

    def network_scope(self, name: str) -> str | None:
        """The network's scope (``swarm`` or ``local``), or None if there is no such network."""

    def resolve_image(self, reference: str, credentials: RegistryCredentials | None = None) -> str:
        """``reference`` pinned to the digest its registry serves now (``repo:tag@sha256:...``).
        Raises ``PullFailed`` with the registry's words when it cannot be asked."""
