"""SQLite's spelling of what the compiler leaves to a dialect.

Booleans are kept as 0/1; ties are broken by ``rowid``. ``LIKE`` is ``dy_like``, a Python
function the store registers on each connection (SQLite's own LIKE ignores case for ASCII
only and knows no backslash escapes); the JSON operators walk the canonical text with
``json_each``, comparing elements as SQLite reads them back.
"""

from __future__ import annotations

from typing import Any

from dockyard.adapters.sql.dialect import Dialect
from dockyard.domain.server.catalog import Kind
from dockyard.domain.server.filters import Op, json_text

_LIKES = {Op.LIKE: (False, False), Op.NLIKE: (False, True), Op.ILIKE: (True, False), Op.NILIKE: (True, True)}


class SqliteDialect(Dialect):
    name = "sqlite"
    placeholder = "?"
    insertion_order = "rowid"
    true = "1"
    false = "0"
    max_parameters = 32766  # SQLite's default SQLITE_MAX_VARIABLE_NUMBER

    def encode(self, kind: Kind, value: Any) -> Any:
        if value is not None and kind is Kind.BOOL:
            return int(bool(value))
        return super().encode(kind, value)

    def unlimited(self) -> Any:
        return -1

    def like(self, column: str, op: Op, pattern: str, kind: Kind) -> tuple[str, list[Any]]:
        insensitive, negated = _LIKES[op]
        return f"{'NOT ' if negated else ''}dy_like(?, {column}, ?)", [pattern, int(insensitive)]

    def json_op(self, column: str, op: Op, value: Any) -> tuple[str, list[Any]]:
        params = [json_text(value if op is not Op.HAS_KEY else str(value))]
        if op is Op.CONTAINS:
            sql = (
                f"(json_type({column}) = 'array' AND NOT EXISTS (SELECT 1 FROM json_each(?) AS g "
                f"WHERE g.value NOT IN (SELECT value FROM json_each({column}))))"
            )
        elif op is Op.CONTAINED_IN:
            sql = (
                f"(json_type({column}) = 'array' AND NOT EXISTS (SELECT 1 FROM json_each({column}) AS h "
                f"WHERE h.value NOT IN (SELECT value FROM json_each(?))))"
            )
        elif op is Op.HAS_KEY:
            sql = (
                f"(json_type({column}) = 'object' AND EXISTS (SELECT 1 FROM json_each({column}) AS k "
                f"WHERE k.key = json_extract(?, '$')))"
            )
        elif op is Op.HAS_KEYS_ANY:
            sql = (
                f"(json_type({column}) = 'object' AND EXISTS (SELECT 1 FROM json_each({column}) AS k "
                f"WHERE k.key IN (SELECT value FROM json_each(?))))"
            )
        elif op is Op.HAS_KEYS_ALL:
            sql = (
                f"(json_type({column}) = 'object' AND NOT EXISTS (SELECT 1 FROM json_each(?) AS w "
                f"WHERE w.value NOT IN (SELECT key FROM json_each({column}))))"
            )
        else:
            raise ValueError(f"unsupported operator {op.value}")
        return sql, params

    def row_key(self, columns: list[str]) -> str:
        return f"json_array({', '.join(columns)})"


SQLITE = SqliteDialect()
