"""Wall-clock time in a zone, by the rules Prefect 1's schedules follow.

Prefect builds schedule times with pendulum, whose rules differ from the standard library's
defaults, and a schedule evaluated here must land on the same instants:

* a local time inside a DST gap moves forward by the gap (02:30 on a spring-forward night is
  03:30); a repeated local time (fall-back night) is its *later* occurrence unless the
  earlier one is asked for (``fold=0``);
* adding days moves the wall clock and reads the result in the zone again, while adding
  only seconds moves the instant.

The zone data is the IANA database through ``zoneinfo`` (the system's, else the ``tzdata``
package), the same data pendulum reads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


class UnknownTimeZone(ValueError):
    pass


def zone(name: str) -> tzinfo:
    """The zone a schedule names: an IANA key ("America/New_York"), "UTC", or a fixed
    offset ("+05:30")."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    offset = _OFFSET.match(name)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(f"unknown time zone {name!r}") from None


def localize(wall: datetime, tz: tzinfo, *, fold: int = 1) -> datetime:
    """The instant a naive wall-clock time denotes in ``tz``: a time in a DST gap is pushed
    forward by the gap (back, with ``fold=0``), a repeated time is read with ``fold``."""
    naive = wall.replace(tzinfo=None)
    offset_before = naive.replace(tzinfo=tz, fold=0).utcoffset() or timedelta(0)
    offset_after = naive.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
    if offset_after > offset_before:  # a gap: this wall time never happens
        gap = offset_after - offset_before
        return (naive + gap if fold else naive - gap).replace(tzinfo=tz)
    return naive.replace(tzinfo=tz, fold=fold)


def relocalize(moment: datetime) -> datetime:
    """``moment`` read again from its own wall clock and fold (naive means UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return localize(moment, moment.tzinfo, fold=moment.fold)


def add_wall_days(moment: datetime, days: int, seconds: float = 0.0) -> datetime:
    """``days`` (and ``seconds``) later on ``moment``'s wall clock, read in its zone."""
    tz = moment.tzinfo or UTC
    return localize(moment.replace(tzinfo=None) + timedelta(days=days, seconds=seconds), tz)


def add_elapsed(moment: datetime, seconds: float) -> datetime:
    """``seconds`` of elapsed time later, shown in ``moment``'s zone."""
    tz = moment.tzinfo or UTC
    return (moment.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(tz)


def add(moment: datetime, *, days: int = 0, seconds: float = 0.0) -> datetime:
    """Calendar days move the wall clock; with no days, seconds move the instant."""
    if days:
        return add_wall_days(moment, days, seconds)
    return add_elapsed(moment, seconds)


def standard_time(wall: datetime, tz: tzinfo) -> datetime:
    """A wall time read as standard (not daylight-saving) time where it is ambiguous or
    skipped: the reading a cron search starts from."""
    naive = wall.replace(tzinfo=None)
    early, late = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early
    return late if not late.dst() else early
