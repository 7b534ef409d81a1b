"""The figures behind the run page's timeline and the activity chart: pure functions over
state-history rows, checked with hand-computed answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dockyard.adapters.dashboard.charts import latency_chart, nice_ceiling, outcome_chart
from dockyard.domain.server.activity import Deploy, activity, deploys, hour_starts, outcome, percentile
from dockyard.domain.server.timeline import run_duration, timeline

NOW = datetime(2026, 3, 1, 12, 30, 0, tzinfo=UTC)


def at(minute: float, hour: int = 12) -> str:
    moment = datetime(2026, 3, 1, hour, 0, tzinfo=UTC) + timedelta(minutes=minute)
    return moment.isoformat()


def state(name: str, when: str, version: int, start_time: str | None = None) -> dict[str, Any]:
    return {
        "state": name,
        "timestamp": when,
        "version": version,
        "message": f"{name}!",
        "start_time": start_time,
    }


def test_each_state_lasts_until_the_next_and_an_unfinished_run_until_now() -> None:
    history = [state("Running", at(2), 3), state("Scheduled", at(0), 1), state("Submitted", at(0.5), 2)]
    spans = timeline(history, NOW)
    assert [s.state for s in spans] == ["Scheduled", "Submitted", "Running"]
    assert [s.duration for s in spans] == [
        timedelta(seconds=30),
        timedelta(seconds=90),
        timedelta(minutes=28),
    ]
    assert [s.current for s in spans] == [False, False, True]
    assert spans[0].message == "Scheduled!"


def test_a_finished_runs_last_state_has_no_duration() -> None:
    spans = timeline([state("Running", at(1), 2), state("Failed", at(4), 3)], NOW)
    assert spans[0].duration == timedelta(minutes=3)
    assert spans[1].duration is None and spans[1].current


def test_states_written_in_one_instant_keep_their_version_order() -> None:
    spans = timeline([state("Failed", at(1), 3), state("Running", at(1), 2)], NOW)
    assert [s.state for s in spans] == ["Running", "Failed"]
    assert spans[0].duration == timedelta(0)


def test_run_duration_runs_until_the_end_or_now() -> None:
    assert run_duration(None, None, NOW) is None
    assert run_duration(at(10), at(12), NOW) == timedelta(minutes=2)
    assert run_duration(at(10), None, NOW) == timedelta(minutes=20)


def test_deploy_latency_counts_from_due_and_from_submitted() -> None:
    history = [
        state("Scheduled", at(0), 1, start_time=at(5)),  # created at :00, due at :05
        state("Submitted", at(5.5), 2),
        state("Running", at(6), 3),
        state("Retrying", at(7), 4, start_time=at(7)),  # a retry is a second deployment
        state("Submitted", at(7.25), 5),
        state("Running", at(7.5), 6),
        state("Success", at(8), 7),
    ]
    found = deploys(history)
    assert [(d.from_due, d.from_submitted) for d in found] == [(60.0, 30.0), (30.0, 15.0)]
    assert found[0].running_at == datetime.fromisoformat(at(6))


def test_a_run_started_before_it_was_due_waited_zero_and_running_without_a_schedule_is_no_deploy() -> None:
    early = [state("Scheduled", at(0), 1, start_time=at(10)), state("Running", at(1), 2)]
    assert [(d.from_due, d.from_submitted) for d in deploys(early)] == [(0.0, None)]
    assert deploys([state("Running", at(1), 1), state("Success", at(2), 2)]) == []


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.5) == 10.0
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 1.0) == 20.0


def test_outcomes_group_the_final_states() -> None:
    assert [outcome(s) for s in ("Success", "Cached", "Failed", "TimedOut", "Cancelled", "Looped")] == [
        "Success", "Success", "Failed", "Failed", "Cancelled", "Other",
    ]  # fmt: skip


def test_hours_are_whole_clock_hours_ending_with_the_current_one() -> None:
    starts = hour_starts(NOW, 24)
    assert len(starts) == 24
    assert starts[-1] == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert starts[0] == datetime(2026, 2, 28, 13, 0, tzinfo=UTC)


def test_activity_buckets_runs_and_deploys_by_hour_and_drops_what_is_outside_the_day() -> None:
    ended = [
        ("Success", datetime(2026, 3, 1, 12, 10, tzinfo=UTC)),
        ("Failed", datetime(2026, 3, 1, 12, 20, tzinfo=UTC)),
        ("Success", datetime(2026, 3, 1, 11, 59, 59, tzinfo=UTC)),
        ("Cancelled", datetime(2026, 2, 28, 13, 0, tzinfo=UTC)),  # the first instant of the day
        ("Success", datetime(2026, 2, 28, 12, 59, tzinfo=UTC)),  # just before it: left out
        ("Success", datetime(2026, 3, 1, 12, 31, tzinfo=UTC)),  # after now: left out
    ]
    deployed = [
        Deploy(datetime(2026, 3, 1, 12, 5, tzinfo=UTC), 4.0, 1.0),
        Deploy(datetime(2026, 3, 1, 12, 6, tzinfo=UTC), 2.0, None),
        Deploy(datetime(2026, 2, 27, 12, 6, tzinfo=UTC), 99.0, 99.0),  # two days ago
    ]
    day = activity(ended, deployed, NOW)
    last, before, first = day.hours[-1], day.hours[-2], day.hours[0]
    assert last.outcomes == {"Success": 1, "Failed": 1, "Cancelled": 0, "Other": 0}
    assert before.outcomes["Success"] == 1 and first.outcomes["Cancelled"] == 1
    assert day.totals == {"Success": 2, "Failed": 1, "Cancelled": 1, "Other": 0}
    assert last.from_due.count == 2 and last.from_due.p50 == 2.0 and last.from_due.worst == 4.0
    assert day.from_due.count == 2 and day.from_submitted.count == 1 and day.from_submitted.p50 == 1.0
    assert day.since == datetime(2026, 2, 28, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1.0), (1, 1.0), (3, 5.0), (7, 10.0), (10, 10.0), (11, 20.0), (0.3, 0.5)]
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == ceiling


def test_outcome_bars_stack_in_proportion_to_the_counts() -> None:
    ended = [("Success", datetime(2026, 3, 1, 12, 1, tzinfo=UTC))] * 3
    ended += [("Failed", datetime(2026, 3, 1, 12, 2, tzinfo=UTC))] * 2
    chart = outcome_chart(activity(ended, [], NOW))
    success, failed = chart.bars
    assert (success.css, failed.css) == ("bar-success", "bar-failed")
    assert success.height == pytest.approx(failed.height * 1.5)
    assert failed.y + failed.height == pytest.approx(success.y)  # stacked, touching
    assert success.y + success.height == pytest.approx(chart.bottom)
    assert "3 Success" in success.title and success.x > chart.bars[0].x - 1
    assert [t.text for t in chart.y_ticks] == ["0", "2.5", "5"]


def test_the_latency_chart_draws_the_median_and_marks_the_slowest() -> None:
    deployed = [Deploy(datetime(2026, 3, 1, 12, 5, tzinfo=UTC), s, None) for s in (1.0, 2.0, 8.0)]
    chart = latency_chart(activity([], deployed, NOW))
    median, slowest = chart.bars
    assert median.css == "bar-latency" and slowest.css == "bar-worst"
    plot = chart.bottom - 10  # the top margin
    assert median.height == pytest.approx(plot * 2.0 / 10.0)
    assert slowest.y + 1 == pytest.approx(chart.bottom - plot * 8.0 / 10.0)
    assert outcome_chart(activity([], [], NOW)).empty
