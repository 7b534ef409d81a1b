"""PostgreSQL's spelling of what the compiler leaves to a dialect.

Text columns use the "C" collation (set in the schema), so text sorts and compares by code
point, as SQLite and the reference semantics do. ``ILIKE`` folds case with ICU's root
collation where the server has it (the "C" collation folds ASCII only). JSON stays
canonical text in TEXT columns, so equality, ordering and ``distinct_on`` are the canonical
text's; the JSON operators parse it (``::json``) and compare elements by their text.
"""

from __future__ import annotations

from typing import Any

from dockyard.adapters.sql.dialect import Dialect
from dockyard.domain.server.catalog import Kind
from dockyard.domain.server.filters import Op, json_text

_TEXT_KINDS = frozenset({Kind.TEXT, Kind.UUID, Kind.TIME, Kind.JSON})
CASE_FOLDING_COLLATION = "und-x-icu"


def _without_dangling_escape(pattern: str) -> str:
    """A pattern ending in an unpaired backslash matches as if it were not there (the
    reference semantics); PostgreSQL would never match it."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return pattern[:-1] if trailing % 2 else pattern


class PostgresDialect(Dialect):
    name = "postgresql"
    placeholder = "%s"
    insertion_order = "dy_seq"
    true = "TRUE"
    false = "FALSE"
    max_parameters = 65535  # the protocol's limit

    def __init__(self, case_folding: str | None = CASE_FOLDING_COLLATION) -> None:
        self._fold = f' COLLATE "{case_folding}"' if case_folding else ""

    def encode(self, kind: Kind, value: Any) -> Any:
        if value is not None and kind is Kind.BOOL:
            return bool(value)
        return super().encode(kind, value)

    def like(self, column: str, op: Op, pattern: str, kind: Kind) -> tuple[str, list[Any]]:
        target = column if kind in _TEXT_KINDS else f"{column}::text"
        negated = "NOT " if op in (Op.NLIKE, Op.NILIKE) else ""
        if op in (Op.ILIKE, Op.NILIKE):
            return f"{target} {negated}ILIKE %s{self._fold}", [_without_dangling_escape(pattern)]
        return f"{target} {negated}LIKE %s", [_without_dangling_escape(pattern)]

    def json_op(self, column: str, op: Op, value: Any) -> tuple[str, list[Any]]:
        doc = f"{column}::json"
        if op is Op.CONTAINS:
            sql = (
                f"(json_typeof({doc}) = 'array' AND NOT EXISTS (SELECT 1 FROM json_array_elements(%s::json)"
                " AS g WHERE g.value::text NOT IN"
                f" (SELECT h.value::text FROM json_array_elements({doc}) AS h)))"
            )
        elif op is Op.CONTAINED_IN:
            sql = (
                f"(json_typeof({doc}) = 'array' AND NOT EXISTS (SELECT 1 FROM json_array_elements({doc}) AS h"
                " WHERE h.value::text NOT IN"
                " (SELECT g.value::text FROM json_array_elements(%s::json) AS g)))"
            )
        elif op is Op.HAS_KEY:
            return f"(json_typeof({doc}) = 'object' AND ({doc} -> %s::text) IS NOT NULL)", [str(value)]
        elif op is Op.HAS_KEYS_ANY:
            sql = (
                f"(json_typeof({doc}) = 'object' AND EXISTS (SELECT 1 FROM json_array_elements_text(%s::json)"
                f" AS w(key) WHERE ({doc} -> w.key) IS NOT NULL))"
            )
        elif op is Op.HAS_KEYS_ALL:
            sql = (
                f"(json_typeof({doc}) = 'object' AND NOT EXISTS (SELECT 1 FROM "
                f"json_array_elements_text(%s::json) AS w(key) WHERE ({doc} -> w.key) IS NULL))"
            )
        else:
            raise ValueError(f"unsupported operator {op.value}")
        return sql, [json_text(value)]

    def row_key(self, columns: list[str]) -> str:
        return f"json_build_array({', '.join(columns)})::text"
