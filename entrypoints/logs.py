"""How dockyard's processes log: Prefect's plain lines, or one JSON object per line.

``--log-format json`` (the agent's and the server's; ``DOCKYARD_AGENT_LOG_FORMAT``,
``DOCKYARD_SERVER_LOG_FORMAT``, or ``log_format`` in the agent's TOML file) writes every
record as an object with ``timestamp`` (UTC, ISO-8601), ``level``, ``logger`` and
``message``, then the record's own fields: ``flow_run_id`` and ``flow_run_name`` where it
concerns a run (``domain.log_fields``), ``exception`` with the traceback where there is one.
Records of the libraries dockyard uses go through the same handler, so every line of the
process's log is one format.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

LOG_FORMATS = ("plain", "json")
# Prefect 1's agent log lines, times in UTC.
AGENT_PLAIN = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"
SERVER_PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(JsonFormatter):
    """One JSON object per record, ``timestamp`` first."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            timestamp=True,
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {"timestamp": log_data.pop("timestamp"), **log_data}


def formatter(log_format: str, plain: str) -> logging.Formatter:
    if log_format == "json":
        return JsonLines()
    if log_format != "plain":
        raise ValueError(f"unknown log format {log_format!r}: use plain or json")
    chosen = logging.Formatter(plain)
    chosen.converter = time.gmtime
    return chosen


def configure_logging(
    level: str,
    log_format: str = "plain",
    *,
    plain: str = AGENT_PLAIN,
    stream: TextIO | None = None,
    libraries: str = "WARNING",
) -> None:
    """Send every record to ``stream`` (default stdout) in ``log_format``: dockyard's from
    ``level`` up, the libraries' from ``libraries`` up."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter(log_format, plain))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(libraries.upper())
    ours = logging.getLogger("dockyard")
    ours.handlers.clear()
    ours.propagate = True
    ours.setLevel(level.upper())
    logging.captureWarnings(True)  # warnings.warn() too, in the same format
