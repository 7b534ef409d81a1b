"""StdoutFlowOutput: ``show_flow_logs`` lines on the agent's stdout, each marked with its run."""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class StdoutFlowOutput:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()  # whole lines only, never interleaved mid-line

    def line(self, run_name: str, text: str) -> None:
        with self._lock:
            self._stream.write(f"[{run_name}] {text}\n")
            self._stream.flush()
