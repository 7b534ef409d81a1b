"""SystemClock: the real clocks, and waits that end on the event or the time."""

from __future__ import annotations

import threading
import time

from dockyard.adapters.system_clock import SystemClock


def test_a_wait_ends_when_the_event_is_set_or_the_time_is_up() -> None:
    clock, event = SystemClock(), threading.Event()
    started = time.monotonic()
    assert clock.wait(event, 0.05) is False
    assert time.monotonic() - started >= 0.05
    threading.Timer(0.05, event.set).start()
    assert clock.wait(event, 30.0) is True
    assert time.monotonic() - started < 10.0


def test_now_is_utc_and_monotonic_never_goes_back() -> None:
    clock = SystemClock()
    assert clock.now().utcoffset() is not None and clock.now().utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    first = clock.monotonic()
    assert clock.monotonic() >= first
