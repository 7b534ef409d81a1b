"""The last day in figures: finished runs per hour by outcome, and deploy latency.

Deploy latency is how long a run waited between becoming due and running: from its
Scheduled state (or its scheduled start time, when that is later) to Running, and from
Submitted (an agent claimed it) to Running (its container started). A run deployed again
after a retry or a restart counts each time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dockyard.domain.server.timestamps import parse
from dockyard.domain.states import FAILED_STATES, SCHEDULED_STATES, SUCCESS_STATES

OUTCOMES = ("Success", "Failed", "Cancelled", "Other")
HOUR = timedelta(hours=1)


def outcome(state: str) -> str:
    """The chart's group for a finished state."""
    if state in SUCCESS_STATES:
        return "Success"
    if state in FAILED_STATES:
        return "Failed"
    return "Cancelled" if state == "Cancelled" else "Other"


@dataclass(frozen=True)
class Deploy:
    running_at: datetime
    from_due: float  # seconds
    from_submitted: float | None  # seconds; None when no Submitted state came between


def deploys(history: Iterable[Mapping[str, Any]]) -> list[Deploy]:
    """Every deployment in one run's state history (rows of ``flow_run_state``)."""
    rows = sorted(history, key=lambda r: (str(r["timestamp"]), int(r.get("version") or 0)))
    found: list[Deploy] = []
    due: datetime | None = None
    submitted: datetime | None = None
    for row in rows:
        at, state = parse(row["timestamp"]), row["state"]
        if state in SCHEDULED_STATES:
            start = parse(row["start_time"]) if row.get("start_time") else at
            due, submitted = max(at, start), None
        elif state == "Submitted":
            due, submitted = due or at, at
        elif state == "Running" and due is not None:
            from_submitted = (at - submitted).total_seconds() if submitted else None
            found.append(
                Deploy(
                    at,
                    max((at - due).total_seconds(), 0.0),
                    None if from_submitted is None else max(from_submitted, 0.0),
                )
            )
            due = submitted = None
    return found


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Latency:
    count: int
    p50: float | None
    p95: float | None
    worst: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Latency:
        return cls(len(values), percentile(values, 0.5), percentile(values, 0.95), max(values, default=None))


@dataclass(frozen=True)
class HourBucket:
    start: datetime
    outcomes: Mapping[str, int]
    deploys: tuple[Deploy, ...] = ()

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())

    @property
    def from_due(self) -> Latency:
        return Latency.of([d.from_due for d in self.deploys])


@dataclass(frozen=True)
class Activity:
    hours: tuple[HourBucket, ...]
    until: datetime
    from_due: Latency = field(default_factory=lambda: Latency.of([]))
    from_submitted: Latency = field(default_factory=lambda: Latency.of([]))

    @property
    def since(self) -> datetime:
        return self.hours[0].start

    @property
    def totals(self) -> dict[str, int]:
        return {name: sum(h.outcomes[name] for h in self.hours) for name in OUTCOMES}


def hour_starts(now: datetime, hours: int) -> list[datetime]:
    """The starts of the last ``hours`` clock hours, oldest first; the last holds ``now``."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return [current - HOUR * back for back in range(hours - 1, -1, -1)]


def activity(
    finished: Iterable[tuple[str, datetime]], deployed: Iterable[Deploy], now: datetime, hours: int = 24
) -> Activity:
    """Bucket ``(final state, when)`` pairs and deployments by the hour they happened in;
    anything outside the last ``hours`` hours is left out."""
    starts = hour_starts(now, hours)
    counts = [dict.fromkeys(OUTCOMES, 0) for _ in starts]
    placed: list[list[Deploy]] = [[] for _ in starts]

    def slot(moment: datetime) -> int | None:
        index = math.floor((moment - starts[0]) / HOUR)
        return index if 0 <= index < len(starts) and moment <= now else None

    for state, moment in finished:
        index = slot(moment)
        if index is not None:
            counts[index][outcome(state)] += 1
    kept: list[Deploy] = []
    for deploy in deployed:
        index = slot(deploy.running_at)
        if index is not None:
            placed[index].append(deploy)
            kept.append(deploy)
    buckets = tuple(
        HourBucket(start, count, tuple(ds)) for start, count, ds in zip(starts, counts, placed, strict=True)
    )
    return Activity(
        buckets,
        now,
        Latency.of([d.from_due for d in kept]),
        Latency.of([d.from_submitted for d in kept if d.from_submitted is not None]),
    )
