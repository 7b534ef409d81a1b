"""The shape limits of a document (tokens, depth, fields, cost), measured as execution
would see it: through fragments, aliases and nested lists; and the documents real clients
send stay well inside them."""

from __future__ import annotations

import re

import pytest
from graphql import GraphQLSchema, Lexer, Source, TokenKind, parse

from dockyard.adapters import graphql_backend, run_client
from dockyard.adapters.graphql_api.documents import (
    DocumentCache,
    literal_owner,
    more_tokens_than,
    prepare,
)
from dockyard.adapters.graphql_api.executor import load_schema
from dockyard.adapters.graphql_api.limits import QueryLimits
from dockyard.adapters.graphql_api.query_cost import Shape, measure
from support.query_storm import BOMBS, REFUSED_BY

LIMITS = QueryLimits()


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return load_schema()


def shape(schema: GraphQLSchema, query: str, limits: QueryLimits = LIMITS) -> Shape:
    (found,) = measure(schema, parse(query), limits).values()
    return found


def refusal(schema: GraphQLSchema, query: str, limits: QueryLimits = LIMITS) -> dict[str, object]:
    prepared = prepare(schema, query, limits)
    assert prepared.document is None, query
    (error,) = prepared.errors
    extensions = error["extensions"]
    assert isinstance(extensions, dict) and extensions["code"] == "LIMIT_EXCEEDED", error
    return error


def test_a_list_counts_its_selections_once_per_row(schema: GraphQLSchema) -> None:
    assert shape(schema, "{ hello }") == Shape(cost=1, fields=1, depth=1)
    # 1 for the list field, then 100 rows (no limit) of 2 fields
    assert shape(schema, "{ flow_run { id name } }") == Shape(cost=201, fields=3, depth=2)
    assert shape(schema, "{ flow_run(limit: 5) { id name } }").cost == 11
    # a to-one relationship is one row; a nested list multiplies again
    assert shape(schema, "{ flow_run(limit: 5) { flow { name } } }").cost == 1 + 5 * (1 + 1)
    assert shape(schema, "{ flow_run(limit: 5) { task_runs(limit: 3) { id } } }").cost == 1 + 5 * (1 + 3)
    # a limit past the row cap counts as the cap; a limit in a variable as no limit
    capped = QueryLimits(max_rows_per_field=50)
    assert shape(schema, "{ flow_run(limit: 100000) { id } }", capped).cost == 1 + 50
    assert shape(schema, "query($n: Int) { flow_run(limit: $n) { id } }").cost == 1 + 100


def test_aliases_are_fields_of_their_own(schema: GraphQLSchema) -> None:
    query = "{ " + " ".join(f"a{i}: flow_run(limit: 10) {{ id }}" for i in range(300)) + " }"
    assert shape(schema, query) == Shape(cost=300 * 11, fields=600, depth=2)
    error = refusal(schema, query)
    assert error["extensions"] == {
        "code": "LIMIT_EXCEEDED",
        "limit": "max_fields",
        "value": 200,
        "requested": "600 fields",
    }
    assert "600 fields" in str(error["message"]) and "--max-query-fields" in str(error["message"])


def test_fragments_count_each_time_they_are_spread(schema: GraphQLSchema) -> None:
    twice = "{ flow_run(limit: 2) { ...F ...F } } fragment F on flow_run { id name }"
    assert shape(schema, twice) == Shape(cost=1 + 2 * 4, fields=5, depth=2)
    inline = "{ flow_run(limit: 2) { ... on flow_run { id } ...F } } fragment F on flow_run { name }"
    assert shape(schema, inline) == Shape(cost=1 + 2 * 2, fields=3, depth=2)
    # fragments within fragments multiply: the bomb of issue #9
    nested = shape(schema, BOMBS["fragments"])
    assert nested.cost == 1 + 100 * (1 + 1 + 100 * (1 + 1 + 100 * (1 + 1 + 100)))
    assert refusal(schema, BOMBS["fragments"])["extensions"]["limit"] == "max_cost"  # type: ignore[index]


def test_depth_is_counted_through_fragments(schema: GraphQLSchema) -> None:
    assert shape(schema, BOMBS["depth"]).depth == 16
    error = refusal(schema, BOMBS["depth"])
    assert error["extensions"]["limit"] == "max_depth"  # type: ignore[index]
    assert "16 levels" in str(error["message"])
    assert prepare(schema, "{ flow_run { flow { flow_runs(limit: 2) { id } } } }", LIMITS).document


def test_a_fragment_cycle_is_measured_and_left_to_the_specification_rules(schema: GraphQLSchema) -> None:
    cycle = "{ flow_run { ...A } } fragment A on flow_run { flow { flow_runs { ...B } } } " + (
        "fragment B on flow_run { ...A }"
    )
    assert shape(schema, cycle).fields == 3  # each fragment expanded once, then the cycle stops
    (error,) = prepare(schema, cycle, LIMITS).errors
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # type: ignore[index]
    assert "Cannot spread fragment 'A' within itself" in str(error["message"])


def test_the_cost_rule_runs_before_and_instead_of_the_quadratic_rules(schema: GraphQLSchema) -> None:
    # 400 fields of one response name, one of them unknown: only the limit is reported,
    # so OverlappingFieldsCanBeMerged (quadratic here) never ran.
    query = "{ " + "flow_run { id } " * 200 + "flow_run { nope } }"
    (error,) = prepare(schema, query, LIMITS).errors
    assert error["extensions"]["limit"] == "max_fields"  # type: ignore[index]


def test_a_document_past_the_token_limit_is_refused_before_parsing(schema: GraphQLSchema) -> None:
    error = refusal(schema, BOMBS["aliases"])
    assert error["extensions"]["limit"] == "max_tokens" and BOMBS  # type: ignore[index]
    assert "more than 5000 tokens" in str(error["message"])
    small = QueryLimits(max_tokens=100)
    assert refusal(schema, "{ " + "hello " * 150 + "}", small)["extensions"]["limit"] == "max_tokens"  # type: ignore[index]


def _graphql_core_tokens(text: str) -> int:
    lexer, count = Lexer(Source(text)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


@pytest.mark.parametrize(
    "text",
    [
        '{ flow_run(where: {name: {_eq: "a { b } \\" c"}}) { id ...F } } # a comment { { {\n',
        'query($x: Int = -12, $y: Float = 1.5e3) { a: hello, b: hello } """ block "" { """',
        "\ufeff{ hello }",
        *BOMBS.values(),
    ],
)
def test_the_token_pre_count_agrees_with_graphql_core(text: str) -> None:
    count = _graphql_core_tokens(text)
    assert not more_tokens_than(text, count) and more_tokens_than(text, count - 1)


CLIENT_DOCUMENTS = [
    # Prefect 1.4.1's agent, flow runner, FlowRunView and `prefect register`, as they send them
    'query { flow_run(where: { id: { _in: ["f6f0f3ed-b8c7-492b-b116-2dddea44e4c2"] }, _or: [{ state: { _eq: '
    '"Scheduled" } }, { state: { _eq: "Running" }, task_runs: { state_start_time: { _lte: '
    '"2026-12-01T11:13:19.214002+00:00" } } }] }) { id version state serialized_state parameters '
    "scheduled_start_time run_config name flow { id environment storage version core_version name } "
    'task_runs(where: { state_start_time: { _lte: "2026-12-01T11:13:19.214002+00:00" } }) '
    "{ version id task_id serialized_state } } }",
    'query { flow_run_by_pk(id: "f6f0f3ed-b8c7-492b-b116-2dddea44e4c2") { id name flow_id parameters context '
    "version scheduled_start_time serialized_state task_runs(where: { map_index: { _eq: -1 } }) "
    "{ id task { id slug } version serialized_state } flow { project { name id } } } }",
    'query { flow_run(where: { id: { _eq: "aa25d986-1983-4ced-a819-ed7322f9d043" } }) { id name flow_id '
    "serialized_state states { timestamp serialized_state } labels parameters context updated run_config } }",
    'query { flow_run(where: { id: { _eq: "aa25d986-1983-4ced-a819-ed7322f9d043" } }) { logs(order_by: '
    '{ timestamp: asc }, where: { _and: [{ timestamp: { _lte: "2026-12-01T11:13:06.719102+00:00" } }, {}] }) '
    "{ timestamp message level } } }",
    'query { flow(where: { _and: { name: { _eq: "cli-flow" }, project: { id: { _eq: '
    '"978c25f7-3b0a-48a2-8fac-b3091516c0b7" } } } }, order_by: { version: desc }, limit: 1) { id version } }',
    'query { task_run(where: { flow_run_id: { _eq: "aa25d986-1983-4ced-a819-ed7322f9d043" }, '
    "id: { _nin: [] } }) { id name task { id slug } map_index serialized_state } }",
    # dockyard's own agent and run CLI
    *(
        value
        for module in (graphql_backend, run_client)
        for name, value in vars(module).items()
        if name.isupper() or name in ("_SHOW", "_LOGS")
        if isinstance(value, str) and re.match(r"\s*(query|mutation)\b", value)
    ),
]


@pytest.mark.parametrize("query", CLIENT_DOCUMENTS)
def test_real_clients_documents_stay_well_inside_the_limits(schema: GraphQLSchema, query: str) -> None:
    assert prepare(schema, query, LIMITS).document is not None
    found = shape(schema, query)
    assert found.cost <= LIMITS.max_cost // 4 and found.fields <= LIMITS.max_fields // 4, found
    assert found.depth <= LIMITS.max_depth - 4 and _graphql_core_tokens(query) <= LIMITS.max_tokens // 10


def test_the_bombs_are_refused_by_the_limits_the_storm_expects(schema: GraphQLSchema) -> None:
    for name, query in BOMBS.items():
        assert refusal(schema, query)["extensions"]["limit"] == REFUSED_BY[name]  # type: ignore[index]


def test_a_lone_surrogate_in_a_literal_names_the_argument() -> None:
    text = 'mutation { create_flow_run(input: {flow_id: "a", labels: ["x", "\\ud83d"]}) { id } }'
    assert literal_owner(text, text.index("\\ud83d")) == "create_flow_run(input.labels)"
    text = '{ flow_run(where: {_and: [{id: {_eq: "a"}}, {name: {_like: "\\ud83d"}}]}) { id } }'
    assert literal_owner(text, text.index("\\ud83d")) == "flow_run(where._and.name._like)"
    text = '{ a: flow_run(where: {name: {_eq: "ok"}, id: {_eq: "\\ud83d"}}) { id } }'
    assert literal_owner(text, text.index("\\ud83d")) == "flow_run(where.id._eq)"


def test_the_cache_keeps_refusals_and_small_documents_but_not_large_ones(schema: GraphQLSchema) -> None:
    cache = DocumentCache(schema, LIMITS, entries=8, chars=8 * 1024)
    for _ in range(3):
        cache.get(BOMBS["aliases"])  # refused: kept (its errors are small), text not counted
        cache.get("{ hello }")
    info = cache.info()
    assert (info.hits, info.misses, info.entries) == (4, 2, 2) and info.chars == len("{ hello }")
    large = "{ " + " ".join(f"a{i}: hello" for i in range(150)) + " }"  # > chars // 8
    assert cache.get(large).document is not None and cache.get(large).document is not None
    assert cache.info().misses == 4 and cache.info().entries == 2
    for i in range(20):
        cache.get(f"{{ a{i}: hello }}")
    assert cache.info().entries == 8  # least recently used out
