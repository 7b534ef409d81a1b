"""AgentLeases: one live agent process per agent name and Docker daemon on a host.

The lease is what lets a restarted agent take over its predecessor's containers and claims
at once (holding it proves the predecessor has ended) and what refuses a second agent that
would serve the same name beside a live one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Lease:
    id: str  # the same for every process that holds this lease on this host, one after another
    previous_holder: str | None = None  # the instance id of the last holder, which has ended


@runtime_checkable
class AgentLeases(Protocol):
    def acquire(self, agent: str, daemon: str, instance: str) -> Lease:
        """Take the lease on (``agent``, ``daemon``) for this process, recorded as held by
        ``instance``. It is released when the process ends, however it ends. Raises
        ``AgentNameInUse`` naming the holder when a live process holds it, and
        ``ConfigurationError`` when the lease cannot be kept where it is configured to be."""

    def release(self, lease: Lease) -> None:
        """Give the lease up before the process ends (idempotent)."""
