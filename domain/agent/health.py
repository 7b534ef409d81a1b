"""What the agent knows about its own health, for ``GET /api/health``.

Healthy means: the Docker daemon answered at the last check, and a poll of the backend
succeeded recently. Anything else is unhealthy, with the reason spelled out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    reasons: tuple[str, ...] = ()
    details: dict[str, object] = field(default_factory=dict)


class AgentHealth:
    def __init__(self, *, poll_staleness: float = 60.0) -> None:
        # A poll older than this means the loop is stuck or the backend is unreachable.
        self._poll_staleness = poll_staleness
        self._lock = threading.Lock()
        self._last_poll_ok: float | None = None
        self._poll_error: str | None = None
        self._daemon_error: str | None = "the Docker daemon has not been checked yet"
        self._started = False

    def poll_succeeded(self, now: float) -> None:
        with self._lock:
            self._last_poll_ok = now
            self._poll_error = None

    def poll_failed(self, error: str) -> None:
        with self._lock:
            self._poll_error = error

    def daemon_ok(self) -> None:
        with self._lock:
            self._daemon_error = None

    def daemon_failed(self, error: str) -> None:
        with self._lock:
            self._daemon_error = error

    @property
    def daemon_is_up(self) -> bool:
        with self._lock:
            return self._daemon_error is None

    def report(self, now: float) -> HealthReport:
        with self._lock:
            reasons = []
            if self._daemon_error:
                reasons.append(self._daemon_error)
            if self._last_poll_ok is None:
                reasons.append(self._poll_error or "no successful poll of the backend yet")
            elif now - self._last_poll_ok > self._poll_staleness:
                age = now - self._last_poll_ok
                reasons.append(
                    f"last successful poll was {age:.0f}s ago"
                    + (f": {self._poll_error}" if self._poll_error else "")
                )
            details: dict[str, object] = {
                "daemon": "ok" if self._daemon_error is None else "unreachable",
                "last_poll_age_seconds": None
                if self._last_poll_ok is None
                else round(now - self._last_poll_ok, 3),
            }
            return HealthReport(healthy=not reasons, reasons=tuple(reasons), details=details)
