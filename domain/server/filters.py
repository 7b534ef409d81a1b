"""A small filter language over catalog tables, and its reference semantics.

The GraphQL adapter builds these from Hasura-style ``where`` arguments and the queue rules
build them directly; a store compiles them (SQLite: to parameterised SQL). ``evaluate`` is
the meaning of the language, with SQL's three-valued logic (a comparison with NULL is
unknown, and unknown rows are not selected), so an in-memory store and SQL agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

Row = dict[str, Any]


class Op(Enum):
    EQ = "_eq"
    NEQ = "_neq"
    IN = "_in"
    NIN = "_nin"
    GT = "_gt"
    GTE = "_gte"
    LT = "_lt"
    LTE = "_lte"
    IS_NULL = "_is_null"
    LIKE = "_like"
    NLIKE = "_nlike"
    ILIKE = "_ilike"
    NILIKE = "_nilike"
    CONTAINS = "_contains"  # JSON arrays: every given element is in the column
    CONTAINED_IN = "_contained_in"  # JSON arrays: every element of the column is given
    HAS_KEY = "_has_key"
    HAS_KEYS_ANY = "_has_keys_any"
    HAS_KEYS_ALL = "_has_keys_all"


@dataclass(frozen=True)
class Compare:
    column: str
    op: Op
    value: Any


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Negate:
    part: Filter


@dataclass(frozen=True)
class Related:
    """Some row of relationship ``relation`` matches ``where`` (SQL ``EXISTS``)."""

    relation: str
    where: Filter


Filter = Compare | AllOf | AnyOf | Negate | Related
MATCH_ALL: Filter = AllOf(())


@dataclass(frozen=True)
class Order:
    column: str
    descending: bool = False
    nulls_first: bool | None = None  # None: Postgres' default (NULLs sort as largest)

    @property
    def nulls_come_first(self) -> bool:
        return self.descending if self.nulls_first is None else self.nulls_first


@dataclass(frozen=True)
class Select:
    table: str
    where: Filter = MATCH_ALL
    order_by: tuple[Order, ...] = ()
    limit: int | None = None
    offset: int | None = None
    # Only these columns (every one when empty): a pass over many rows need not decode
    # the large JSON columns it does not read.
    columns: tuple[str, ...] = ()


def eq(column: str, value: Any) -> Compare:
    return Compare(column, Op.EQ, value)


def all_of(*parts: Filter) -> Filter:
    kept = tuple(p for p in parts if p != MATCH_ALL)
    return kept[0] if len(kept) == 1 else AllOf(kept)


# -- reference semantics -------------------------------------------------------------------

Truth = bool | None  # None: SQL's UNKNOWN
RelatedRows = Callable[[str, Mapping[str, Any]], Iterable[Mapping[str, Any]]]


def evaluate(where: Filter, row: Mapping[str, Any], related: RelatedRows) -> Truth:
    """Three-valued truth of ``where`` for ``row``; ``related(relation, row)`` gives the
    rows a relationship points to."""
    if isinstance(where, Compare):
        return _compare(row.get(where.column), where.op, where.value)
    if isinstance(where, AllOf):
        results = [evaluate(p, row, related) for p in where.parts]
        return False if False in results else (None if None in results else True)
    if isinstance(where, AnyOf):
        results = [evaluate(p, row, related) for p in where.parts]
        return True if True in results else (None if None in results else False)
    if isinstance(where, Negate):
        inner = evaluate(where.part, row, related)
        return None if inner is None else not inner
    return any(evaluate(where.where, r, related) is True for r in related(where.relation, row))


def json_text(value: Any) -> str:
    """The canonical JSON text the stores compare JSON values by."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _compare(actual: Any, op: Op, expected: Any) -> Truth:
    if op is Op.IS_NULL:
        return (actual is None) == bool(expected)
    if op is Op.IN or op is Op.NIN:
        values = list(expected)
        if not values:
            return op is Op.NIN
        if actual is None:
            return None
        return (_key(actual) in {_key(v) for v in values}) == (op is Op.IN)
    if actual is None:
        return None
    if op in _ORDERING:
        return bool(_ORDERING[op](_key(actual), _key(expected)))
    if op in (Op.LIKE, Op.NLIKE, Op.ILIKE, Op.NILIKE):
        found = like(str(expected), str(actual), op in (Op.ILIKE, Op.NILIKE))
        return found == (op in (Op.LIKE, Op.ILIKE))
    return _json_op(actual, op, expected)


def _key(value: Any) -> Any:
    # JSON values compare by canonical text, like the SQL store stores them.
    return json_text(value) if isinstance(value, dict | list) else value


_ORDERING: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: lambda a, b: a == b,
    Op.NEQ: lambda a, b: a != b,
    Op.GT: lambda a, b: a > b,
    Op.GTE: lambda a, b: a >= b,
    Op.LT: lambda a, b: a < b,
    Op.LTE: lambda a, b: a <= b,
}


def _json_op(actual: Any, op: Op, expected: Any) -> Truth:
    if op in (Op.CONTAINS, Op.CONTAINED_IN):
        if not isinstance(actual, list):
            return False
        have, given = {_key(v) for v in actual}, {_key(v) for v in expected}
        return given <= have if op is Op.CONTAINS else have <= given
    if not isinstance(actual, dict):
        return False
    keys = [expected] if op is Op.HAS_KEY else list(expected)
    found = [k in actual for k in keys]
    return all(found) if op is not Op.HAS_KEYS_ANY else any(found)


@lru_cache(maxsize=256)
def _like_regex(pattern: str, insensitive: bool) -> re.Pattern[str]:
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if insensitive else 0))


def like(pattern: str, value: str, insensitive: bool) -> bool:
    """SQL ``LIKE`` (``%``, ``_``, backslash escapes), case-sensitive unless asked."""
    return _like_regex(pattern, insensitive).fullmatch(value) is not None


def sort_rows(rows: Sequence[Row], order_by: Sequence[Order]) -> list[Row]:
    """Rows in ``order_by`` order; ties keep their given (insertion) order."""
    ordered = list(rows)
    for order in reversed(order_by):
        present = [r for r in ordered if r.get(order.column) is not None]
        missing = [r for r in ordered if r.get(order.column) is None]
        present.sort(key=lambda r: _key(r[order.column]), reverse=order.descending)
        ordered = missing + present if order.nulls_come_first else present + missing
    return ordered
