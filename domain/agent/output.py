"""Container output, turned into lines: for the agent's stdout (``show_flow_logs``) and for
run logs shipped to the backend (``streaming``).

Docker hands out byte chunks that need not end at a line, or even at a character: decoding
is incremental, so a multi-byte character split across chunks stays whole.
"""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime

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
