"""Percentiles, ratios, tables and verdicts of the agent benchmark, and its derived figures."""

from __future__ import annotations

import pytest
from _figures import Streaming, Throughput
from _procfs import TreeMemory
from _report import Table, at_least, at_most, median_by, percentile, ratio, verdict


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),
        ([1.0, 2.0, 3.0], 50, 2.0),
        ([5.0, 1.0, 9.0], 0, 1.0),
        ([5.0, 1.0, 9.0], 100, 9.0),
        ([float(v) for v in range(1, 11)], 95, 9.55),
        ([0.2], 95, 0.2),
    ],
)
def test_percentiles_interpolate_between_ranks(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_ratio_and_bounds_tolerate_missing_figures() -> None:
    assert ratio(3.0, 4.0) == 0.75
    assert ratio(None, 4.0) is None
    assert ratio(3.0, 0.0) is None
    assert (at_least(7.4, 7.3), at_least(7.2, 7.3), at_least(None, 7.3)) == (True, False, None)
    assert (at_most(0.4, 0.5), at_most(0.6, 0.5), at_most(0.4, None)) == (True, False, None)
    assert [verdict(v) for v in (True, False, None)] == ["PASS", "MISS", "n/a "]


def test_table_aligns_cells_under_their_columns() -> None:
    table = Table("Title", ["first", "second column"], label_width=10)
    table.row("a", "1.00", "22.50")
    table.row("longer", "333.00", "-")
    lines = table.render().splitlines()
    assert lines[0] == "Title"
    header, first, second = lines[1:]
    assert header.index("second column") + len("second column") == first.index("22.50") + len("22.50")
    assert first.index("1.00") + 4 == second.index("333.00") + 6
    assert second.rstrip().endswith("-")
    with pytest.raises(ValueError):
        table.row("short", "1")


def test_throughput_counts_from_availability_to_the_last_start() -> None:
    done = Throughput(runs=4, available=100.0, starts=[100.5, 101.0, 101.5, 102.0], launched=99.0)
    assert done.rate == pytest.approx(4 / 2.0)
    assert done.steady_rate == pytest.approx(3 / 1.5)
    assert done.first_start_after == pytest.approx(0.5)
    assert done.startup == pytest.approx(1.0)
    assert done.per_run_ms(0.2) == pytest.approx(50.0)
    unfinished = Throughput(runs=4, available=100.0, starts=[100.5, 101.0])
    assert unfinished.rate is None and unfinished.steady_rate is None


def test_extra_memory_per_stream_is_the_growth_over_idle_per_started_container() -> None:
    idle, busy = TreeMemory(1, 40_000, 50_000), TreeMemory(21, 240_000, 900_000)
    assert (
        Streaming(streams=20, started=20, idle=idle, busy=busy, lines_printed=5).extra_per_stream_kib
        == 10_000
    )
    assert (
        Streaming(streams=20, started=0, idle=idle, busy=idle, lines_printed=0).extra_per_stream_kib is None
    )


def test_median_by_keeps_the_middle_item_and_the_lower_middle_of_an_even_count() -> None:
    rounds = [("b", 7.1), ("a", 6.2), ("c", 7.9)]
    assert median_by(rounds, key=lambda r: r[1]) == ("b", 7.1)
    assert median_by([*rounds, ("d", 8.5)], key=lambda r: r[1]) == ("b", 7.1)
    assert median_by([], key=lambda r: r) is None
