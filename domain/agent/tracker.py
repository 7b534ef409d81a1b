"""The agent's memory of the runs it has in flight.

A run is in flight from the moment the poller hands it to a deployment worker until its
outcome is recorded. The tracker is what keeps a run from being deployed twice by this
agent, and what the concurrency limit counts. It is shared by the poll loop, the deployment
workers and the supervisor, hence the lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from enum import Enum

from dockyard.domain.agent.labels import FLOW_RUN_ID, FLOW_RUN_NAME, ships_logs, timeout_of
from dockyard.domain.agent.runtime_state import ContainerState


class Phase(Enum):
    DEPLOYING = "deploying"  # claimed; container not started yet
    RUNNING = "running"  # container started (or adopted)
    STOPPING = "stopping"  # asked to stop (cancel or timeout); outcome pending


class StopReason(Enum):
    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"
    REQUEUED = "requeued"  # the backend put the run back in the queue (e.g. Lazarus)


@dataclass(frozen=True)
class TrackedRun:
    run_id: str
    run_name: str = ""
    phase: Phase = Phase.DEPLOYING
    container_id: str | None = None
    started_at: float | None = None  # monotonic seconds when the container started (or was adopted)
    timeout: float | None = None
    ship_logs: bool = False
    stop_reason: StopReason | None = None
    outcome_logged: bool = False  # the failure tail went to the backend already


def running_container(container: ContainerState, *, started_at: float) -> TrackedRun:
    """A running container's run as its labels tell it: what a restarted agent (or one
    taking a container over) knows of a run it did not deploy itself."""
    run_id = container.labels.get(FLOW_RUN_ID, "")
    return TrackedRun(
        run_id=run_id,
        run_name=container.labels.get(FLOW_RUN_NAME, run_id),
        phase=Phase.RUNNING,
        container_id=container.id,
        started_at=started_at,
        timeout=timeout_of(container.labels),
        ship_logs=ships_logs(container.labels),
    )


class Tracker:
    def __init__(self) -> None:
        self._runs: dict[str, TrackedRun] = {}
        self._lock = threading.Lock()

    def claim(self, run_id: str, run_name: str = "") -> bool:
        """Take a run in hand; False if it is already in flight here."""
        with self._lock:
            if run_id in self._runs:
                return False
            self._runs[run_id] = TrackedRun(run_id=run_id, run_name=run_name)
            return True

    def track(self, run: TrackedRun) -> None:
        """Record a run (a deployment that started its container, or an adopted one)."""
        with self._lock:
            self._runs[run.run_id] = run

    def update(self, run_id: str, **changes: object) -> TrackedRun | None:
        with self._lock:
            current = self._runs.get(run_id)
            if current is None:
                return None
            updated = replace(current, **changes)  # type: ignore[arg-type]
            self._runs[run_id] = updated
            return updated

    def release(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def get(self, run_id: str) -> TrackedRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def snapshot(self) -> list[TrackedRun]:
        with self._lock:
            return list(self._runs.values())

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._runs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)
