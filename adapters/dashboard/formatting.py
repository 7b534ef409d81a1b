"""How times, durations, JSON, schedules and states read on the dashboard (Jinja filters)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.domain.states import FAILED_STATES, RUNNING_STATES, SCHEDULED_STATES, SUCCESS_STATES


def duration(value: timedelta | float | None) -> str:
    """``0.4 s``, ``12 s``, ``1 min 05 s``, ``2 h 03 min``, ``3 d 4 h``; empty for None."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def ago(moment: datetime | None, now: datetime) -> str:
    """``12 s ago`` or ``in 5 min`` (whole units only)."""
    if moment is None:
        return "never"
    delta = (now - moment).total_seconds()
    if abs(delta) < 1:
        return "just now"
    whole = int(abs(delta))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if whole >= size:
            text = f"{whole // size} {unit}"
            break
    return f"{text} ago" if delta > 0 else f"in {text}"


def utc(moment: datetime | None, precise: bool = False) -> str:
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if precise else moment.strftime("%Y-%m-%d %H:%M:%S")


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def state_class(state: str | None) -> str:
    """The CSS class that colours a state."""
    name = state or "Pending"
    if name in SUCCESS_STATES:
        return "st-success"
    if name in FAILED_STATES or name == "ClientFailed":
        return "st-failed"
    if name in ("Cancelled", "Cancelling"):
        return "st-cancelled"
    if name in RUNNING_STATES:
        return "st-running"
    if name == "Submitted":
        return "st-submitted"
    if name in SCHEDULED_STATES:
        return "st-scheduled"
    return "st-other"


def _every(microseconds: Any) -> str:
    try:
        return "every " + duration(timedelta(microseconds=int(microseconds)))
    except (TypeError, ValueError):
        return "on an interval"


def schedule_text(schedule: Any) -> str:
    """A serialized Prefect schedule in words: ``every 1 h 00 min; cron 0 6 * * *``."""
    if schedule is None:
        return "no schedule"
    clocks = schedule.get("clocks") if isinstance(schedule, Mapping) else None
    if not isinstance(clocks, list) or not clocks:
        return "a schedule"
    parts = []
    for clock in clocks:
        kind = clock.get("type") if isinstance(clock, Mapping) else None
        if kind == "IntervalClock":
            parts.append(_every(clock.get("interval")))
        elif kind == "CronClock":
            parts.append(f"cron {clock.get('cron')}")
        elif kind == "DatesClock":
            count = len(clock.get("dates") or [])
            parts.append(f"{count} fixed date{'s' if count != 1 else ''}")
        else:
            parts.append(str(kind or "clock"))
    return "; ".join(parts)
