"""Heartbeats for the runs that have no flow runner inside to send them.

Prefect Server's services (and dockyard's) take a Submitted or Running flow run that has
sent no heartbeat for a while for dead, and reschedule it. A Prefect flow runner sends its
own heartbeats, and its silence is exactly what should be noticed (a hung or frozen
container), so the agent leaves those alone. But a run with a plain ``command`` has nothing
inside that speaks to the backend, and a run still being deployed (a long pull) has no
container yet: for those the agent is the one that knows the run is alive, and says so
while the run's container is running (not paused) or its deployment is under way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from dockyard.domain.agent.runtime_state import ContainerState
from dockyard.domain.agent.tracker import Phase, TrackedRun
from dockyard.domain.errors import DockyardError
from dockyard.ports.backend import Backend
from dockyard.ports.clock import Clock

log = logging.getLogger("dockyard.agent")

# Prefect 1's flow runner beats every 30 s (PREFECT__CLOUD__HEARTBEAT_INTERVAL).
HEARTBEAT_INTERVAL = 30.0
# A running container; a Swarm service's task also while it waits for a node or a node
# prepares it (pulls its image): the run is alive then too.
ALIVE = frozenset({"running", "pending", "starting"})


class Heartbeats:
    def __init__(self, backend: Backend, clock: Clock, *, interval: float = HEARTBEAT_INTERVAL) -> None:
        self._backend = backend
        self._clock = clock
        self._interval = interval
        self._last: dict[str, float] = {}

    def beat(self, tracked: Iterable[TrackedRun], containers: Mapping[str, ContainerState]) -> None:
        """Send the heartbeats that are due, in one request."""
        now = self._clock.monotonic()
        alive = {run.run_id for run in tracked if _speaks_for(run, containers.get(run.run_id))}
        self._last = {run_id: at for run_id, at in self._last.items() if run_id in alive}
        due = sorted(r for r in alive if now - self._last.get(r, float("-inf")) >= self._interval)
        if not due:
            return
        try:
            self._backend.heartbeat(due)
        except DockyardError as exc:
            log.debug("Could not send heartbeats for %d run(s): %s", len(due), exc)
            return
        self._last.update(dict.fromkeys(due, now))


def _speaks_for(run: TrackedRun, container: ContainerState | None) -> bool:
    if run.phase is Phase.DEPLOYING:
        return True
    return run.ship_logs and container is not None and container.status in ALIVE
