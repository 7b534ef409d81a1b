"""What the backend's use cases are given besides a request's arguments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.domain.server.names import random_run_name
from dockyard.domain.server.notifications import QueueSignal
from dockyard.domain.server.timestamps import canonical

if TYPE_CHECKING:
    from dockyard.ports.clock import Clock
    from dockyard.ports.run_store import RunStore


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the request headers: ``X-PREFECT-AGENT-ID`` and
    ``X-PREFECT-CORE-VERSION``."""

    agent_id: str | None = None
    core_version: str | None = None


ANONYMOUS = Caller()


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass
class Dependencies:
    store: RunStore
    clock: Clock
    new_id: Callable[[], str] = new_uuid
    run_name: Callable[[], str] = field(default=random_run_name)
    queue_signal: QueueSignal = field(default_factory=QueueSignal)

    def now(self) -> str:
        return canonical(self.clock.now())
