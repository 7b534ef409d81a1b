"""What the container runtime reports: the daemon, images and containers, as plain values.

The runtime adapter builds them; supervision decides on them (``outcomes``, ``ownership``).
They live in the domain so that the ports can name them without the domain depending on
the ports. In swarm mode a run's workload is a Swarm service, whose one task runs the
container: the Swarm adapter describes the service by its task in the same terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class DaemonInfo:
    id: str
    version: str
    api_version: str
    os_type: str  # "linux" or "windows": decides how volume specs are read


@dataclass(frozen=True)
class ImageInfo:
    id: str
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class PullProgress:
    """How far a pull is, summed over the image's layers as the registry reports them."""

    layers: int = 0  # layers of the image seen so far
    layers_done: int = 0  # of those, pulled or already on the daemon
    layers_present: int = 0  # of those, already on the daemon (nothing to download)
    downloaded_bytes: int = 0  # bytes downloaded so far
    total_bytes: int = 0  # bytes to download, over the layers whose size is known yet


@dataclass(frozen=True)
class ContainerState:
    """A container as the daemon reports it (or a Swarm service, as its task tells it)."""

    id: str
    name: str
    # Docker's: created, running, paused, restarting, removing, exited, dead. A Swarm
    # service's adds: pending (no node has taken its task yet; ``error`` says why), starting
    # (a node is preparing it: pulling, creating) and rejected (its node refused it).
    status: str
    labels: Mapping[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES


ENDED_STATUSES = frozenset({"exited", "dead", "rejected"})
