"""Filters and adjustments: Prefect 1's documented schedule functions, by their wire names.

On the wire a schedule names each function by its qualified name and, for the factories,
their arguments (``{"fn": "prefect.schedules.filters.between_times", "kwargs": {...}}``).
Filters read an event's wall clock in its own zone; ``add`` moves the instant, while
``next_weekday`` moves the wall clock a day at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from typing import Any

from dockyard.domain.server.schedules import time_zones

Filter = Callable[[datetime], bool]
Adjustment = Callable[[datetime], datetime]

_FILTERS = "prefect.schedules.filters."
_ADJUSTMENTS = "prefect.schedules.adjustments."


def is_weekday(moment: datetime) -> bool:
    return moment.weekday() < 5


def is_weekend(moment: datetime) -> bool:
    return moment.weekday() > 4


def is_month_end(moment: datetime) -> bool:
    return (moment.date() + timedelta(days=1)).month != moment.month


def is_month_start(moment: datetime) -> bool:
    return moment.day == 1


def on_datetime(dt: datetime) -> Filter:
    return lambda moment: moment == dt


def between_datetimes(start: datetime, end: datetime) -> Filter:
    return lambda moment: start <= moment <= end


def on_date(month: int, day: int) -> Filter:
    return lambda moment: (moment.month, moment.day) == (month, day)


def between_dates(start_month: int, start_day: int, end_month: int, end_day: int) -> Filter:
    start, end = (start_month, start_day), (end_month, end_day)

    def check(moment: datetime) -> bool:
        day = (moment.month, moment.day)
        if start_month <= end_month:
            return start <= day <= end
        return day >= start or day <= end  # a range across new year

    return check


def at_time(t: time) -> Filter:
    return lambda moment: moment.time() == t


def between_times(start: time, end: time) -> Filter:
    def check(moment: datetime) -> bool:
        clock = moment.time()
        if start <= end:
            return start <= clock <= end
        return clock >= start or clock <= end  # a range across midnight

    return check


def is_day_of_week(day_of_week: int) -> Filter:
    # Monday is 0, as in Python (Prefect's documentation says otherwise; its code does this).
    return lambda moment: moment.weekday() == day_of_week


def add(interval: timedelta) -> Adjustment:
    return lambda moment: time_zones.add_elapsed(time_zones.relocalize(moment), interval.total_seconds())


def next_weekday(moment: datetime) -> datetime:
    moment = time_zones.relocalize(moment)
    while not is_weekday(moment):
        moment = time_zones.add_wall_days(moment, 1)
    return moment


# name -> (the function itself, or a factory taking the wire's kwargs)
FILTERS: Mapping[str, Callable[..., Any]] = {
    _FILTERS + "on_datetime": on_datetime,
    _FILTERS + "on_date": on_date,
    _FILTERS + "at_time": at_time,
    _FILTERS + "between_datetimes": between_datetimes,
    _FILTERS + "between_dates": between_dates,
    _FILTERS + "between_times": between_times,
    _FILTERS + "is_weekday": is_weekday,
    _FILTERS + "is_weekend": is_weekend,
    _FILTERS + "is_month_end": is_month_end,
    _FILTERS + "is_day_of_week": is_day_of_week,
    _FILTERS + "is_month_start": is_month_start,
}
ADJUSTMENTS: Mapping[str, Callable[..., Any]] = {
    _ADJUSTMENTS + "add": add,
    _ADJUSTMENTS + "next_weekday": next_weekday,
}
