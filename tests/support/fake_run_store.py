"""FakeRunStore: the RunStore in memory, with the domain's reference filter semantics.

Writers are serialised and work on a copy that replaces the tables only on success, so a
failed unit of work leaves nothing behind; readers see the tables as they were when they
began. Unique keys of the catalog are enforced like SQL does (NULLs never collide).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dockyard.domain.server.catalog import TABLES, table
from dockyard.domain.server.errors import UniqueViolation
from dockyard.domain.server.filters import (
    AllOf,
    AnyOf,
    Compare,
    Filter,
    Negate,
    Row,
    Select,
    evaluate,
    sort_rows,
)

Tables = dict[str, list[Row]]


class FakeSession:
    def __init__(self, tables: Tables, writable: bool) -> None:
        self.tables = tables
        self._writable = writable

    def related(self, relation_name: str, row: Mapping[str, Any], source: str) -> list[Row]:
        relation = table(source).relations[relation_name]
        key = row.get(relation.local)
        if key is None:
            return []
        return [r for r in self.tables[relation.target] if r.get(relation.remote) == key]

    def _matching(self, table_name: str, where: Filter) -> list[Row]:
        _check_names(table_name, where)
        return [r for r in self.tables[table_name] if _evaluate(where, r, table_name, self) is True]

    def select(self, query: Select) -> list[Row]:
        rows = sort_rows(self._matching(query.table, query.where), query.order_by)
        start = query.offset or 0
        end = None if query.limit is None else start + query.limit
        picked = rows[start:end]
        if query.columns:
            assert not set(query.columns) - set(table(query.table).columns), "unknown columns"
            return [{c: copy.deepcopy(r.get(c)) for c in query.columns} for r in picked]
        return [copy.deepcopy(r) for r in picked]

    def insert(self, table_name: str, row: Mapping[str, Any]) -> None:
        assert self._writable, "insert outside a writing unit of work"
        source = table(table_name)
        unknown = set(row) - set(source.columns)
        assert not unknown, f"unknown columns {unknown}"
        full = {column: copy.deepcopy(row.get(column)) for column in source.columns}
        self._check_unique(table_name, full, ignore=None)
        self.tables[table_name].append(full)

    def update(self, table_name: str, where: Filter, changes: Mapping[str, Any]) -> int:
        assert self._writable, "update outside a writing unit of work"
        assert not set(changes) - set(table(table_name).columns)
        matched = self._matching(table_name, where)
        for row in matched:
            updated = {**row, **copy.deepcopy(dict(changes))}
            self._check_unique(table_name, updated, ignore=row)
            row.update(updated)
        return len(matched)

    def delete(self, table_name: str, where: Filter) -> int:
        assert self._writable, "delete outside a writing unit of work"
        doomed = {id(r) for r in self._matching(table_name, where)}
        self.tables[table_name] = [r for r in self.tables[table_name] if id(r) not in doomed]
        return len(doomed)

    def _check_unique(self, table_name: str, row: Row, ignore: Row | None) -> None:
        keys = [("id",), *table(table_name).unique]
        for key in keys:
            values = tuple(row.get(c) for c in key)
            if None in values:
                continue
            for other in self.tables[table_name]:
                if other is not ignore and tuple(other.get(c) for c in key) == values:
                    raise UniqueViolation()


def _check_names(table_name: str, where: Filter) -> None:
    """Refuse names outside the catalog, as the SQL store does."""
    source = table(table_name)
    if isinstance(where, Compare):
        if where.column not in source.columns:
            raise ValueError(f"unknown column {where.column!r} of {table_name}")
    elif isinstance(where, AllOf | AnyOf):
        for part in where.parts:
            _check_names(table_name, part)
    elif isinstance(where, Negate):
        _check_names(table_name, where.part)
    else:
        if where.relation not in source.relations:
            raise ValueError(f"unknown relationship {where.relation!r} of {table_name}")
        _check_names(source.relations[where.relation].target, where.where)


class _Tagged(dict[str, Any]):
    """A related row that remembers its table, for nested relationship filters."""

    def __init__(self, row: Row, table_name: str) -> None:
        super().__init__(row)
        self.table_name = table_name


def _evaluate(where: Filter, row: Row, table_name: str, session: FakeSession) -> bool | None:
    def related(name: str, current: Mapping[str, Any]) -> list[Row]:
        source = current.table_name if isinstance(current, _Tagged) else table_name
        target = table(source).relations[name].target
        return [_Tagged(r, target) for r in session.related(name, current, source)]

    return evaluate(where, _Tagged(row, table_name), related)


class FakeRunStore:
    def __init__(self) -> None:
        self.tables: Tables = {name: [] for name in TABLES}
        self._write_lock = threading.Lock()
        self.units_of_work = 0
        self.closed = False

    @contextmanager
    def unit_of_work(self, *, write: bool) -> Iterator[FakeSession]:
        self.units_of_work += 1
        if not write:
            yield FakeSession(self.tables, writable=False)
            return
        with self._write_lock:
            working = copy.deepcopy(self.tables)
            yield FakeSession(working, writable=True)
            self.tables = working  # commit: only reached when the block did not raise

    def close(self) -> None:
        self.closed = True
