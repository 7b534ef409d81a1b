"""``show_flow_logs`` lines: on the agent's stdout, each marked with its run
(``StdoutFlowOutput``), or as records of the agent's log (``LoggedFlowOutput``), which
``--log-format json`` writes as JSON like every other line."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from dockyard.domain.log_fields import RUN_NAME


class StdoutFlowOutput:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()  # whole lines only, never interleaved mid-line

    def line(self, run_name: str, text: str) -> None:
        with self._lock:
            self._stream.write(f"[{run_name}] {text}\n")
            self._stream.flush()


class LoggedFlowOutput:
    """Each line a record of the ``dockyard.flow_run`` logger, with the run's name as a
    field. Shown whatever ``--log-level`` says: the operator asked for these lines."""

    def __init__(self) -> None:
        self._log = logging.getLogger("dockyard.flow_run")
        self._log.setLevel(logging.INFO)

    def line(self, run_name: str, text: str) -> None:
        self._log.info("%s", text, extra={RUN_NAME: run_name})
