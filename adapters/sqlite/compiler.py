"""Filters, selects and aggregates of the domain's query language, compiled to
parameterised SQL.

Only catalog names ever reach the SQL text (anything else is refused); every value is a
bound parameter. JSON values are stored and compared as canonical JSON text, booleans as
0/1, instants as canonical UTC text (so ``<=`` on text is ``<=`` in time). ``distinct_on``
keeps the first row of each group by ranking rows in a window partitioned by those columns
(SQLite has no ``DISTINCT ON``); aggregates run over the select as a subquery.
"""

from __future__ import annotations

import itertools
from typing import Any

from dockyard.domain.server.catalog import Kind, Table, table
from dockyard.domain.server.filters import (
    AllOf,
    AnyOf,
    Compare,
    Filter,
    Fn,
    Measure,
    Negate,
    Op,
    Order,
    Select,
    json_text,
)

_PLAIN = {Op.EQ: "=", Op.NEQ: "<>", Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}
_LIKES = {Op.LIKE: (False, False), Op.NLIKE: (False, True), Op.ILIKE: (True, False), Op.NILIKE: (True, True)}


def encode(kind: Kind, value: Any) -> Any:
    """A Python value as the store keeps it."""
    if value is None:
        return None
    if kind is Kind.JSON:
        return json_text(value)
    if kind is Kind.BOOL:
        return int(bool(value))
    return value


class Compiler:
    def __init__(self) -> None:
        self.params: list[Any] = []
        self._aliases = itertools.count()

    def select(self, query: Select, columns: list[str]) -> str:
        source = table(query.table)
        alias = self._alias()
        selected = ", ".join(f"{alias}.{self._column(source, c)}" for c in columns)
        condition = self.where(source, alias, query.where)
        orders = self._orders(source, alias, query.ordering)
        if not query.distinct_on:
            sql = f"SELECT {selected} FROM {source.name} AS {alias} WHERE {condition}"
            sql += f" ORDER BY {', '.join([*orders, f'{alias}.rowid'])}"  # ties in insertion order
        else:
            groups = ", ".join(f"{alias}.{self._column(source, c)}" for c in query.distinct_on)
            ranked = (
                f"SELECT {alias}.*, {alias}.rowid AS dy_rowid, ROW_NUMBER() OVER "
                f"(PARTITION BY {groups} ORDER BY {', '.join([*orders, f'{alias}.rowid'])}) AS dy_rank "
                f"FROM {source.name} AS {alias} WHERE {condition}"
            )
            sql = f"SELECT {selected} FROM ({ranked}) AS {alias} WHERE {alias}.dy_rank = 1"
            sql += f" ORDER BY {', '.join([*orders, f'{alias}.dy_rowid'])}"
        if query.limit is not None or query.offset is not None:
            sql += " LIMIT ? OFFSET ?"
            self.params += [-1 if query.limit is None else max(query.limit, 0), max(query.offset or 0, 0)]
        return sql

    def aggregate(self, query: Select, measures: list[Measure]) -> str:
        source = table(query.table)
        inner = self.select(query, list(source.columns))
        alias = self._alias()
        parts = [self._measure(source, alias, measure) for measure in measures]
        return f"SELECT {', '.join(parts) or '0'} FROM ({inner}) AS {alias}"

    def _measure(self, source: Table, alias: str, measure: Measure) -> str:
        columns = [f"{alias}.{self._column(source, c)}" for c in measure.columns]
        if measure.fn is Fn.COUNT:
            if not columns:
                return "COUNT(*)"
            if len(columns) == 1:
                return f"COUNT({'DISTINCT ' if measure.distinct else ''}{columns[0]})"
            present = " AND ".join(f"{c} IS NOT NULL" for c in columns)
            if measure.distinct:
                return f"COUNT(DISTINCT CASE WHEN {present} THEN json_array({', '.join(columns)}) END)"
            return f"COUNT(CASE WHEN {present} THEN 1 END)"
        if len(columns) != 1:
            raise ValueError(f"{measure.fn.value} takes exactly one column")
        return f"{measure.fn.value.upper()}({columns[0]})"

    def _orders(self, source: Table, alias: str, orders: tuple[Order, ...]) -> list[str]:
        compiled = []
        for order in orders:
            column = self._column(source, order.column)
            nulls = "FIRST" if order.nulls_come_first else "LAST"
            compiled.append(f"{alias}.{column} {'DESC' if order.descending else 'ASC'} NULLS {nulls}")
        return compiled

    def where(self, source: Table, alias: str, where: Filter) -> str:
        if isinstance(where, Compare):
            return self._compare(source, alias, where)
        if isinstance(where, AllOf | AnyOf):
            if not where.parts:
                return "1" if isinstance(where, AllOf) else "0"
            joiner = " AND " if isinstance(where, AllOf) else " OR "
            return "(" + joiner.join(self.where(source, alias, p) for p in where.parts) + ")"
        if isinstance(where, Negate):
            return f"(NOT {self.where(source, alias, where.part)})"
        relation = source.relations.get(where.relation)
        if relation is None:
            raise ValueError(f"unknown relationship {where.relation!r} of {source.name}")
        target, inner = table(relation.target), self._alias()
        condition = self.where(target, inner, where.where)
        return (
            f"EXISTS (SELECT 1 FROM {target.name} AS {inner} "
            f"WHERE {inner}.{relation.remote} = {alias}.{relation.local} AND {condition})"
        )

    def _compare(self, source: Table, alias: str, where: Compare) -> str:
        name = self._column(source, where.column)
        kind, column, op, value = source.columns[name], f"{alias}.{name}", where.op, where.value
        if op is Op.IS_NULL:
            return f"{column} IS {'' if value else 'NOT '}NULL"
        if op in (Op.IN, Op.NIN):
            values = list(value)
            if not values:
                return "1" if op is Op.NIN else "0"
            self.params += [encode(kind, v) for v in values]
            return f"{column} {'NOT ' if op is Op.NIN else ''}IN ({', '.join('?' * len(values))})"
        if op in _PLAIN:
            self.params.append(encode(kind, value))
            return f"{column} {_PLAIN[op]} ?"
        return f"(CASE WHEN {column} IS NULL THEN NULL ELSE {self._special(column, op, value)} END)"

    def _special(self, column: str, op: Op, value: Any) -> str:
        if op in _LIKES:
            insensitive, negated = _LIKES[op]
            self.params += [str(value), int(insensitive)]
            return f"{'NOT ' if negated else ''}dy_like(?, {column}, ?)"
        self.params.append(json_text(value if op is not Op.HAS_KEY else str(value)))
        if op is Op.CONTAINS:
            return (
                f"(json_type({column}) = 'array' AND NOT EXISTS (SELECT 1 FROM json_each(?) AS g "
                f"WHERE g.value NOT IN (SELECT value FROM json_each({column}))))"
            )
        if op is Op.CONTAINED_IN:
            return (
                f"(json_type({column}) = 'array' AND NOT EXISTS (SELECT 1 FROM json_each({column}) AS h "
                f"WHERE h.value NOT IN (SELECT value FROM json_each(?))))"
            )
        if op is Op.HAS_KEY:
            return (
                f"(json_type({column}) = 'object' AND EXISTS (SELECT 1 FROM json_each({column}) AS k "
                f"WHERE k.key = json_extract(?, '$')))"
            )
        if op is Op.HAS_KEYS_ANY:
            return (
                f"(json_type({column}) = 'object' AND EXISTS (SELECT 1 FROM json_each({column}) AS k "
                f"WHERE k.key IN (SELECT value FROM json_each(?))))"
            )
        if op is Op.HAS_KEYS_ALL:
            return (
                f"(json_type({column}) = 'object' AND NOT EXISTS (SELECT 1 FROM json_each(?) AS w "
                f"WHERE w.value NOT IN (SELECT key FROM json_each({column}))))"
            )
        raise ValueError(f"unsupported operator {op.value}")

    def _column(self, source: Table, name: str) -> str:
        if name not in source.columns:
            raise ValueError(f"unknown column {name!r} of {source.name}")
        return name

    def _alias(self) -> str:
        return f"t{next(self._aliases)}"
