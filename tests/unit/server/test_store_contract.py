"""The RunStore contract, run against the in-memory fake, SQLite and PostgreSQL alike.

The fake is the reference semantics of the query language (filters.evaluate, select_rows,
aggregate_rows); SQLite and PostgreSQL must select exactly the same rows, in the same
order, and compute the same aggregates, for hand-picked and generated queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.domain.server.errors import UniqueViolation
from dockyard.domain.server.filters import (
    MATCH_ALL,
    AllOf,
    AnyOf,
    Compare,
    Filter,
    Fn,
    Measure,
    Negate,
    Op,
    Order,
    Related,
    Select,
    eq,
)
from dockyard.ports.run_store import RunStore
from support.stores import make_store, store

__all__ = ["store"]

T0 = "2026-01-01T00:00:00.000000+00:00"
T1 = "2026-01-01T00:00:01.000000+00:00"
T2 = "2026-01-02T00:00:00.000000+00:00"

RUNS: list[dict[str, Any]] = [
    {
        "id": "r1",
        "flow_id": "f1",
        "state": "Scheduled",
        "state_start_time": T1,
        "labels": ["a", "b"],
        "version": 1,
        "parameters": {"n": 1, "s": "x"},
        "name": "Alpha_1",
    },
    {
        "id": "r2",
        "flow_id": "f1",
        "state": "Running",
        "state_start_time": None,
        "labels": [],
        "version": 3,
        "parameters": None,
        "name": "beta%",
    },
    {
        "id": "r3",
        "flow_id": "f2",
        "state": "Scheduled",
        "state_start_time": T0,
        "labels": ["a"],
        "version": 2,
        "parameters": {"n": 2},
        "name": None,
    },
    {
        "id": "r4",
        "flow_id": "f2",
        "state": None,
        "state_start_time": T2,
        "labels": ["c"],
        "version": 0,
        "parameters": {},
        "name": "alpha-2",
    },
]
TASK_RUNS: list[dict[str, Any]] = [
    {
        "id": "t1",
        "flow_run_id": "r2",
        "task_id": "k1",
        "map_index": -1,
        "state": "Retrying",
        "state_start_time": T0,
    },
    {
        "id": "t2",
        "flow_run_id": "r2",
        "task_id": "k1",
        "map_index": 0,
        "state": "Success",
        "state_start_time": None,
    },
    {
        "id": "t3",
        "flow_run_id": "r1",
        "task_id": "k2",
        "map_index": -1,
        "state": "Pending",
        "state_start_time": None,
    },
]
FLOWS = [{"id": "f1", "name": "one", "archived": False}, {"id": "f2", "name": "two", "archived": True}]


def _seed(store: RunStore) -> None:
    with store.unit_of_work(write=True) as session:
        for table, rows in (("flow", FLOWS), ("flow_run", RUNS), ("task_run", TASK_RUNS)):
            for row in rows:
                session.insert(table, row)


def _ids(store: RunStore, query: Select) -> list[str]:
    with store.unit_of_work(write=False) as session:
        return [row["id"] for row in session.select(query)]


CASES: list[tuple[Filter, list[str]]] = [
    (MATCH_ALL, ["r1", "r2", "r3", "r4"]),
    (eq("state", "Scheduled"), ["r1", "r3"]),
    (Compare("state", Op.NEQ, "Scheduled"), ["r2"]),  # NULL state is unknown, not "not Scheduled"
    (Negate(eq("state", "Scheduled")), ["r2"]),
    (Compare("state", Op.IS_NULL, True), ["r4"]),
    (Compare("state", Op.IN, ["Running", "Nope"]), ["r2"]),
    (Compare("state", Op.IN, []), []),
    (Compare("state", Op.NIN, []), ["r1", "r2", "r3", "r4"]),
    (Compare("state", Op.NIN, ["Running"]), ["r1", "r3"]),
    (Compare("state_start_time", Op.LTE, T1), ["r1", "r3"]),
    (Compare("state_start_time", Op.GT, T0), ["r1", "r4"]),
    (Compare("version", Op.GTE, 2), ["r2", "r3"]),
    (AnyOf((eq("version", 0), eq("version", 3))), ["r2", "r4"]),
    (AnyOf(()), []),
    (AllOf((eq("flow_id", "f1"), Compare("version", Op.LT, 2))), ["r1"]),
    (Compare("labels", Op.CONTAINED_IN, ["a", "b", "z"]), ["r1", "r2", "r3"]),
    (Compare("labels", Op.CONTAINS, ["a"]), ["r1", "r3"]),
    (eq("labels", []), ["r2"]),
    (eq("labels", ["a", "b"]), ["r1"]),
    (eq("parameters", {"s": "x", "n": 1}), ["r1"]),  # key order does not matter
    (Compare("parameters", Op.HAS_KEY, "s"), ["r1"]),
    (Compare("parameters", Op.HAS_KEYS_ANY, ["n", "q"]), ["r1", "r3"]),
    (Compare("parameters", Op.HAS_KEYS_ALL, ["n", "s"]), ["r1"]),
    (Negate(Compare("parameters", Op.HAS_KEY, "s")), ["r3", "r4"]),  # NULL parameters stay unknown
    (Compare("name", Op.LIKE, "alpha%"), ["r4"]),  # case-sensitive
    (Compare("name", Op.ILIKE, "alpha%"), ["r1", "r4"]),
    (Compare("name", Op.LIKE, "Alpha\\_1"), ["r1"]),
    (Compare("name", Op.LIKE, "beta\\%"), ["r2"]),
    (Compare("name", Op.NILIKE, "alpha%"), ["r2"]),
    (Related("task_runs", eq("state", "Retrying")), ["r2"]),
    (Negate(Related("task_runs", MATCH_ALL)), ["r3", "r4"]),
    (Related("task_runs", Compare("state_start_time", Op.LTE, T1)), ["r2"]),
    (Related("flow", eq("archived", True)), ["r3", "r4"]),
    (Related("task_runs", Related("flow_run", eq("state", "Scheduled"))), ["r1"]),
]


@pytest.mark.parametrize(("where", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_filters_select_the_same_rows(store: RunStore, where: Filter, expected: list[str]) -> None:
    _seed(store)
    assert _ids(store, Select("flow_run", where=where)) == expected


def test_ordering_nulls_ties_limit_and_offset(store: RunStore) -> None:
    _seed(store)
    by_start = Select("flow_run", order_by=(Order("state_start_time"),))
    assert _ids(store, by_start) == ["r3", "r1", "r4", "r2"]  # ascending: NULLs last
    descending = Select("flow_run", order_by=(Order("state_start_time", descending=True),))
    assert _ids(store, descending) == ["r2", "r4", "r1", "r3"]  # descending: NULLs first
    nulls_first = Select("flow_run", order_by=(Order("state_start_time", nulls_first=True),))
    assert _ids(store, nulls_first) == ["r2", "r3", "r1", "r4"]
    by_flow = Select("flow_run", order_by=(Order("flow_id", descending=True),))
    assert _ids(store, by_flow) == ["r3", "r4", "r1", "r2"]  # ties keep insertion order
    page = Select("flow_run", order_by=(Order("version"),), limit=2, offset=1)
    assert _ids(store, page) == ["r1", "r3"]


def test_values_round_trip_with_their_types(store: RunStore) -> None:
    document = {"type": "Success", "nested": {"list": [1, 2.5, None, True], "text": "é"}}
    with store.unit_of_work(write=True) as session:
        session.insert("flow_run", {"id": "x", "serialized_state": document, "version": 7, "labels": []})
        session.insert("flow", {"id": "f", "archived": True, "is_schedule_active": False})
    with store.unit_of_work(write=False) as session:
        (run,) = session.select(Select("flow_run"))
        (flow,) = session.select(Select("flow"))
    assert run["serialized_state"] == document and run["version"] == 7 and run["labels"] == []
    assert run["state"] is None and run["parameters"] is None
    assert flow["archived"] is True and flow["is_schedule_active"] is False


def test_a_select_can_ask_for_some_columns_only(store: RunStore) -> None:
    _seed(store)
    picked = Select("flow_run", where=eq("flow_id", "f2"), order_by=(Order("id"),), columns=("id", "labels"))
    with store.unit_of_work(write=False) as session:
        assert session.select(picked) == [{"id": "r3", "labels": ["a"]}, {"id": "r4", "labels": ["c"]}]
        with pytest.raises((ValueError, AssertionError)):
            session.select(Select("flow_run", columns=("id", "bogus")))


def test_update_and_delete_report_how_many_rows(store: RunStore) -> None:
    _seed(store)
    with store.unit_of_work(write=True) as session:
        assert session.update("flow_run", eq("flow_id", "f1"), {"state": "Cancelled"}) == 2
        assert session.delete("task_run", eq("flow_run_id", "r2")) == 2
        assert session.update("flow_run", eq("id", "missing"), {"state": "X"}) == 0
    assert _ids(store, Select("flow_run", where=eq("state", "Cancelled"))) == ["r1", "r2"]
    assert _ids(store, Select("task_run")) == ["t3"]


def test_unique_keys_are_enforced(store: RunStore) -> None:
    with store.unit_of_work(write=True) as session:
        session.insert("project", {"id": "p1", "tenant_id": "t", "name": "same"})
    with pytest.raises(UniqueViolation), store.unit_of_work(write=True) as session:
        session.insert("project", {"id": "p2", "tenant_id": "t", "name": "same"})
    with store.unit_of_work(write=True) as session:  # NULLs never collide
        session.insert("flow_run", {"id": "a", "flow_id": "f", "idempotency_key": None})
        session.insert("flow_run", {"id": "b", "flow_id": "f", "idempotency_key": None})
    with pytest.raises(UniqueViolation), store.unit_of_work(write=True) as session:
        session.insert("flow_run", {"id": "a"})
    assert _ids(store, Select("project")) == ["p1"]


def test_a_failed_unit_of_work_leaves_nothing_behind(store: RunStore) -> None:
    _seed(store)
    with pytest.raises(RuntimeError), store.unit_of_work(write=True) as session:
        session.update("flow_run", eq("id", "r1"), {"state": "Failed"})
        session.insert("log", {"id": "l1", "flow_run_id": "r1"})
        raise RuntimeError("boom")
    assert _ids(store, Select("flow_run", where=eq("state", "Failed"))) == []
    assert _ids(store, Select("log")) == []


def test_a_select_may_ask_for_some_columns_only(store: RunStore) -> None:
    _seed(store)
    query = Select("flow_run", where=eq("flow_id", "f1"), order_by=(Order("id"),), columns=("id", "labels"))
    with store.unit_of_work(write=False) as session:
        rows = session.select(query)
        with pytest.raises((ValueError, AssertionError)):
            session.select(Select("flow_run", columns=("id", "id; DROP TABLE flow_run")))
    assert [set(r) for r in rows] == [{"id", "labels"}, {"id", "labels"}]
    assert [r["id"] for r in rows] == ["r1", "r2"] and all(isinstance(r["labels"], list) for r in rows)


def test_unknown_columns_are_refused(store: RunStore) -> None:
    with pytest.raises((ValueError, AssertionError, KeyError)), store.unit_of_work(write=False) as session:
        session.select(Select("flow_run", where=eq("no_such_column; DROP TABLE flow_run", 1)))
    with pytest.raises((ValueError, AssertionError)), store.unit_of_work(write=True) as session:
        session.insert("flow_run", {"id": "z", "bogus": 1})


# -- generated filters: SQLite must agree with the reference semantics ------------------

_RUN_COLUMNS = [
    ("state", st.sampled_from(["Scheduled", "Running", "Nope"])),
    ("version", st.integers(-1, 4)),
    ("state_start_time", st.sampled_from([T0, T1, T2])),
    ("flow_id", st.sampled_from(["f1", "f2"])),
]
_TASK_COLUMNS = [
    ("state", st.sampled_from(["Retrying", "Success", "Pending"])),
    ("map_index", st.integers(-1, 1)),
    ("state_start_time", st.sampled_from([T0, T1])),
]
_ops = st.sampled_from([Op.EQ, Op.NEQ, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.IS_NULL, Op.IN, Op.NIN])


@st.composite
def _comparison(draw: st.DrawFn, columns: list[tuple[str, Any]]) -> Filter:
    column, values = draw(st.sampled_from(columns))
    op = draw(_ops)
    if op is Op.IS_NULL:
        return Compare(column, op, draw(st.booleans()))
    if op in (Op.IN, Op.NIN):
        return Compare(column, op, draw(st.lists(values, max_size=3)))
    return Compare(column, op, draw(values))


def _logic(leaves: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda parts: AllOf(tuple(parts)), st.lists(inner, max_size=3)),
            st.builds(lambda parts: AnyOf(tuple(parts)), st.lists(inner, max_size=3)),
            st.builds(Negate, inner),
        ),
        max_leaves=6,
    )


_task_filters = _logic(_comparison(_TASK_COLUMNS))
_filters = _logic(
    st.one_of(_comparison(_RUN_COLUMNS), st.builds(lambda w: Related("task_runs", w), _task_filters))
)


@pytest.fixture
def seeded_stores(tmp_path: Path, postgres_db: str) -> Iterator[dict[str, RunStore]]:
    """The fake, SQLite and PostgreSQL, each with RUNS and TASK_RUNS, for generated queries
    (which only read, so one seeding serves every example)."""
    stores = {kind: make_store(kind, tmp_path, postgres_db) for kind in ("fake", "sqlite", "postgres")}
    try:
        for made in stores.values():
            _seed_runs(made)
        yield stores
    finally:
        for made in stores.values():
            made.close()


@pytest.mark.postgres
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=_filters)
def test_generated_filters_agree(seeded_stores: dict[str, RunStore], where: Filter) -> None:
    query = Select("flow_run", where=where, order_by=(Order("state_start_time"), Order("version")))
    expected = _ids(seeded_stores["fake"], query)
    assert _ids(seeded_stores["sqlite"], query) == expected
    assert _ids(seeded_stores["postgres"], query) == expected


def _seed_runs(store: RunStore) -> None:
    with store.unit_of_work(write=True) as session:
        for row in RUNS:
            session.insert("flow_run", row)
        for row in TASK_RUNS:
            session.insert("task_run", row)


# -- distinct_on and aggregates: the same rows and figures from both stores --------------

DISTINCT_CASES: list[tuple[Select, list[str]]] = [
    # the first run of each flow, in the order given: flow_id leads, then version descending
    (
        Select(
            "flow_run",
            order_by=(Order("flow_id"), Order("version", descending=True)),
            distinct_on=("flow_id",),
        ),
        ["r2", "r3"],
    ),
    # without order_by: groups in the distinct columns' order, each group's first inserted row
    (Select("flow_run", distinct_on=("flow_id",)), ["r1", "r3"]),
    # NULLs form one group of their own, sorted last ascending
    (Select("flow_run", distinct_on=("state",)), ["r2", "r1", "r4"]),
    # JSON values group by value and sort by their canonical text
    (
        Select("flow_run", order_by=(Order("labels"), Order("version")), distinct_on=("labels",)),
        ["r1", "r3", "r4", "r2"],
    ),
    # two columns; where, offset and limit apply around the grouping
    (
        Select("flow_run", where=Compare("version", Op.GT, 0), distinct_on=("flow_id", "state")),
        ["r2", "r1", "r3"],
    ),
    (Select("flow_run", order_by=(Order("flow_id"),), distinct_on=("flow_id",), limit=1, offset=1), ["r3"]),
    (
        Select(
            "task_run",
            order_by=(Order("flow_run_id"), Order("map_index", descending=True)),
            distinct_on=("flow_run_id",),
        ),
        ["t3", "t2"],
    ),
]


@pytest.mark.parametrize(
    ("query", "expected"), DISTINCT_CASES, ids=[str(i) for i in range(len(DISTINCT_CASES))]
)
def test_distinct_on_keeps_the_first_row_of_each_group(
    store: RunStore, query: Select, expected: list[str]
) -> None:
    _seed(store)
    assert _ids(store, query) == expected


def _aggregate(store: RunStore, query: Select, *measures: Measure) -> list[Any]:
    with store.unit_of_work(write=False) as session:
        return session.aggregate(query, measures)


def test_aggregates_count_and_measure_the_selected_rows(store: RunStore) -> None:
    _seed(store)
    runs = Select("flow_run")
    assert _aggregate(
        store,
        runs,
        Measure(Fn.COUNT),
        Measure(Fn.COUNT, ("state",)),
        Measure(Fn.COUNT, ("state",), distinct=True),
        Measure(Fn.COUNT, ("flow_id", "state"), distinct=True),
        Measure(Fn.COUNT, ("name", "state")),
        Measure(Fn.MAX, ("version",)),
        Measure(Fn.MIN, ("version",)),
        Measure(Fn.SUM, ("version",)),
        Measure(Fn.AVG, ("version",)),
        Measure(Fn.MAX, ("state_start_time",)),
        Measure(Fn.MIN, ("state_start_time",)),
        Measure(Fn.MAX, ("name",)),
        Measure(Fn.MIN, ("id",)),
    ) == [4, 3, 2, 3, 2, 3, 0, 6, 1.5, T2, T0, "beta%", "r1"]


def test_aggregates_follow_where_distinct_on_and_limit(store: RunStore) -> None:
    _seed(store)
    scheduled = Select("flow_run", where=eq("state", "Scheduled"))
    assert _aggregate(store, scheduled, Measure(Fn.COUNT), Measure(Fn.MAX, ("version",))) == [2, 2]
    # Prefect's `get projects` counts flows by name: distinct_on, then count
    one_per_flow = Select("flow_run", distinct_on=("flow_id",))
    assert _aggregate(store, one_per_flow, Measure(Fn.COUNT)) == [2]
    newest_two = Select("flow_run", order_by=(Order("version", descending=True),), limit=2)
    assert _aggregate(store, newest_two, Measure(Fn.SUM, ("version",)), Measure(Fn.MIN, ("version",))) == [
        5,
        2,
    ]
    through_relation = Select("flow_run", where=Related("task_runs", eq("state", "Retrying")))
    assert _aggregate(store, through_relation, Measure(Fn.COUNT)) == [1]


def test_aggregates_of_nothing_are_zero_and_null(store: RunStore) -> None:
    _seed(store)
    nothing = Select("flow_run", where=eq("state", "Nope"))
    measures = [Measure(Fn.COUNT), Measure(Fn.COUNT, ("state",), distinct=True)]
    measures += [Measure(fn, ("version",)) for fn in (Fn.MAX, Fn.MIN, Fn.SUM, Fn.AVG)]
    assert _aggregate(store, nothing, *measures) == [0, 0, None, None, None, None]
    assert _aggregate(store, Select("flow_run")) == []


def test_relationship_filters_reach_through_object_relationships(store: RunStore) -> None:
    with store.unit_of_work(write=True) as session:
        session.insert("project", {"id": "p1", "name": "alpha"})
        session.insert("project", {"id": "p2", "name": "beta"})
        session.insert("flow", {"id": "f1", "name": "etl", "project_id": "p1", "version": 1})
        session.insert("flow", {"id": "f2", "name": "etl", "project_id": "p2", "version": 2})
        session.insert("task", {"id": "k1", "flow_id": "f1", "name": "load", "slug": "load-1"})
        session.insert("task", {"id": "k2", "flow_id": "f2", "name": "load", "slug": "load-1"})
        session.insert("task", {"id": "k3", "flow_id": "f2", "name": "extract", "slug": "extract-1"})
    # Prefect's `get tasks --flow-name etl --project beta`: task -> flow -> project
    in_beta = Related("flow", AllOf((eq("name", "etl"), Related("project", eq("name", "beta")))))
    assert _ids(store, Select("task", where=in_beta)) == ["k2", "k3"]
    assert _ids(store, Select("task", where=AllOf((eq("name", "load"), Negate(in_beta))))) == ["k1"]
    with_extract = Related("flows", Related("tasks", eq("name", "extract")))
    assert _ids(store, Select("project", where=with_extract)) == ["p2"]
    # an empty condition on a relationship asks only that the related row exists
    assert _ids(store, Select("flow", where=Related("project", MATCH_ALL))) == ["f1", "f2"]


def test_unknown_columns_in_orderings_and_measures_are_refused(store: RunStore) -> None:
    _seed(store)
    with pytest.raises(ValueError), store.unit_of_work(write=False) as session:
        session.select(Select("flow_run", distinct_on=("nope; DROP TABLE flow_run",)))
    with pytest.raises(ValueError), store.unit_of_work(write=False) as session:
        session.aggregate(Select("flow_run"), [Measure(Fn.MAX, ("nope",))])


_columns = st.sampled_from(["state", "version", "state_start_time", "flow_id", "labels"])
_orders = st.lists(
    st.builds(Order, _columns, st.booleans(), st.sampled_from([None, True, False])), max_size=3
)


@st.composite
def _selects(draw: st.DrawFn) -> Select:
    distinct_on = tuple(draw(st.lists(_columns, max_size=2, unique=True)))
    orders = tuple(draw(_orders))
    if distinct_on and orders:  # Hasura's rule: the distinct columns lead the ordering
        orders = tuple(Order(c, draw(st.booleans())) for c in distinct_on) + orders
    limit = draw(st.one_of(st.none(), st.integers(0, 3)))
    offset = draw(st.one_of(st.none(), st.integers(0, 2)))
    return Select("flow_run", draw(_filters), orders, limit, offset, distinct_on)


@pytest.mark.postgres
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=_selects())
def test_generated_selects_and_aggregates_agree(seeded_stores: dict[str, RunStore], query: Select) -> None:
    measures = [
        Measure(Fn.COUNT),
        Measure(Fn.COUNT, ("flow_id", "state"), distinct=True),
        Measure(Fn.MAX, ("state_start_time",)),
        Measure(Fn.AVG, ("version",)),
    ]
    fake = seeded_stores["fake"]
    for kind in ("sqlite", "postgres"):
        assert _ids(seeded_stores[kind], query) == _ids(fake, query), kind
        assert _aggregate(seeded_stores[kind], query, *measures) == _aggregate(fake, query, *measures), kind
