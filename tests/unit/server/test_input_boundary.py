"""Every input error is the client's, named where it is: text that is not Unicode (a lone
surrogate), numbers the server cannot keep, filters too big for SQLite."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.adapters.graphql_api import strict_json
from dockyard.adapters.graphql_api.executor import GraphQLApi
from dockyard.adapters.graphql_api.strict_json import InvalidJsonValue
from dockyard.adapters.graphql_api.wsgi import GraphQLWsgiApp
from dockyard.adapters.sqlite import SqliteRunStore
from support.stores import service_on
from support.wsgi_client import call, post

CREATE_RUN = "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[GraphQLWsgiApp]:
    store = SqliteRunStore(tmp_path / "input.db", durable=False)
    service = service_on(store)
    service.tenancy.ensure_default_tenant()
    yield GraphQLWsgiApp(GraphQLApi(service))
    store.close()


@pytest.fixture
def flow(app: GraphQLWsgiApp) -> str:
    tenant = post(app, "{ tenant { id } }")[1]["data"]["tenant"][0]["id"]
    project = post(
        app,
        "mutation($i: create_project_input!) { create_project(input: $i) { id } }",
        {"i": {"tenant_id": tenant, "name": "p"}},
    )[1]["data"]["create_project"]["id"]
    body = post(
        app,
        "mutation($i: create_flow_input!) { create_flow(input: $i) { id } }",
        {"i": {"project_id": project, "serialized_flow": {"name": "f", "tasks": []}}},
    )[1]
    return str(body["data"]["create_flow"]["id"])


def client_error(status: int, body: Any, *words: str) -> None:
    assert status < 500, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    for word in words:
        assert word in error["message"], (word, error["message"])


def raw_post(app: GraphQLWsgiApp, body: str) -> tuple[int, Any]:
    """Send JSON text as written: escapes like \\ud83d reach the server unchanged."""
    return call(app, body=body.encode())


def test_a_lone_surrogate_in_variables_names_the_field(app: GraphQLWsgiApp, flow: str) -> None:
    raw = '{"query": "%s", "variables": {"input": {"flow_id": "%s", "flow_run_name": "\\ud83d"}}}'
    client_error(*raw_post(app, raw % (CREATE_RUN, flow)), "variables.input.flow_run_name", "surrogate")
    # Prefect sends its variables as a JSON string
    inner = json.dumps({"input": {"flow_id": flow, "labels": ["ok", "\udc00"]}})
    client_error(*post(app, CREATE_RUN, inner), "variables.input.labels[1]", "\\udc00")
    # in JSON scalars, keys too
    for value, where in (({"a": ["\ud800"]}, "variables.input.parameters.a[0]"), ({"\udfff": 1}, "a key of")):
        client_error(*post(app, CREATE_RUN, {"input": {"flow_id": flow, "parameters": value}}), where)
    client_error(*raw_post(app, '{"query": "{ hello }", "operationName": "\\ud83d"}'), "operationName")
    assert post(app, "{ flow_run { id } }")[1] == {"data": {"flow_run": []}}  # nothing stored


def test_a_lone_surrogate_in_a_literal_names_the_argument(app: GraphQLWsgiApp, flow: str) -> None:
    escaped = (
        f'mutation {{ create_flow_run(input: {{flow_id: "{flow}", flow_run_name: "\\ud83d"}}) {{ id }} }}'
    )
    client_error(*post(app, escaped), "create_flow_run(input.flow_run_name)", "line 1")
    # the character itself, sent in the JSON body's query text
    literal = '{ flow_run(where: {name: {_eq: "\ud83d"}}) { id } }'
    client_error(*post(app, literal), "flow_run(where.name._eq)")
    json_literal = (
        f'mutation {{ create_flow_run(input: {{flow_id: "{flow}", parameters: {{a: "\\udc00"}}}}) {{ id }} }}'
    )
    client_error(*post(app, json_literal), "create_flow_run(input.parameters.a)")


def test_numbers_the_server_cannot_keep_are_refused_where_they_are(app: GraphQLWsgiApp, flow: str) -> None:
    cases = [
        ('{"a": 100000000000000000000}', "variables.input.parameters.a", "64-bit"),
        ('{"a": [1e400]}', "variables.input.parameters.a[0]", "too large for a double"),
        ('{"a": -' + "9" * 5000 + "}", "variables.input.parameters.a", "64-bit"),
    ]
    for parameters, where, what in cases:
        raw = '{"query": "%s", "variables": {"input": {"flow_id": "%s", "parameters": %s}}}'
        client_error(*raw_post(app, raw % (CREATE_RUN, flow, parameters)), where, what)
    for literal, what in (("1e400", "double"), ("99999999999999999999", "64-bit")):
        fields = f'flow_id: "{flow}", parameters: {{n: {literal}}}'
        query = f"mutation {{ create_flow_run(input: {{{fields}}}) {{ id }} }}"
        status, body = post(app, query)
        assert status == 200 and what in body["errors"][0]["message"], body
        assert body["errors"][0]["extensions"]["code"] != "INTERNAL_SERVER_ERROR"
    # the largest numbers that fit are kept as they are
    kept = {"big": 2**63 - 1, "small": -(2**63), "real": 1.5e308}
    created = post(app, CREATE_RUN, json.dumps({"input": {"flow_id": flow, "parameters": kept}}))[1]
    run = created["data"]["create_flow_run"]["id"]
    found = post(app, f'{{ flow_run_by_pk(id: "{run}") {{ parameters }} }}')[1]
    assert found["data"]["flow_run_by_pk"]["parameters"] == kept


def test_a_compressed_flow_is_checked_like_any_other_input(app: GraphQLWsgiApp, flow: str) -> None:
    project = post(app, "{ project { id } }")[1]["data"]["project"][0]["id"]
    packed = base64.b64encode(gzip.compress(b'{"name": "\\ud83d", "tasks": []}')).decode()
    status, body = post(
        app,
        "mutation($i: create_flow_from_compressed_string_input!) "
        "{ create_flow_from_compressed_string(input: $i) { id } }",
        {"i": {"project_id": project, "serialized_flow": packed}},
    )
    client_error(status, body, "serialized_flow.name", "surrogate")


def test_strict_json_names_the_place_and_leaves_good_text_alone() -> None:
    text = '{"a": [{"b": "ok"}, {"c": "\\ud83d\\ude00", "d": "\\udead"}]}'
    with pytest.raises(InvalidJsonValue) as refused:
        strict_json.loads(text, where="variables")
    assert refused.value.where == "variables.a[1].d" and "\\udead" in refused.value.problem
    assert strict_json.loads('{"smile": "\\ud83d\\ude00"}', where="x") == {"smile": "😀"}
    with pytest.raises(ValueError, match="NaN is not JSON"):
        strict_json.loads('{"a": NaN}', where="x")
    value, suspect = strict_json.parse(b'{"plain": [1, 2.5, "text", null, true]}')
    assert value == {"plain": [1, 2.5, "text", None, True]} and not suspect


def test_a_filter_too_deep_for_sqlite_is_the_clients_error(app: GraphQLWsgiApp) -> None:
    nested = "{}"
    for _ in range(99):  # within graphql-core's limit of nesting, past SQLite's parser
        nested = f'{{"_and": [{nested}]}}'
    query = "query($w: flow_run_bool_exp) { flow_run(where: $w) { id } }"
    status, body = raw_post(app, f'{{"query": "{query}", "variables": {{"w": {nested}}}}}')
    client_error(status, body, "too complex")
