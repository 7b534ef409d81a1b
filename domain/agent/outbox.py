"""What the agent owes the backend: run logs, sent in batches, and states it could not
write when it meant to.

"Submitted for execution", outcome messages, a container's output and the like are many
small writes; sending them together saves a request per line. Each log is stamped when it
is made, so batching never reorders what a user reads. A failed send keeps what it held
for the next flush (the backend may be away for a while); nothing is given up on but the
oldest logs beyond a bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from dockyard.domain.agent.model import RunLog, StateUpdate
from dockyard.domain.errors import DockyardError
from dockyard.ports.backend import Backend

log = logging.getLogger("dockyard.agent")


class LogBatch:
    """Run logs on their way to the backend through ``send``.

    ``flush`` sends everything pending, one send at a time, so batches arrive in order; with
    ``batch_size``, ``put`` flushes as soon as that many are pending. A send that fails with
    a ``DockyardError`` keeps its logs ahead of newer ones; beyond ``max_pending`` (None: no
    bound) the oldest are dropped, with a warning. Thread-safe.
    """

    def __init__(
        self,
        send: Callable[[Sequence[RunLog]], None],
        *,
        batch_size: int | None = None,
        max_pending: int | None = 10_000,
    ) -> None:
        self._send = send
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._pending: list[RunLog] = []
        self._failing = False
        self._lock = threading.Lock()
        self._sending = threading.Lock()  # one send at a time keeps the order

    def put(self, *logs: RunLog) -> None:
        with self._lock:
            self._pending.extend(logs)
            self._bound()
            full = self._batch_size is not None and len(self._pending) >= self._batch_size
        if full:
            self.flush()

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
                # Said once per outage: a backend that is away fails every flush.
                level = logging.DEBUG if self._failing else logging.WARNING
                log.log(level, "Could not write %d run logs (will retry): %s", len(batch), exc)
                with self._lock:
                    self._failing = True
                    self._pending[:0] = batch
                    self._bound()
                return False
            with self._lock:
                self._failing = False
            return True

    def _bound(self) -> None:  # caller holds the lock
        if self._max_pending is None:
            return
        dropped = len(self._pending) - self._max_pending
        if dropped > 0:
            del self._pending[:dropped]
            log.warning("Dropped %d run logs the backend could not take", dropped)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


class Outbox:
    """The agent's own run logs (batched), and the final states it owes: a deployment's
    Failed state that could not be written is written again at every flush, after the
    logs, until the backend takes it."""

    def __init__(self, backend: Backend, *, max_logs: int = 10_000) -> None:
        self._backend = backend
        self._logs = LogBatch(backend.write_run_logs, max_pending=max_logs)
        self._states: dict[str, StateUpdate] = {}
        self._lock = threading.Lock()

    def put_log(self, *logs: RunLog) -> None:
        self._logs.put(*logs)

    def put_state(self, update: StateUpdate) -> None:
        with self._lock:
            self._states[update.run_id] = update

    def flush(self) -> bool:
        """Send the logs, then the states owed; False if anything is left for next time."""
        sent = self._logs.flush()
        with self._lock:
            owed = list(self._states.values())
        for update in owed:
            try:
                self._backend.set_flow_run_state(update.run_id, update.version, update.state)
            except DockyardError:
                return False  # the backend is still away: try again next time
            with self._lock:
                if self._states.get(update.run_id) is update:
                    del self._states[update.run_id]
        return sent

    def __len__(self) -> int:
        with self._lock:
            return len(self._logs) + len(self._states)
