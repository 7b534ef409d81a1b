"""A run's state history as a timeline: how long it spent in each state.

Each state lasts until the next one was written. The current state lasts until now while the
run is unfinished; a finished run's last state has no duration (it is where the run ended).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dockyard.domain.server.timestamps import parse
from dockyard.domain.states import FINISHED_STATES


@dataclass(frozen=True)
class StateSpan:
    state: str
    message: str | None
    entered: datetime
    duration: timedelta | None  # None: the final state of a finished run
    current: bool


def timeline(history: Iterable[Mapping[str, Any]], now: datetime) -> list[StateSpan]:
    """Spans for ``flow_run_state`` / ``task_run_state`` rows, oldest first.

    Rows are ordered by timestamp, then by version (two writes in one instant keep the
    order they were written in)."""
    rows = sorted(history, key=lambda r: (str(r["timestamp"]), int(r.get("version") or 0)))
    spans: list[StateSpan] = []
    for index, row in enumerate(rows):
        entered = parse(row["timestamp"])
        state = str(row["state"])
        if index + 1 < len(rows):
            duration: timedelta | None = parse(rows[index + 1]["timestamp"]) - entered
        elif state in FINISHED_STATES:
            duration = None
        else:
            duration = max(now - entered, timedelta(0))
        spans.append(StateSpan(state, row.get("message"), entered, duration, index + 1 == len(rows)))
    return spans


def run_duration(start_time: str | None, end_time: str | None, now: datetime) -> timedelta | None:
    """How long a run has been running (until its end, or now): None before it started."""
    if not start_time:
        return None
    end = parse(end_time) if end_time else now
    return max(end - parse(start_time), timedelta(0))
