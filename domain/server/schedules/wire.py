"""Reading a schedule as Prefect 1.4.1 serializes it (``ScheduleSchema``).

The format, by example::

    {"clocks": [{"type": "IntervalClock", "interval": 60000000,
                 "start_date": {"dt": "2024-03-01T09:00:00", "tz": "America/New_York"},
                 "end_date": null, "parameter_defaults": {"n": 1}, "labels": ["prod"]},
                {"type": "CronClock", "cron": "0 9 * * 1-5", "day_or": false, ...},
                {"type": "DatesClock", "dates": [{"dt": ..., "tz": ...}]},
                {"type": "RRuleClock", "rrule_obj": {"type": "rrule",
                 "rr": "DTSTART:...\\nRRULE:FREQ=WEEKLY;BYDAY=MO", "_dtstart": "...", "_until": null}}],
     "filters": [{"fn": "prefect.schedules.filters.between_times",
                  "kwargs": {"start": "//time:09:00:00", "end": "//time:17:00:00"}}],
     "or_filters": [], "not_filters": [], "adjustments": [...]}

Intervals are microseconds; a zoned date is its naive wall time plus the zone's name (read
with pendulum's rules, see ``time_zones``); function arguments mark datetimes, times and
timedeltas with ``//datetime:``, ``//time:`` and ``//timedelta:``. Anything else raises
``UnsupportedSchedule`` naming the piece, so a schedule is evaluated exactly or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from croniter import croniter
from dateutil import rrule as rrules

from dockyard.domain.server.schedules import time_zones
from dockyard.domain.server.schedules.clocks import (
    Clock,
    ClockOptions,
    CronClock,
    DatesClock,
    IntervalClock,
    RRuleClock,
)
from dockyard.domain.server.schedules.rules import ADJUSTMENTS, FILTERS
from dockyard.domain.server.schedules.schedule import Schedule

# Functions of FILTERS/ADJUSTMENTS that are factories: the wire gives their arguments.
_PLAIN_FUNCTIONS = frozenset(
    f"prefect.schedules.{name}"
    for name in (
        "filters.is_weekday",
        "filters.is_weekend",
        "filters.is_month_end",
        "filters.is_month_start",
        "adjustments.next_weekday",
    )
)
# Prefect's rrule default start when the wire has none.
_RRULE_DEFAULT_START = datetime(2018, 6, 20, tzinfo=UTC)


class UnsupportedSchedule(ValueError):
    """A schedule this server cannot evaluate; the message names the piece."""


def load_schedule(doc: Any) -> Schedule:
    if not isinstance(doc, Mapping):
        raise UnsupportedSchedule("the schedule is not an object")
    clocks = doc.get("clocks")
    if not isinstance(clocks, list):
        raise UnsupportedSchedule("the schedule has no list of clocks")
    return Schedule(
        clocks=[_clock(c) for c in clocks],
        filters=_functions(doc, "filters", FILTERS),
        or_filters=_functions(doc, "or_filters", FILTERS),
        not_filters=_functions(doc, "not_filters", FILTERS),
        adjustments=_functions(doc, "adjustments", ADJUSTMENTS),
    )


# -- clocks ---------------------------------------------------------------------------------


def _clock(doc: Any) -> Clock:
    if not isinstance(doc, Mapping):
        raise UnsupportedSchedule("a clock is not an object")
    kind = doc.get("type")
    if kind == "IntervalClock":
        return _interval_clock(doc)
    if kind == "CronClock":
        cron = doc.get("cron")
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise UnsupportedSchedule(f"CronClock: invalid cron string {cron!r}")
        day_or = doc.get("day_or")
        return CronClock(cron, True if day_or is None else bool(day_or), _options(doc))
    if kind == "DatesClock":
        dates = doc.get("dates")
        if not isinstance(dates, list) or not dates:
            raise UnsupportedSchedule("DatesClock: 'dates' must be a non-empty list")
        return DatesClock(tuple(_required_zoned(d, "DatesClock date") for d in dates), _options(doc))
    if kind == "RRuleClock":
        return RRuleClock(_rrule_base(doc.get("rrule_obj")), _options(doc))
    raise UnsupportedSchedule(f"clock type {kind!r} is not supported")


def _interval_clock(doc: Mapping[str, Any]) -> IntervalClock:
    micros = doc.get("interval")
    if isinstance(micros, bool) or not isinstance(micros, int | float) or micros <= 0:
        raise UnsupportedSchedule(f"IntervalClock: invalid interval {micros!r} (microseconds > 0)")
    return IntervalClock(timedelta(microseconds=micros), _options(doc))


def _options(doc: Mapping[str, Any]) -> ClockOptions:
    defaults = doc.get("parameter_defaults") or {}
    if not isinstance(defaults, Mapping):
        raise UnsupportedSchedule(f"{doc.get('type')}: parameter_defaults must be an object")
    labels = doc.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)):
        raise UnsupportedSchedule(f"{doc.get('type')}: labels must be a list of strings")
    return ClockOptions(
        start_date=_zoned(doc.get("start_date"), f"{doc.get('type')} start_date"),
        end_date=_zoned(doc.get("end_date"), f"{doc.get('type')} end_date"),
        parameter_defaults=dict(defaults),
        labels=None if labels is None else list(labels),
    )


def _zoned(value: Any, what: str) -> datetime | None:
    """``{"dt": "<naive ISO>", "tz": "<zone>"}`` read on that zone's wall clock."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("dt"), str):
        raise UnsupportedSchedule(f"{what}: expected {{'dt': ..., 'tz': ...}}")
    try:
        moment = datetime.fromisoformat(value["dt"])
        tz = time_zones.zone(str(value.get("tz") or "UTC"))
    except ValueError as exc:
        raise UnsupportedSchedule(f"{what}: {exc}") from None
    if moment.tzinfo is not None:
        return moment
    return time_zones.localize(moment, tz)


def _required_zoned(value: Any, what: str) -> datetime:
    moment = _zoned(value, what)
    if moment is None:
        raise UnsupportedSchedule(f"{what} is missing")
    return moment


def _iso(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise UnsupportedSchedule(f"{what}: expected an ISO-8601 string, got {value!r}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UnsupportedSchedule(f"{what}: invalid datetime {value!r}") from None


def _rrule(doc: Any) -> rrules.rrule:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rr"), str):
        raise UnsupportedSchedule("RRuleClock: a rule needs its 'rr' string")
    try:
        parsed = rrules.rrulestr(doc["rr"])
    except (ValueError, TypeError) as exc:
        raise UnsupportedSchedule(f"RRuleClock: cannot read rule {doc['rr']!r}: {exc}") from None
    if not isinstance(parsed, rrules.rrule):
        raise UnsupportedSchedule(f"RRuleClock: {doc['rr']!r} is a rule set, expected one rule")
    start = doc.get("_dtstart", _RRULE_DEFAULT_START)
    changes: dict[str, Any] = {"dtstart": None if start is None else _as_datetime(start, "_dtstart")}
    if "_until" in doc:
        until = doc["_until"]
        changes["until"] = None if until is None else _iso(until, "RRuleClock _until")
    try:
        return parsed.replace(**changes)
    except (ValueError, TypeError) as exc:
        raise UnsupportedSchedule(f"RRuleClock: {exc}") from None


def _as_datetime(value: Any, what: str) -> datetime:
    return value if isinstance(value, datetime) else _iso(value, f"RRuleClock {what}")


def _rrule_base(doc: Any) -> rrules.rrulebase:
    if not isinstance(doc, Mapping):
        raise UnsupportedSchedule("RRuleClock: 'rrule_obj' must be an object")
    kind = doc.get("type")
    if kind == "rrule":
        return _rrule(doc)
    if kind == "rruleset":
        rule_set = rrules.rruleset()
        for rule in doc.get("_rrule") or []:
            rule_set.rrule(_rrule(rule))
        for moment in doc.get("_rdate") or []:
            rule_set.rdate(_iso(moment, "RRuleClock _rdate"))
        for rule in doc.get("_exrule") or []:
            rule_set.exrule(_rrule(rule))
        for moment in doc.get("_exdate") or []:
            rule_set.exdate(_iso(moment, "RRuleClock _exdate"))
        return rule_set
    raise UnsupportedSchedule(f"RRuleClock: rule type {kind!r} is not supported")


# -- filters and adjustments -----------------------------------------------------------------


def _functions(doc: Mapping[str, Any], key: str, known: Mapping[str, Callable[..., Any]]) -> list[Any]:
    entries = doc.get(key) or []
    if not isinstance(entries, list):
        raise UnsupportedSchedule(f"'{key}' must be a list")
    return [_function(entry, key, known) for entry in entries if entry is not None]


def _function(entry: Any, key: str, known: Mapping[str, Callable[..., Any]]) -> Any:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("fn"), str):
        raise UnsupportedSchedule(f"{key}: expected {{'fn': ..., 'kwargs': ...}}, got {entry!r}")
    name, kwargs = entry["fn"], entry.get("kwargs") or {}
    function = known.get(name)
    if function is None:
        raise UnsupportedSchedule(f"{key}: {name!r} is not supported")
    if name in _PLAIN_FUNCTIONS:
        if kwargs:
            raise UnsupportedSchedule(f"{key}: {name!r} takes no arguments, got {dict(kwargs)!r}")
        return function
    if not isinstance(kwargs, Mapping) or not kwargs:
        raise UnsupportedSchedule(f"{key}: {name!r} needs its arguments")
    try:
        return function(**{str(k): _argument(v) for k, v in kwargs.items()})
    except (TypeError, ValueError) as exc:
        raise UnsupportedSchedule(f"{key}: {name!r} with {dict(kwargs)!r}: {exc}") from None


def _argument(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value.startswith("//datetime:"):
        moment = _iso(value.removeprefix("//datetime:"), "a datetime argument")
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if value.startswith("//time:"):
        return time.fromisoformat(value.removeprefix("//time:"))
    if value.startswith("//timedelta:"):
        return timedelta(seconds=float(value.removeprefix("//timedelta:")))
    return value
