"""What the agent knows about its own health, for ``GET /api/health``.

Healthy means: the Docker daemon answered at the last check, and the backend answers polls.
The backend counts as unreachable after ``FAILED_POLLS_UNHEALTHY`` failed polls in a row (one
may be a blip; the poll loop checks again within a second after a first failure, so an idle
agent says so within seconds, not after its full backoff), or when no poll has succeeded for
``poll_staleness`` seconds (a poll that hangs never fails). Anything else is unhealthy, with
the reason spelled out; the next good poll makes it healthy again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

FAILED_POLLS_UNHEALTHY = 2
# Idle polls come every 10 s (polling.BACKOFF[-1]); a busy agent polls at least as often.
POLL_STALENESS = 45.0


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    reasons: tuple[str, ...] = ()
    details: dict[str, object] = field(default_factory=dict)


class AgentHealth:
    def __init__(self, *, backend: str = "the backend", poll_staleness: float = POLL_STALENESS) -> None:
        self._backend = backend  # how reasons name it, e.g. its URL
        self._poll_staleness = poll_staleness
        self._lock = threading.Lock()
        self._last_poll_ok: float | None = None
        self._poll_error: str | None = None
        self._failed_polls = 0
        self._daemon_error: str | None = "the Docker daemon has not been checked yet"
        self._daemon_checked = False  # "unchecked" is not "unreachable": a monitor must not page on a start

    def poll_succeeded(self, now: float) -> None:
        with self._lock:
            self._last_poll_ok = now
            self._poll_error = None
            self._failed_polls = 0

    def poll_failed(self, error: str) -> None:
        with self._lock:
            self._poll_error = error
            self._failed_polls += 1

    @property
    def failed_polls(self) -> int:
        """Polls failed since the last one that succeeded."""
        with self._lock:
            return self._failed_polls

    def daemon_ok(self) -> None:
        with self._lock:
            self._daemon_error = None
            self._daemon_checked = True

    def daemon_failed(self, error: str) -> None:
        with self._lock:
            self._daemon_error = error
            self._daemon_checked = True

    @property
    def daemon_is_up(self) -> bool:
        with self._lock:
            return self._daemon_error is None

    def report(self, now: float) -> HealthReport:
        with self._lock:
            reasons = []
            if self._daemon_error:
                reasons.append(self._daemon_error)
            backend_reason = self._backend_reason(now)
            if backend_reason:
                reasons.append(backend_reason)
            details: dict[str, object] = {
                "daemon": self._daemon_status(),
                "backend": self._backend_status(backend_reason),
                "failed_polls": self._failed_polls,
                "last_poll_age_seconds": None
                if self._last_poll_ok is None
                else round(now - self._last_poll_ok, 3),
            }
            return HealthReport(healthy=not reasons, reasons=tuple(reasons), details=details)

    def _daemon_status(self) -> str:  # caller holds the lock
        if not self._daemon_checked:
            return "unchecked"
        return "ok" if self._daemon_error is None else "unreachable"

    def _backend_status(self, backend_reason: str | None) -> str:  # caller holds the lock
        if backend_reason is None:
            return "ok"
        return "unchecked" if self._last_poll_ok is None and self._failed_polls == 0 else "unreachable"

    def _backend_reason(self, now: float) -> str | None:  # caller holds the lock
        error = f": {self._poll_error}" if self._poll_error else ""
        if self._last_poll_ok is None:
            return f"no successful poll of {self._backend} yet{error}"
        if self._failed_polls >= FAILED_POLLS_UNHEALTHY:
            return f"{self._backend} is unreachable ({self._failed_polls} polls in a row failed){error}"
        age = now - self._last_poll_ok
        if age > self._poll_staleness:
            return f"no successful poll of {self._backend} for {age:.0f}s{error}"
        return None
