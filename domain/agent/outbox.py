"""RunLogOutbox: the run logs the agent writes about runs, sent in batches.

"Submitted for execution", outcome messages and the like are many small writes; sending
them together each supervision pass saves a request per message. Each log is stamped when
it is made, so batching never reorders what a user reads. A failed send keeps the logs for
the next pass, up to a bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from dockyard.domain.agent.model import RunLog
from dockyard.domain.errors import DockyardError

log = logging.getLogger("dockyard.agent")


class RunLogOutbox:
    def __init__(self, send: Callable[[Sequence[RunLog]], None], *, max_pending: int = 10_000) -> None:
        self._send = send
        self._max_pending = max_pending
        self._pending: list[RunLog] = []
        self._lock = threading.Lock()
        self._sending = threading.Lock()  # one send at a time keeps the order

    def put(self, *logs: RunLog) -> None:
        with self._lock:
            self._pending.extend(logs)
            dropped = len(self._pending) - self._max_pending
            if dropped > 0:
                del self._pending[:dropped]
                log.warning("Dropped %d run logs the backend could not take", dropped)

    def flush(self) -> bool:
        """Send everything pending; False if the backend could not take it (kept)."""
        with self._sending:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return True
            try:
                self._send(batch)
            except DockyardError as exc:
                log.warning("Could not write %d run logs (will retry): %s", len(batch), exc)
                with self._lock:
                    self._pending[:0] = batch
                return False
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)
