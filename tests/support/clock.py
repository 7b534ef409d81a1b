"""FakeClock: the Clock port on fake time, for the agent's and the server's tests alike."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
# Runs a FakeBackend holds are due from here on: an agent's clock starts here.
AGENT_START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    """Time moves when a test says so: ``advance`` moves both clocks ahead and ends every
    ``wait`` whose time has come. ``tick`` is added at each reading of ``now``, so that
    successive writes get distinct times.

    With ``real_time`` the clock also runs with the real one, so an agent's loops go on by
    themselves while a test still jumps them ahead (a run's time limit, a backoff) without
    waiting it out.
    """

    def __init__(
        self, start: datetime = START, *, tick: timedelta = timedelta(microseconds=1), real_time: bool = False
    ) -> None:
        self._start = start
        self._tick = tick.total_seconds()
        self._real_time = real_time
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()
        self._waits: dict[object, float] = {}

    def now(self) -> datetime:
        with self._lock:
            self._offset += self._tick
        return self._start + timedelta(seconds=self._elapsed())

    @property
    def moment(self) -> datetime:
        """The instant the last reading of ``now`` gave (or the start): reading it moves no time."""
        return self._start + timedelta(seconds=self._elapsed())

    def monotonic(self) -> float:
        return self._start.timestamp() + self._elapsed()

    def _elapsed(self) -> float:
        with self._lock:
            real = time.monotonic() - self._origin if self._real_time else 0.0
            return real + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def wait(self, event: threading.Event, seconds: float) -> bool:
        deadline = self.monotonic() + seconds
        token = object()
        with self._lock:
            self._waits[token] = seconds
        try:
            while not event.is_set():
                if self.monotonic() >= deadline:
                    return False
                event.wait(0.005)  # an advance is noticed within this
            return True
        finally:
            with self._lock:
                del self._waits[token]

    def waiting(self, seconds: float) -> bool:
        """Whether some thread waits ``seconds`` on this clock now."""
        with self._lock:
            return seconds in self._waits.values()
