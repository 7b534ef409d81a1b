"""QueueSignal: lets agents wait for the queue to change instead of polling blindly.

Every change that can give an agent new work (a run created, a run or task run put back
into a scheduled state) bumps a version once its unit of work has committed; an agent
long-polls with the version it last saw and is answered as soon as it differs. Versions
start from the wall clock (seconds since late 2023, so they fit GraphQL's 32-bit Int): a
restarted server answers with a different version, which wakes agents once.
The number of waiting agents is bounded: each one holds a server thread.

Servers sharing one database tell each other: ``publish`` (an adapter's, given at
construction) carries each bump to the others, and ``changed_elsewhere`` is how a change
another server published reaches this one's waiting agents.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dockyard.domain.server.errors import ApiError

MAX_WAIT_SECONDS = 60.0
_EPOCH = 1_700_000_000


class TooManyListeners(ApiError):
    code = "TOO_MANY_LISTENERS"


class QueueSignal:
    def __init__(self, *, max_waiters: int = 8, publish: Callable[[], None] | None = None) -> None:
        self._publish = publish
        self._changed = threading.Condition()
        self._version = int(time.time()) - _EPOCH
        self._waiters = 0
        self._max_waiters = max_waiters
        self._closing = False

    @property
    def version(self) -> int:
        with self._changed:
            return self._version

    def bump(self) -> None:
        """The queue changed here (and has committed): wake this server's agents, and tell
        the servers sharing the database."""
        self._advance()
        if self._publish is not None:
            self._publish()

    def changed_elsewhere(self) -> None:
        """Another server sharing the database published a change."""
        self._advance()

    def _advance(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def release_all(self) -> None:
        """The server is stopping: answer every waiting agent now (each holds a server
        thread the shutdown would otherwise wait for) and make later waits return at once."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()

    def wait(self, after: int | None, timeout: float) -> int:
        """The current version, once it differs from ``after`` or ``timeout`` (at most a
        minute) has passed; at once when ``after`` is None or already stale."""
        timeout = max(0.0, min(timeout, MAX_WAIT_SECONDS))
        with self._changed:
            if after is None or after != self._version or timeout == 0 or self._closing:
                return self._version
            if self._waiters >= self._max_waiters:
                raise TooManyListeners(
                    "Too many agents are waiting for queue changes already; poll on your schedule instead."
                )
            self._waiters += 1
            try:
                self._changed.wait_for(lambda: self._version != after or self._closing, timeout)
            finally:
                self._waiters -= 1
            return self._version
