"""dockyard evaluates Prefect 1 schedules exactly as Prefect 1.4.1 does.

A corpus of schedules is built with Prefect's own classes and serialized with its own
``ScheduleSchema``, in the Prefect venv; Prefect computes each one's next 10 events after
given instants. dockyard loads the same serialized documents and must produce the same
start times (as instants, with the same UTC offsets: filters read the wall clock), the
same parameter defaults and the same labels.

Prefect runs with ``python -O``: 1.4.1's CronClock carries a typing-only ``assert`` about a
pendulum 2 class that pendulum 3 no longer has; without -O every cron clock raises there.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest

from dockyard.domain.server.schedules import load_schedule
from support.prefect_env import prefect_python

CORPUS = r"""
import json
from datetime import datetime, time, timedelta

import pendulum
from dateutil import rrule
from prefect.schedules import CronSchedule, IntervalSchedule, Schedule, adjustments, filters
from prefect.schedules.clocks import CronClock, DatesClock, IntervalClock, RRuleClock
from prefect.serialization.schedule import ScheduleSchema

NY, LON, SYD = "America/New_York", "Europe/London", "Australia/Sydney"
dt = pendulum.datetime
SPRING_NY = dt(2024, 3, 10, 5, 0)    # 00:00 in New York, the night clocks go forward
FALL_NY = dt(2024, 11, 3, 4, 0)      # 00:00 EDT, the night clocks go back
FALL_LON = dt(2024, 10, 27, 0, 0)    # 01:00 BST, an hour before clocks go back
SPRING_SYD = dt(2024, 10, 5, 14, 0)  # Sydney, the night before clocks go forward
FALL_SYD = dt(2024, 4, 6, 14, 0)     # Sydney, the night before clocks go back
PLAIN = dt(2025, 1, 15, 10, 17, 23)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def every(interval, start=None, end=None):
    return IntervalSchedule(start_date=start, end_date=end, interval=interval)


def cron(expression, start=None, **options):
    return CronSchedule(expression, start_date=start, **options)


def rule(freq, **options):
    return Schedule(clocks=[RRuleClock(rrule.rrule(freq, **options))])


def hourly_ny(**options):
    return Schedule(clocks=[IntervalClock(HOUR, start_date=dt(2024, 1, 1, tz=NY))], **options)


def nine_am_ny(**options):
    return Schedule(clocks=[CronClock("0 9 * * *", start_date=dt(2024, 1, 1, tz=NY))], **options)


rule_set = rrule.rruleset()
rule_set.rrule(rrule.rrule(rrule.DAILY, dtstart=datetime(2025, 1, 10, 6), count=40))
rule_set.exdate(datetime(2025, 1, 17, 6))
rule_set.rdate(datetime(2025, 1, 18, 12))
mon_fri = rrule.rrule(
    rrule.WEEKLY, dtstart=dt(2024, 1, 1, 8, 30, tz=NY), byweekday=(rrule.MO, rrule.FR)
)
dates = [dt(2025, 3, 1, 9, tz=NY), dt(2025, 2, 1, tz=LON), dt(2025, 1, 20, tz=SYD),
         dt(2024, 1, 1), dt(2025, 6, 1, 12)]
two_sizes = [
    IntervalClock(2 * HOUR, start_date=dt(2025, 1, 1), parameter_defaults={"size": "big"},
                  labels=["prod"]),
    IntervalClock(3 * HOUR, start_date=dt(2025, 1, 1), parameter_defaults={"size": "small"}),
]

CASES = {
    "interval 1 min, no start": (every(MINUTE), [PLAIN]),
    "interval 15 min, New York spring DST": (
        every(15 * MINUTE, dt(2024, 1, 1, tz=NY)), [SPRING_NY.add(hours=1, minutes=50)]),
    "interval 15 min, New York fall DST": (
        every(15 * MINUTE, dt(2024, 1, 1, tz=NY)), [FALL_NY.add(hours=1, minutes=50)]),
    "interval 1 h, London fall DST": (every(HOUR, dt(2024, 6, 1, tz=LON)), [FALL_LON]),
    "interval 1 h, New York spring DST": (every(HOUR, dt(2024, 3, 1, tz=NY)), [SPRING_NY]),
    "interval 1 day at 09:00 New York": (
        every(DAY, dt(2024, 3, 1, 9, tz=NY)), [SPRING_NY.subtract(days=3), FALL_NY.subtract(days=4)]),
    "interval 1 day at 02:30 New York (a time the spring night skips)": (
        every(DAY, dt(2024, 3, 1, 2, 30, tz=NY)), [SPRING_NY.subtract(days=3)]),
    "interval 1 day at 01:30 London (a time the fall night repeats)": (
        every(DAY, dt(2024, 10, 1, 1, 30, tz=LON)), [FALL_LON.subtract(days=4)]),
    "interval 90 min with start and end": (
        every(90 * MINUTE, dt(2025, 1, 15, 8, tz=LON), dt(2025, 1, 15, 20, tz=LON)),
        [PLAIN, dt(2025, 1, 14)]),
    "interval 1 week, Sydney": (
        every(timedelta(weeks=1), dt(2024, 1, 3, 7, tz=SYD)), [FALL_SYD.subtract(weeks=3)]),
    "interval 25 h, New York": (every(25 * HOUR, dt(2024, 1, 1, tz=NY)), [SPRING_NY.subtract(days=5)]),
    "start date with microseconds": (every(7 * MINUTE, dt(2025, 1, 1, 0, 0, 0, 250000, tz=NY)), [PLAIN]),
    "cron weekdays 09:00 New York": (
        cron("0 9 * * 1-5", dt(2024, 1, 1, tz=NY)), [SPRING_NY.subtract(days=6)]),
    "cron 01:30 New York over the fall night": (
        cron("30 1 * * *", dt(2024, 1, 1, tz=NY)), [FALL_NY.subtract(days=2)]),
    "cron 02:30 New York over the spring night": (
        cron("30 2 * * *", dt(2024, 1, 1, tz=NY)), [SPRING_NY.subtract(days=2)]),
    "cron every 15 min London over the fall night": (
        cron("*/15 * * * *", dt(2024, 1, 1, tz=LON)), [FALL_LON.add(minutes=20)]),
    "cron hourly Sydney over both nights": (
        cron("0 * * * *", dt(2024, 1, 1, tz=SYD)), [FALL_SYD.add(hours=1), SPRING_SYD.add(hours=1)]),
    "cron 13th or Friday (day_or)": (cron("0 0 13 * 5", day_or=True), [PLAIN]),
    "cron Friday the 13th (day_or=False)": (cron("0 0 13 * 5", day_or=False), [PLAIN]),
    "cron first Monday (day_or=False)": (
        cron("0 12 1-7 * 1", dt(2024, 1, 1, tz=NY), day_or=False), [PLAIN]),
    "cron with a future start": (cron("*/10 * * * *", dt(2025, 2, 1, 3, 0, tz=NY)), [PLAIN]),
    "cron with an end date": (
        cron("0 */6 * * *", dt(2025, 1, 1, tz=LON), end_date=dt(2025, 1, 17, tz=LON)), [PLAIN]),
    "cron after an instant with microseconds": (cron("* * * * *"), [PLAIN.add(microseconds=1)]),
    "dates in several zones": (Schedule(clocks=[DatesClock(dates)]), [PLAIN]),
    "rrule Mondays and Fridays New York": (
        Schedule(clocks=[RRuleClock(mon_fri)]), [SPRING_NY.subtract(days=10)]),
    "rrule daily, naive, counted": (
        rule(rrule.DAILY, dtstart=datetime(2025, 1, 12, 7), count=8), [PLAIN]),
    "rrule last Friday of the month": (
        rule(rrule.MONTHLY, dtstart=datetime(2024, 1, 1, 18), byweekday=rrule.FR(-1)), [PLAIN]),
    "rrule set with an exdate and an rdate": (Schedule(clocks=[RRuleClock(rule_set)]), [PLAIN]),
    "rrule hourly with until": (
        rule(rrule.HOURLY, interval=2, dtstart=datetime(2025, 1, 15, 1),
             until=datetime(2025, 1, 15, 15)),
        [PLAIN.subtract(hours=8)]),
    "rrule clock with a start date": (
        Schedule(clocks=[RRuleClock(rrule.rrule(rrule.DAILY, dtstart=datetime(2025, 1, 1, 5)),
                                    start_date=dt(2025, 1, 20))]),
        [PLAIN]),
    "office hours: weekdays 09:00-17:00": (
        hourly_ny(filters=[filters.is_weekday, filters.between_times(time(9), time(17))]),
        [dt(2025, 1, 17, 20)]),
    "at 09:00 or 17:00": (
        hourly_ny(or_filters=[filters.at_time(time(9)), filters.at_time(time(17))]), [PLAIN]),
    "not on weekends": (nine_am_ny(not_filters=[filters.is_weekend]), [PLAIN]),
    "Christmas only": (nine_am_ny(filters=[filters.on_date(12, 25)]), [PLAIN]),
    "winter: Oct 15 to Mar 31": (
        nine_am_ny(filters=[filters.between_dates(10, 15, 3, 31)]), [dt(2025, 3, 25)]),
    "night: 22:00 to 02:00": (hourly_ny(filters=[filters.between_times(time(22), time(2))]), [PLAIN]),
    "month ends": (nine_am_ny(filters=[filters.is_month_end]), [PLAIN]),
    "month starts": (nine_am_ny(filters=[filters.is_month_start]), [PLAIN]),
    "Wednesdays (is_day_of_week 2)": (nine_am_ny(filters=[filters.is_day_of_week(2)]), [PLAIN]),
    "one exact datetime": (hourly_ny(filters=[filters.on_datetime(dt(2025, 1, 20, 14))]), [PLAIN]),
    "between two datetimes": (
        hourly_ny(filters=[filters.between_datetimes(dt(2025, 1, 16, 3), dt(2025, 1, 16, 9))]),
        [PLAIN]),
    "adjusted: 30 min earlier, then next weekday": (
        nine_am_ny(adjustments=[adjustments.add(-30 * MINUTE), adjustments.next_weekday]), [PLAIN]),
    "adjusted onto the next event (next_weekday on a daily rule)": (
        Schedule(clocks=[RRuleClock(rrule.rrule(rrule.DAILY, dtstart=datetime(2024, 1, 1, 3)))],
                 adjustments=[adjustments.next_weekday]),
        [PLAIN]),
    "two clocks with parameters and labels": (Schedule(clocks=two_sizes), [PLAIN]),
    "two clocks on the same times": (
        Schedule(clocks=[IntervalClock(HOUR, start_date=dt(2025, 1, 1)), CronClock("0 * * * *")]),
        [PLAIN]),
}

out = []
for name, (schedule, afters) in CASES.items():
    doc = ScheduleSchema().dump(schedule)
    loaded = ScheduleSchema().load(doc)
    results = []
    for after in afters:
        events = loaded.next(10, after=after, return_events=True)
        found = [
            {"start": e.start_time.isoformat(), "parameters": e.parameter_defaults, "labels": e.labels}
            for e in events
        ]
        results.append({"after": after.isoformat(), "events": found})
    out.append({"name": name, "schedule": doc, "results": results})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(prefect_python()), "-O", "-c", CORPUS], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    cases: list[dict[str, Any]] = json.loads(done.stdout)
    return cases


def _event(moment: datetime, parameters: Any, labels: Any) -> tuple[Any, ...]:
    return (moment.astimezone(UTC), moment.utcoffset(), parameters, labels)


def test_the_corpus_covers_every_kind_of_clock_filter_and_adjustment(corpus: list[dict[str, Any]]) -> None:
    assert len(corpus) >= 30
    docs = json.dumps([case["schedule"] for case in corpus])
    pieces = (
        "IntervalClock", "CronClock", "DatesClock", "RRuleClock", '"rruleset"', '"day_or": false',
        "on_datetime", "on_date", "at_time", "between_datetimes", "between_dates", "between_times",
        "is_weekday", "is_weekend", "is_month_end", "is_month_start", "is_day_of_week",
        "adjustments.add", "next_weekday", "America/New_York", "Europe/London", "Australia/Sydney",
    )  # fmt: skip
    for piece in pieces:
        assert piece in docs, piece
    assert all(len(result["events"]) > 0 for case in corpus for result in case["results"])


def test_dockyard_computes_the_same_next_ten_events_as_prefect(corpus: list[dict[str, Any]]) -> None:
    mismatches = []
    for case in corpus:
        schedule = load_schedule(case["schedule"])
        for result in case["results"]:
            after = datetime.fromisoformat(result["after"])
            ours = [
                _event(e.start_time, dict(e.parameter_defaults), e.labels) for e in schedule.next(10, after)
            ]
            theirs = [
                _event(datetime.fromisoformat(e["start"]), e["parameters"], e["labels"])
                for e in result["events"]
            ]
            if ours != theirs:
                mismatches.append(
                    f"{case['name']} after {result['after']}:\n  dockyard {ours}\n  prefect  {theirs}"
                )
    assert not mismatches, "\n".join(mismatches)
