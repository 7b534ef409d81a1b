"""Container output, turned into lines: for the agent's stdout (``show_flow_logs``) and for
run logs shipped to the backend.

Docker hands out byte chunks that need not end at a line, or even at a character: decoding
is incremental, so a multi-byte character split across chunks stays whole.
"""

from __future__ import annotations

import codecs
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from dockyard.domain.agent.model import RunLog

# What run logs from container output are called in the backend.
CONTAINER_LOG_NAME = "container"


class LineSplitter:
    """Bytes in, complete text lines out (without their line endings)."""

    def __init__(self, max_line: int = 16384) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._max_line = max_line

    def feed(self, chunk: bytes) -> list[str]:
        text = self._pending + self._decoder.decode(chunk)
        *lines, self._pending = text.split("\n")
        # A line without an end must not grow without bound.
        while len(self._pending) > self._max_line:
            lines.append(self._pending[: self._max_line])
            self._pending = self._pending[self._max_line :]
        return [line.rstrip("\r") for line in lines]

    def flush(self) -> list[str]:
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return [text.rstrip("\r")] if text else []


_DOCKER_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ")


def split_timestamp(line: str) -> tuple[datetime | None, str]:
    """Docker's ``2026-01-02T03:04:05.123456789Z text`` → (the instant, ``text``); a line
    without that prefix comes back whole, with no instant."""
    match = _DOCKER_TIME.match(line)
    if match is None:
        return None, line
    whole, fraction = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime.fromisoformat(whole).replace(microsecond=micros, tzinfo=UTC)
    return moment, line[match.end() :]


class RunLogShipper:
    """Batches one run's output lines into ``write_run_logs`` calls, up to a byte cap.

    Lines beyond the cap are dropped, with one note saying so; a failed write is kept and
    retried with the next batch, so a backend hiccup loses nothing.
    """

    def __init__(
        self,
        run_id: str,
        send: Callable[[Sequence[RunLog]], None],
        *,
        max_bytes: int = 1_000_000,
        batch_lines: int = 200,
    ) -> None:
        self._run_id = run_id
        self._send = send
        self._max_bytes = max_bytes
        self._batch_lines = batch_lines
        self._pending: list[RunLog] = []
        self._shipped_bytes = 0
        self._truncated = False
        self._lock = threading.Lock()

    @property
    def truncated(self) -> bool:
        return self._truncated

    def add(self, line: str, timestamp: datetime | None = None) -> None:
        with self._lock:
            if self._truncated:
                return
            size = len(line.encode("utf-8", "replace")) + 1
            if self._shipped_bytes + size > self._max_bytes:
                self._truncated = True
                note = (
                    f"Output truncated: only the first {self._max_bytes} bytes of this run's output "
                    "were kept as run logs."
                )
                self._pending.append(RunLog(self._run_id, note, "WARNING", CONTAINER_LOG_NAME))
            else:
                self._shipped_bytes += size
                self._pending.append(RunLog(self._run_id, line, "INFO", CONTAINER_LOG_NAME, timestamp))
            full = len(self._pending) >= self._batch_lines
        if full:
            self.flush()

    def flush(self) -> bool:
        """Send what is pending; False if the backend could not take it (kept for later)."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return True
        try:
            self._send(batch)
        except Exception:
            with self._lock:
                self._pending = batch + self._pending
            return False
        return True
