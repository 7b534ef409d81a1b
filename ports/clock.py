"""Clock: time, so that use cases can be tested without waiting."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Block until ``event`` is set or ``seconds`` pass on this clock; True if the event
        is set (as ``threading.Event.wait``). Every timed wait of the use cases goes through
        here, so a fake clock can run them on fake time."""
