"""SqlSession: a StoreSession over any DB-API connection, through the query compiler.

The store adapters give it their dialect and an ``execute`` that runs one statement (and
translates the driver's errors into the domain's, as only the adapter knows them); rows
come back decoded by column kind: JSON text to values, 0/1 to booleans.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.adapters.sql.compiler import Compiler
from dockyard.adapters.sql.dialect import Dialect
from dockyard.domain.server.catalog import Kind, table
from dockyard.domain.server.filters import Filter, Fn, Measure, Row, Select


@dataclass(frozen=True)
class Result:
    """A statement's outcome, fetched whole (so the driver's errors surface in ``execute``)."""

    rows: Sequence[Sequence[Any]]
    rowcount: int


Execute = Callable[[str, Sequence[Any]], Result]


def decode(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is Kind.JSON:
        return json.loads(value)
    if kind is Kind.BOOL:
        return bool(value)
    return value


class SqlSession:
    def __init__(self, dialect: Dialect, execute: Execute) -> None:
        self._dialect = dialect
        self._execute = execute

    def select(self, query: Select) -> list[Row]:
        source = table(query.table)
        columns = list(query.columns or source.columns)
        unknown = set(columns) - set(source.columns)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)} for {query.table}")
        compiler = Compiler(self._dialect)
        sql = compiler.select(query, columns)
        kinds = [source.columns[c] for c in columns]
        rows = self._execute(sql, compiler.params).rows
        return [{c: decode(k, v) for c, k, v in zip(columns, kinds, row, strict=True)} for row in rows]

    def aggregate(self, query: Select, measures: Sequence[Measure]) -> list[Any]:
        compiler = Compiler(self._dialect)
        sql = compiler.aggregate(query, list(measures))
        rows = self._execute(sql, compiler.params).rows
        values = rows[0] if rows else ()  # no measures: `SELECT 0` has a row per selected row
        columns = table(query.table).columns
        return [
            self._dialect.measure(m.fn, value)
            if m.fn in (Fn.COUNT, Fn.SUM, Fn.AVG)
            else decode(columns[m.columns[0]], value)
            for m, value in zip(measures, values, strict=False)
        ]

    def insert(self, table_name: str, row: Mapping[str, Any]) -> None:
        source = table(table_name)
        unknown = set(row) - set(source.columns)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)} for {table_name}")
        names = list(row)
        values = [self._dialect.encode(source.columns[n], row[n]) for n in names]
        marks = ", ".join([self._dialect.placeholder] * len(names))
        self._execute(f"INSERT INTO {source.name} ({', '.join(names)}) VALUES ({marks})", values)

    def update(self, table_name: str, where: Filter, changes: Mapping[str, Any]) -> int:
        source = table(table_name)
        unknown = set(changes) - set(source.columns)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)} for {table_name}")
        compiler = Compiler(self._dialect)
        condition = compiler.where(source, source.name, where)
        if not changes:
            counted = self._execute(f"SELECT count(*) FROM {source.name} WHERE {condition}", compiler.params)
            return int(counted.rows[0][0])
        assignments = ", ".join(f"{name} = {self._dialect.placeholder}" for name in changes)
        values = [self._dialect.encode(source.columns[n], v) for n, v in changes.items()]
        cursor = self._execute(
            f"UPDATE {source.name} SET {assignments} WHERE {condition}", [*values, *compiler.params]
        )
        return cursor.rowcount

    def delete(self, table_name: str, where: Filter) -> int:
        source = table(table_name)
        compiler = Compiler(self._dialect)
        condition = compiler.where(source, source.name, where)
        return self._execute(f"DELETE FROM {source.name} WHERE {condition}", compiler.params).rowcount
