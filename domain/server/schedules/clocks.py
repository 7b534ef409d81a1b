"""Clocks: the sources of a schedule's candidate times, as Prefect 1 defines them.

Each clock yields ``ClockEvent``s after a given instant, in order. The times keep the zone
Prefect would give them (the start date's for interval and cron clocks, each date's own for
a dates clock, the rule's for an rrule clock), because filters read the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from croniter import croniter
from dateutil.rrule import rrulebase

from dockyard.domain.server.schedules import time_zones

# Prefect's interval clocks count from here when they have no start date.
DEFAULT_INTERVAL_START = datetime(2019, 1, 1, tzinfo=UTC)
# A cron clock gives up after this many times (Prefect's escape hatch against endless
# searches, e.g. a February 30th).
CRON_MAX_EVENTS = 1000


@dataclass(frozen=True)
class ClockEvent:
    start_time: datetime
    parameter_defaults: Mapping[str, Any] = field(default_factory=dict)
    labels: Sequence[str] | None = None

    def same_as(self, other: ClockEvent) -> bool:
        """Two clocks emitting this at once make one event, as in Prefect."""
        return (
            self.start_time == other.start_time
            and dict(self.parameter_defaults) == dict(other.parameter_defaults)
            and self.labels == other.labels
        )


class Clock(Protocol):
    def events(self, after: datetime) -> Iterator[ClockEvent]: ...


@dataclass(frozen=True)
class ClockOptions:
    start_date: datetime | None = None
    end_date: datetime | None = None
    parameter_defaults: Mapping[str, Any] = field(default_factory=dict)
    labels: Sequence[str] | None = None

    def event(self, moment: datetime) -> ClockEvent:
        return ClockEvent(moment, self.parameter_defaults, self.labels)


@dataclass(frozen=True)
class IntervalClock:
    """Every ``interval`` from the start date. The whole distance from the start is added
    at once: whole days on the start's wall clock, the rest as elapsed time, so a daily
    clock keeps its local hour across DST while an hourly one keeps elapsed hours."""

    interval: timedelta
    options: ClockOptions = ClockOptions()

    def events(self, after: datetime) -> Iterator[ClockEvent]:
        start = self.options.start_date or DEFAULT_INTERVAL_START
        end = self.options.end_date
        elapsed = after.astimezone(UTC) - start.astimezone(UTC)
        skip = elapsed.total_seconds() / self.interval.total_seconds()
        if skip < 0:
            skip = 0
        elif int(skip) == skip:
            skip += 1  # exactly on a tick: the next one
        else:
            skip = int(skip + 1)
        offset = self.interval * skip
        while True:
            days = offset.days
            moment = time_zones.add(start, days=days, seconds=offset.total_seconds() - days * 86400)
            if moment < after:
                offset += self.interval
                continue
            if end is not None and moment > end:
                return
            yield self.options.event(moment)
            offset += self.interval


@dataclass(frozen=True)
class CronClock:
    """Cron times on the start date's wall clock (UTC without one). ``day_or`` joins the
    day-of-month and day-of-week fields with OR (cron) or AND (fcron)."""

    cron: str
    day_or: bool = True
    options: ClockOptions = ClockOptions()

    def events(self, after: datetime) -> Iterator[ClockEvent]:
        start, end = self.options.start_date, self.options.end_date
        tz = start.tzinfo if start is not None and start.tzinfo is not None else UTC
        after = after.astimezone(tz)
        if start is not None:
            # One second before the start, so the start itself can be a cron time.
            after = max(after, time_zones.add_elapsed(start, -1))
        wall = after.replace(tzinfo=None)
        if wall.microsecond:
            wall += timedelta(seconds=1)  # round up: never a time before ``after``
        search = croniter(self.cron, time_zones.standard_time(wall, tz), day_or=self.day_or)
        seen: set[datetime] = set()
        for _ in range(CRON_MAX_EVENTS):
            moment = self._next(search)
            stuck, last = 0, False
            while _same_instant(moment, after) or moment in seen:
                moment = self._next(search)
                stuck += 1
                if stuck == 3:
                    # A DST corner croniter keeps returning: search again from past it.
                    after = moment
                    search = croniter(self.cron, moment, day_or=self.day_or)
                    moment = self._next(search)
                    last = moment in seen  # still stuck: this is the last one
            if end is not None and moment > end:
                return
            seen.add(moment)
            yield self.options.event(moment)
            if last:
                return

    @staticmethod
    def _next(search: croniter) -> datetime:
        found: datetime = search.get_next(datetime)
        # A repeated wall time is read as its first occurrence, as Prefect does.
        return time_zones.localize(found, found.tzinfo or UTC, fold=0)


@dataclass(frozen=True)
class DatesClock:
    """Exactly the given dates."""

    dates: tuple[datetime, ...]
    options: ClockOptions = ClockOptions()

    def events(self, after: datetime) -> Iterator[ClockEvent]:
        for moment in sorted(self.dates):
            if moment > after:
                yield self.options.event(moment)


@dataclass(frozen=True)
class RRuleClock:
    """An iCalendar recurrence rule (or rule set), as dateutil reads it. A rule without a
    zone runs on UTC."""

    rule: rrulebase
    options: ClockOptions = ClockOptions()

    def events(self, after: datetime) -> Iterator[ClockEvent]:
        start, end = self.options.start_date, self.options.end_date
        inclusive = False
        if start is not None and after < start:
            after, inclusive = start, True
        first: datetime = next(iter(self.rule), after)
        # dateutil cannot compare aware and naive times: take ``after``'s wall clock.
        if after.tzinfo is not None and first.tzinfo is None:
            after = after.replace(tzinfo=None)
        elif after.tzinfo is None and first.tzinfo is not None:
            after = after.replace(tzinfo=first.tzinfo)
        for found in self.rule.xafter(after, inc=inclusive):
            moment = time_zones.relocalize(found)
            if end is not None and moment > end:
                return
            yield self.options.event(moment)


def _same_instant(one: datetime, other: datetime) -> bool:
    return one.astimezone(UTC) == other.astimezone(UTC)
