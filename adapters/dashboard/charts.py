"""The activity charts as shapes: bar positions computed here, drawn by a template as
inline SVG (no chart library, no script)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dockyard.adapters.dashboard.formatting import duration
from dockyard.domain.server.activity import OUTCOMES, Activity

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.bars


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _frame(activity: Activity) -> tuple[float, float]:
    slot = (WIDTH - LEFT - RIGHT) / len(activity.hours)
    return slot, HEIGHT - TOP - BOTTOM


def _x_ticks(activity: Activity, slot: float) -> tuple[Tick, ...]:
    return tuple(
        Tick(LEFT + slot * index + slot / 2, hour.start.strftime("%H:00"))
        for index, hour in enumerate(activity.hours)
        if index % 3 == 0
    )


def outcome_chart(activity: Activity) -> Chart:
    """Finished runs per hour, stacked by outcome (Success at the bottom)."""
    slot, plot = _frame(activity)
    top = nice_ceiling(max((h.finished for h in activity.hours), default=0))
    bars = []
    for index, hour in enumerate(activity.hours):
        base = float(HEIGHT - BOTTOM)
        for name in OUTCOMES:
            count = hour.outcomes[name]
            if not count:
                continue
            height = plot * count / top
            base -= height
            label = f"{hour.start:%H:00}-{(hour.start.hour + 1) % 24:02d}:00 UTC: {count} {name}"
            bars.append(Bar(LEFT + slot * index + 1, base, slot - 2, height, f"bar-{name.lower()}", label))
    ticks = tuple(Tick(HEIGHT - BOTTOM - plot * f, f"{top * f:g}") for f in (0, 0.5, 1))
    return Chart(tuple(bars), _x_ticks(activity, slot), ticks)


def latency_chart(activity: Activity) -> Chart:
    """Median deploy latency (due → Running) per hour, with the slowest as a thin mark."""
    slot, plot = _frame(activity)
    worst = max((h.from_due.worst or 0.0 for h in activity.hours), default=0.0)
    top = nice_ceiling(worst)
    bars = []
    for index, hour in enumerate(activity.hours):
        stats = hour.from_due
        if not stats.count or stats.p50 is None or stats.worst is None:
            continue
        x = LEFT + slot * index + 1
        height = max(plot * stats.p50 / top, 1.0)
        label = (
            f"{hour.start:%H:00} UTC: {stats.count} deploys, median {duration(stats.p50)}, "
            f"slowest {duration(stats.worst)}"
        )
        bars.append(Bar(x, HEIGHT - BOTTOM - height, slot - 2, height, "bar-latency", label))
        mark = HEIGHT - BOTTOM - plot * stats.worst / top
        bars.append(Bar(x, mark - 1, slot - 2, 2, "bar-worst", label))
    ticks = tuple(Tick(HEIGHT - BOTTOM - plot * f, duration(top * f)) for f in (0, 0.5, 1))
    return Chart(tuple(bars), _x_ticks(activity, slot), ticks)
