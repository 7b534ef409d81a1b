"""Figures and their presentation: percentiles, ratios, aligned tables, target verdicts."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating linearly between the nearest ranks
    (numpy's default method), so p50 of an even count is the mean of the middle two."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median_by(items: Sequence[T], key: Callable[[T], float]) -> T | None:
    """The item whose key is the median (the lower middle one of an even count)."""
    if not items:
        return None
    ordered = sorted(items, key=key)
    return ordered[(len(ordered) - 1) // 2]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def fmt(value: float | int | str | None, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return format(value, spec)


class Table:
    """Rows of a label and one cell per column, printed with aligned columns."""

    def __init__(self, title: str, columns: Sequence[str], label_width: int = 46) -> None:
        self.title = title
        self.columns = list(columns)
        self.label_width = label_width
        self.rows: list[tuple[str, list[str]]] = []

    def row(self, label: str, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"row {label!r} has {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append((label, list(cells)))

    def render(self) -> str:
        widths = [max(len(c), *(len(r[1][i]) for r in self.rows)) for i, c in enumerate(self.columns)]
        widths = [max(w, 8) for w in widths]

        def line(label: str, cells: Sequence[str]) -> str:
            padded = "  ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))
            return f"  {label:<{self.label_width}}{padded}".rstrip()

        out = [self.title, line("", self.columns)]
        out += [line(label, cells) for label, cells in self.rows]
        return "\n".join(out)


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def at_least(value: float | None, bound: float | None) -> bool | None:
    return None if value is None or bound is None else value >= bound


def at_most(value: float | None, bound: float | None) -> bool | None:
    return None if value is None or bound is None else value <= bound
