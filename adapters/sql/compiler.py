"""Filters, selects and aggregates of the domain's query language, compiled to
parameterised SQL for a dialect.

Only catalog names ever reach the SQL text (anything else is refused); every value is a
bound parameter. JSON values are stored and compared as canonical JSON text, instants as
canonical UTC text (so ``<=`` on text is ``<=`` in time). ``distinct_on`` keeps the first
row of each group by ranking rows in a window partitioned by those columns (SQLite has no
``DISTINCT ON``, and the window states the reference semantics exactly on both);
aggregates run over the select as a subquery.
"""

from __future__ import annotations

import itertools
from typing import Any

from dockyard.adapters.sql.dialect import Dialect
from dockyard.domain.server.catalog import Table, table
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
)

_PLAIN = {Op.EQ: "=", Op.NEQ: "<>", Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}
_LIKES = (Op.LIKE, Op.NLIKE, Op.ILIKE, Op.NILIKE)


class Compiler:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.params: list[Any] = []
        self._mark = dialect.placeholder
        self._aliases = itertools.count()

    def select(self, query: Select, columns: list[str]) -> str:
        source = table(query.table)
        alias = self._alias()
        order_key = f"{alias}.{self.dialect.insertion_order}"
        selected = ", ".join(f"{alias}.{self._column(source, c)}" for c in columns)
        condition = self.where(source, alias, query.where)
        orders = self._orders(source, alias, query.ordering)
        if not query.distinct_on:
            sql = f"SELECT {selected} FROM {source.name} AS {alias} WHERE {condition}"
            sql += f" ORDER BY {', '.join([*orders, order_key])}"  # ties in insertion order
        else:
            groups = ", ".join(f"{alias}.{self._column(source, c)}" for c in query.distinct_on)
            ranked = (
                f"SELECT {alias}.*, {order_key} AS dy_rowid, ROW_NUMBER() OVER "
                f"(PARTITION BY {groups} ORDER BY {', '.join([*orders, order_key])}) AS dy_rank "
                f"FROM {source.name} AS {alias} WHERE {condition}"
            )
            sql = f"SELECT {selected} FROM ({ranked}) AS {alias} WHERE {alias}.dy_rank = 1"
            sql += f" ORDER BY {', '.join([*orders, f'{alias}.dy_rowid'])}"
        if query.limit is not None or query.offset is not None:
            sql += f" LIMIT {self._mark} OFFSET {self._mark}"
            limit = self.dialect.unlimited() if query.limit is None else max(query.limit, 0)
            self.params += [limit, max(query.offset or 0, 0)]
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
                return f"COUNT(DISTINCT CASE WHEN {present} THEN {self.dialect.row_key(columns)} END)"
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
                return self.dialect.true if isinstance(where, AllOf) else self.dialect.false
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
        encode = self.dialect.encode
        if op is Op.IS_NULL:
            return f"{column} IS {'' if value else 'NOT '}NULL"
        if op in (Op.IN, Op.NIN):
            values = list(value)
            if not values:
                return self.dialect.true if op is Op.NIN else self.dialect.false
            self.params += [encode(kind, v) for v in values]
            marks = ", ".join([self._mark] * len(values))
            return f"{column} {'NOT ' if op is Op.NIN else ''}IN ({marks})"
        if op in _PLAIN:
            self.params.append(encode(kind, value))
            return f"{column} {_PLAIN[op]} {self._mark}"
        if op in _LIKES:
            special, params = self.dialect.like(column, op, str(value), kind)
        else:
            special, params = self.dialect.json_op(column, op, value)
        self.params += params
        return f"(CASE WHEN {column} IS NULL THEN NULL ELSE {special} END)"

    def _column(self, source: Table, name: str) -> str:
        if name not in source.columns:
            raise ValueError(f"unknown column {name!r} of {source.name}")
        return name

    def _alias(self) -> str:
        return f"t{next(self._aliases)}"
