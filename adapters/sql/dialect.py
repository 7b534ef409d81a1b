"""What differs between the SQL databases the RunStore runs on, for the one query compiler.

The compiler writes everything standard itself (``WHERE``, ``EXISTS`` through
relationships, ``ORDER BY ... NULLS FIRST``, the window that keeps ``distinct_on``'s first
rows, aggregates over a subquery). A dialect supplies the rest: the parameter marker, the
column that keeps insertion order, how values are stored, ``LIMIT`` without a limit, and
the operators with no common spelling: ``LIKE`` with the reference semantics, and the JSON
operators (``_contains``, ``_has_key`` ...) over JSON kept as canonical text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any

from dockyard.domain.server.catalog import Kind
from dockyard.domain.server.filters import Fn, Op, json_text


class Dialect(ABC):
    name: str
    placeholder: str  # how a bound parameter is written
    insertion_order: str  # the column that orders ties (rows in the order they were inserted)
    true: str
    false: str
    max_parameters: int  # bound parameters one statement may carry

    def encode(self, kind: Kind, value: Any) -> Any:
        """A Python value as the database keeps it: JSON as canonical text."""
        if value is None:
            return None
        if kind is Kind.JSON:
            return json_text(value)
        return value

    def unlimited(self) -> Any:
        """The ``LIMIT`` parameter that means no limit."""
        return None

    def measure(self, fn: Fn, value: Any) -> Any:
        """An aggregate's value as the reference semantics have it (sums of integers are
        integers, averages floats)."""
        if isinstance(value, Decimal):
            return float(value) if fn is Fn.AVG else int(value)
        return value

    @abstractmethod
    def like(self, column: str, op: Op, pattern: str, kind: Kind) -> tuple[str, list[Any]]:
        """``column`` (NOT) (I)LIKE ``pattern``: backslash escapes, ``%`` and ``_``."""

    @abstractmethod
    def json_op(self, column: str, op: Op, value: Any) -> tuple[str, list[Any]]:
        """A JSON operator on a JSON column that is not NULL, with canonical-text
        comparison of values (as ``filters._json_op``)."""

    @abstractmethod
    def row_key(self, columns: list[str]) -> str:
        """One comparable value for several columns (``count(distinct a, b)``)."""
