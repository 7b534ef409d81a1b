"""Request deadlines: how long one request may work, and how the server cuts work off.

Each request gets a ``Deadline`` when it starts. Resolvers and row fetches check it; while
the request runs, its thread's deadline is also what the store's interrupt check reads, so
a long SQLite statement is stopped too (``RequestDeadlines.current_expired``), and a
PostgreSQL one cancelled (``current_check``). Waiting is not working: a long poll pauses
its deadline. When the server stops, ``cut_off`` brings every deadline, running or yet to
start, forward to the end of the grace period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dockyard.adapters.graphql_api.limits import LimitExceeded
from dockyard.domain.server.errors import ApiError

_NEVER = float("inf")


class ShuttingDown(ApiError):
    """The server is stopping; the client should retry (against the restarted server)."""

    code = "SERVICE_UNAVAILABLE"


class ClientGone(ApiError):
    """The client hung up: nobody is left to answer, so the work stops."""

    code = "CLIENT_CLOSED_REQUEST"


class Deadline:
    def __init__(
        self,
        hub: RequestDeadlines,
        seconds: float,
        client_gone: Callable[[], bool] | None = None,
    ) -> None:
        self._hub, self._seconds = hub, seconds
        self._started = time.monotonic()
        self._at = self._started + seconds
        self._client_gone = client_gone

    def expired(self) -> bool:
        now = time.monotonic()
        if now >= self._at or now >= self._hub.cut_off_at:
            return True
        return self._client_gone is not None and self._client_gone()

    def check(self) -> None:
        """Raise the reason once the deadline has passed: ``LimitExceeded`` naming the time
        limit, ``ShuttingDown`` or ``ClientGone``."""
        if self.expired():
            raise self.error()

    def error(self) -> ApiError:
        now = time.monotonic()
        if now < self._at and self._client_gone is not None and self._client_gone():
            return ClientGone(f"The client hung up after {now - self._started:.1f} s; the work stopped.")
        if self._hub.cut_off_at <= now < self._at:
            return ShuttingDown("The server is shutting down and stopped this request; retry shortly.")
        worked = now - self._started
        message = f"The request was stopped after {worked:.1f} s of work"
        return LimitExceeded("time_limit", self._seconds, f"{worked:.1f} s", message)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside the block (waiting, not working) does not count."""
        began = time.monotonic()
        try:
            yield
        finally:
            self._at += time.monotonic() - began


class RequestDeadlines:
    """Hands out deadlines and knows the current thread's (for the store's interrupt check)."""

    def __init__(self, time_limit: float) -> None:
        self.time_limit = time_limit
        self.cut_off_at = _NEVER
        self._local = threading.local()

    def start(self, client_gone: Callable[[], bool] | None = None) -> Deadline:
        return Deadline(self, self.time_limit, client_gone)

    @contextmanager
    def running(self, deadline: Deadline) -> Iterator[Deadline]:
        """Make ``deadline`` the current thread's while the block runs."""
        self._local.deadline = deadline
        try:
            yield deadline
        finally:
            self._local.deadline = None

    def current_expired(self) -> bool:
        """Whether the current thread's request is out of time (False outside requests)."""
        deadline: Deadline | None = getattr(self._local, "deadline", None)
        return deadline is not None and deadline.expired()

    def current_check(self) -> Callable[[], bool] | None:
        """The current thread's request's ``expired``, to be asked from another thread (a
        watchdog that cancels a PostgreSQL statement); None outside requests."""
        deadline: Deadline | None = getattr(self._local, "deadline", None)
        return None if deadline is None else deadline.expired

    @property
    def stopping(self) -> bool:
        return self.cut_off_at != _NEVER

    def cut_off(self, grace: float) -> None:
        """The server is stopping: every request must end within ``grace`` seconds."""
        self.cut_off_at = min(self.cut_off_at, time.monotonic() + grace)
