"""The GraphQL API in-process: the documents Prefect 1.4.1 and dockyard's agent send, the
error shapes clients rely on, and every kind of bad input."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.adapters.graphql_api.executor import GraphQLApi
from dockyard.adapters.graphql_api.wsgi import GraphQLWsgiApp
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.domain.server.errors import StoreUnavailable
from support.stores import service_on
from support.wsgi_client import call, post

AGENT_ID = "22222222-2222-4222-8222-222222222222"
UNKNOWN = "00000000-0000-4000-8000-999999999999"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[GraphQLWsgiApp]:
    store = SqliteRunStore(tmp_path / "api.db", durable=False)
    service = service_on(store)
    service.tenancy.ensure_default_tenant()
    yield GraphQLWsgiApp(GraphQLApi(service), max_body=64 * 1024)
    store.close()


def data(app: GraphQLWsgiApp, query: str, variables: Any = None, **headers: str) -> dict[str, Any]:
    status, body = post(app, query, variables, **headers)
    assert status == 200 and "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def errors(app: GraphQLWsgiApp, query: str, variables: Any = None, **headers: str) -> list[dict[str, Any]]:
    status, body = post(app, query, variables, **headers)
    assert status < 500 and body.get("errors"), (status, body)
    return list(body["errors"])


def mutate(
    app: GraphQLWsgiApp, name: str, input_type: str, value: dict[str, Any], fields: str, **h: str
) -> Any:
    # Prefect 1.4.1 sends variables as a JSON-encoded string.
    query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {fields} }} }}"
    return data(app, query, json.dumps({"input": value}), **h)[name]


def seed_run(app: GraphQLWsgiApp, labels: list[str] | None = None) -> dict[str, str]:
    tenant = data(app, "query { tenant { id } }", "null")["tenant"][0]["id"]
    project = mutate(app, "create_project", "create_project_input", {"tenant_id": tenant, "name": "p"}, "id")[
        "id"
    ]
    flow = {"name": "f", "__version__": "1.4.1", "storage": {"type": "Local"}, "tasks": [{"slug": "t-1"}]}
    packed = base64.b64encode(gzip.compress(json.dumps(flow).encode())).decode()
    flow_id = mutate(
        app,
        "create_flow_from_compressed_string",
        "create_flow_from_compressed_string_input",
        {"project_id": project, "serialized_flow": packed},
        "id",
    )["id"]
    run = mutate(
        app,
        "create_flow_run",
        "create_flow_run_input",
        {"flow_id": flow_id, "labels": labels or [], "idempotency_key": "k"},
        "id",
    )["id"]
    return {"tenant": tenant, "project": project, "flow": flow_id, "run": run}


def test_hello_tenant_and_health(api: GraphQLWsgiApp) -> None:
    assert data(api, "query { hello }", "null") == {"hello": "👋"}
    assert data(api, "{ tenant(order_by: {slug: asc}) { name slug } }") == {
        "tenant": [{"name": "default", "slug": "default"}]
    }
    status, body = call(api, "GET", "/health")
    assert status == 200 and body["status"] == "ok" and body["version"]
    for path in ("/graphql", "/graphql/", "/"):
        assert call(api, "POST", path, json.dumps({"query": "{ hello }"}).encode())[1] == {
            "data": {"hello": "👋"}
        }


def test_the_agent_conversation(api: GraphQLWsgiApp) -> None:
    ids = seed_run(api, ["docker"])
    agent = mutate(
        api,
        "register_agent",
        "register_agent_input",
        {
            "type": "DockerAgent",
            "name": "a",
            "labels": ["docker"],
            "tenant_id": ids["tenant"],
            "agent_config_id": None,
        },
        "id",
    )["id"]
    queue = {"before": "2099-01-01T00:00:00+00:00", "labels": ["docker"], "tenant_id": ids["tenant"]}
    found = mutate(
        api, "get_runs_in_queue", "get_runs_in_queue_input", queue, "flow_run_ids", x_prefect_agent_id=agent
    )
    assert found == {"flow_run_ids": [ids["run"]]}
    buffer = "2099-01-01T00:00:00+00:00"
    metadata = (
        'query {{ flow_run(where: {{ id: {{ _in: ["{}"] }}, _or: [{{ state: {{ _eq: "Scheduled" }} }}, '
        '{{ state: {{ _eq: "Running" }}, task_runs: {{ state_start_time: {{ _lte: "{}" }} }} }}] }}) '
        "{{ id version state serialized_state parameters scheduled_start_time run_config name "
        "flow {{ storage environment name version id core_version }} "
        'task_runs(where: {{ state_start_time: {{ _lte: "{}" }} }}) '
        "{{ version id task_id serialized_state }} }} }}"
    ).format(ids["run"], buffer, buffer)
    (run,) = data(api, metadata, "null")["flow_run"]
    assert run["state"] == "Scheduled" and run["version"] == 1 and run["task_runs"] == []
    assert run["flow"]["storage"] == {"type": "Local"} and run["flow"]["core_version"] == "1.4.1"
    assert run["serialized_state"]["type"] == "Scheduled" and run["parameters"] == {}
    submitted = {"type": "Submitted", "message": "Submitted for execution", "state": run["serialized_state"]}
    states = {"states": [{"flow_run_id": ids["run"], "version": 1, "state": submitted}]}
    answer = mutate(
        api,
        "set_flow_run_states",
        "set_flow_run_states_input",
        states,
        "states { id status message }",
        x_prefect_agent_id=agent,
    )
    assert answer == {"states": [{"id": ids["run"], "status": "SUCCESS", "message": None}]}
    (problem,) = errors(
        api,
        "mutation($input: set_flow_run_states_input!) { set_flow_run_states(input: $input) "
        "{ states { id } } }",
        json.dumps({"input": states}),
    )
    assert problem["message"] == "State update failed: this run has already been submitted."
    logs = {"logs": [{"flow_run_id": ids["run"], "name": "agent", "message": "Submitted", "level": "INFO"}]}
    assert mutate(api, "write_run_logs", "write_run_logs_input", logs, "success") == {"success": True}
    # dockyard's own agent: its runs, by agent id and state, and a status refresh by id
    mine = data(
        api,
        f'{{ flow_run(where: {{agent_id: {{_eq: "{agent}"}}, state: {{_in: ["Submitted", "Running", '
        '"Cancelling"]}}) { id name version state serialized_state run_config labels '
        "flow { id name core_version storage } } }",
    )["flow_run"]
    assert [(r["id"], r["state"], r["labels"]) for r in mine] == [(ids["run"], "Submitted", ["docker"])]
    statuses = data(
        api,
        '{{ flow_run(where: {{id: {{_in: ["{}", "{}"]}}}}) {{ id state version state_message '
        "serialized_state }} }}".format(ids["run"], UNKNOWN),
    )["flow_run"]
    assert [(s["state"], s["version"], s["state_message"]) for s in statuses] == [
        ("Submitted", 2, "Submitted for execution")
    ]
    with_logs = data(
        api, '{{ flow_run_by_pk(id: "{}") {{ agent_id logs {{ message level name }} }} }}'.format(ids["run"])
    )
    assert with_logs["flow_run_by_pk"] == {
        "agent_id": agent,
        "logs": [{"message": "Submitted", "level": "INFO", "name": "agent"}],
    }


def test_the_flow_runners_documents(api: GraphQLWsgiApp) -> None:
    ids = seed_run(api)
    load = data(
        api,
        'query {{ flow_run(where: {{ id: {{ _eq: "{}" }} }}) '
        "{{ flow {{ name storage run_config }} version }} }}".format(ids["run"]),
    )
    assert load["flow_run"] == [
        {"flow": {"name": "f", "storage": {"type": "Local"}, "run_config": None}, "version": 1}
    ]
    info = data(
        api,
        'query {{ flow_run_by_pk(id: "{}") {{ id name flow_id parameters context version '
        "scheduled_start_time serialized_state task_runs(where: {{ map_index: {{ _eq: -1 }} }}) "
        "{{ id task {{ id slug }} version serialized_state }} "
        "flow {{ project {{ name id }} settings }} }} }}".format(ids["run"]),
    )["flow_run_by_pk"]
    assert info["flow"]["project"] == {"name": "p", "id": ids["project"]} and info["flow"]["settings"] == {}
    (task_run,) = info["task_runs"]
    assert task_run["task"]["slug"] == "t-1" and task_run["version"] == 1
    running = {"states": [{"flow_run_id": ids["run"], "version": 1, "state": {"type": "Running"}}]}
    mutate(api, "set_flow_run_states", "set_flow_run_states_input", running, "states { status }")
    child = data(
        api,
        'mutation {{ get_or_create_task_run_info(input: {{ flow_run_id: "{}", task_id: "{}", '
        "map_index: 0 }}) {{ id version state serialized_state }} }}".format(
            ids["run"], task_run["task"]["id"]
        ),
    )["get_or_create_task_run_info"]
    assert (child["version"], child["state"]) == (0, "Pending")
    assert data(
        api,
        'mutation {{ update_flow_run_heartbeat(input: {{ flow_run_id: "{}" }}) {{ success }} }}'.format(
            ids["run"]
        ),
    )
    single = {
        "logs": {"flow_run_id": ids["run"], "name": "execute flow-run", "message": "boom", "level": "ERROR"}
    }
    assert mutate(api, "write_run_logs", "write_run_logs_input", single, "success") == {"success": True}
    cached = data(
        api,
        '{{ task_run(where: {{ state: {{ _eq: "Cached" }}, '
        'state_timestamp: {{ _gte: "2024-01-01T00:00:00" }}, task_id: {{ _eq: "{}" }} }}, '
        "order_by: {{ state_timestamp: desc }}, limit: 100) {{ serialized_state }} }}".format(
            task_run["task"]["id"]
        ),
    )
    assert cached == {"task_run": []}


def test_registration_documents(api: GraphQLWsgiApp) -> None:
    ids = seed_run(api)
    (problem,) = errors(
        api,
        "mutation($input: create_project_input!) { create_project(input: $input) { id } }",
        json.dumps({"input": {"tenant_id": ids["tenant"], "name": "p"}}),
    )
    assert problem["message"] == "Uniqueness violation."
    latest = data(
        api,
        '{{ flow(where: {{ _and: {{ name: {{ _eq: "f" }}, project: {{ id: {{ _eq: "{}" }} }} }} }}, '
        "order_by: {{ version: desc }}, limit: 1) {{ id version }} }}".format(ids["project"]),
    )
    assert latest == {"flow": [{"id": ids["flow"], "version": 1}]}
    assert data(api, '{{ flow_by_pk(id: "{}") {{ flow_group_id }} }}'.format(ids["flow"]))["flow_by_pk"][
        "flow_group_id"
    ]
    (bad,) = errors(
        api,
        "mutation($input: create_flow_from_compressed_string_input!) { "
        "create_flow_from_compressed_string(input: $input) { id } }",
        {"input": {"project_id": ids["project"], "serialized_flow": "not base64!"}},
    )
    assert bad["message"].startswith("Unable to decompress serialized flow")


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "expected a JSON object with a 'query' string"),
        (b'{"variables": {}}', 400, "'query' string"),
        (
            b'{"query": "{ hello }", "variables": "{broken"}',
            400,
            "'variables' is a string that is not valid JSON",
        ),
        (b'{"query": "{ hello }", "variables": [1]}', 400, "'variables' must be an object"),
        (b'{"query": "{ hello }", "variables": {"x": NaN}}', 400, "not valid JSON"),
        (b'{"query": "{ hello }", "variables": "{\\"x\\": Infinity}"}', 400, "not valid JSON"),
        (b'{"query": "{ hello"}', 200, "Syntax Error"),
        (b'{"query": "{ no_such_field }"}', 200, "Cannot query field 'no_such_field'"),
        (b'{"query": "{ flow_run(limit: \\"ten\\") { id } }"}', 200, "Int cannot represent"),
        (b'{"query": "{ flow_run_by_pk(id: \\"nope\\") { id } }"}', 200, "Invalid UUID"),
        (
            b'{"query": "query($id: uuid!) { flow_run_by_pk(id: $id) { id } }", "variables": {"id": "nope"}}',
            200,
            "Invalid UUID",
        ),
        (b'{"query": "query($id: uuid!) { flow_run_by_pk(id: $id) { id } }"}', 200, "to be provided"),
        (
            b'{"query": "{ flow_run(where: {created: {_gt: \\"yesterday\\"}}) { id } }"}',
            200,
            "Invalid timestamp",
        ),
        (b'{"query": "subscription { hello }"}', 200, "subscription"),
    ],
)
def test_bad_requests_get_clear_graphql_errors(
    api: GraphQLWsgiApp, body: bytes, status: int, words: str
) -> None:
    got_status, got = call(api, body=body)
    assert got_status == status
    assert words.lower() in " ".join(e["message"] for e in got["errors"]).lower(), got
    assert all(e["extensions"]["code"] for e in got["errors"])


def test_bad_mutation_input_changes_nothing(api: GraphQLWsgiApp) -> None:
    ids = seed_run(api)
    bad_states = [
        {"flow_run_id": "not-a-uuid", "state": {"type": "Running"}},
        {"flow_run_id": ids["run"], "state": {"type": "NoSuchState"}},
        {"flow_run_id": ids["run"], "version": "one", "state": {"type": "Running"}},
        {"flow_run_id": ids["run"]},
    ]
    for state in bad_states:
        problems = errors(
            api,
            "mutation($input: set_flow_run_states_input!) { set_flow_run_states(input: $input) "
            "{ states { id } } }",
            {"input": {"states": [{"flow_run_id": ids["run"], "state": {"type": "Running"}}, state]}},
        )
        assert problems[0]["message"]
    run = data(api, '{{ flow_run_by_pk(id: "{}") {{ state version }} }}'.format(ids["run"]))["flow_run_by_pk"]
    assert run == {"state": "Scheduled", "version": 1}


@pytest.mark.parametrize("labels", [5, "abc", ["ok", 7], {"a": 1}])
def test_run_config_labels_that_are_not_a_list_of_strings_are_refused(
    api: GraphQLWsgiApp, labels: Any
) -> None:
    ids = seed_run(api)
    (problem,) = errors(
        api,
        "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }",
        {"input": {"flow_id": ids["flow"], "run_config": {"type": "DockerRun", "labels": labels}}},
    )
    assert problem["message"] == "run_config.labels must be a list of strings."
    assert problem["extensions"]["code"] == "BAD_USER_INPUT"


def test_oversized_bodies_and_wrong_routes(api: GraphQLWsgiApp) -> None:
    big = json.dumps({"query": "{ hello }", "variables": {"pad": "x" * 70_000}}).encode()
    status, body = call(api, body=big)
    assert status == 413 and "too large" in body["errors"][0]["message"]
    status, body = call(api, "GET", "/")
    assert status == 405 and "POST" in body["errors"][0]["message"]
    status, body = call(api, "POST", "/elsewhere", b"{}")
    assert status == 404 and body["errors"]


def test_an_api_key_guards_graphql_but_not_health(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "auth.db", durable=False)
    app = GraphQLWsgiApp(GraphQLApi(service_on(store)), api_key="s3cret")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        status, body = post(app, "{ hello }", **headers)
        assert status in (200, 401)
        (problem,) = body["errors"]
        assert problem["extensions"]["code"] == "UNAUTHENTICATED" and "UNAUTHENTICATED" in problem["message"]
    assert post(app, "{ hello }", Authorization="Bearer s3cret")[1] == {"data": {"hello": "👋"}}
    assert call(app, "GET", "/health")[0] == 200
    store.close()


def test_faults_are_reported_without_internals(api: GraphQLWsgiApp, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = seed_run(api)
    service = api._api.service

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service.flow_runs, "cancel_flow_run", broken)
    (problem,) = errors(
        api, 'mutation {{ cancel_flow_run(input: {{flow_run_id: "{}"}}) {{ state }} }}'.format(ids["run"])
    )
    assert problem["extensions"]["code"] == "INTERNAL_SERVER_ERROR" and "secret" not in problem["message"]

    def busy(*_args: Any, **_kwargs: Any) -> None:
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(service.flow_runs, "cancel_flow_run", busy)
    (problem,) = errors(
        api, 'mutation {{ cancel_flow_run(input: {{flow_run_id: "{}"}}) {{ state }} }}'.format(ids["run"])
    )
    assert problem["extensions"]["code"] == "API_ERROR" and "API_ERROR" in problem["message"]  # clients retry


def test_documents_are_parsed_once(api: GraphQLWsgiApp) -> None:
    before = api._api.cache_info()
    for _ in range(5):
        data(api, "query { hello }")
    after = api._api.cache_info()
    assert after.hits - before.hits >= 4 and after.misses - before.misses <= 1


def test_deep_or_huge_documents_are_refused_cleanly(api: GraphQLWsgiApp) -> None:
    deep = "{ flow_run { " + "flow { flow_runs { " * 8 + "id" + " } }" * 8 + " } }"
    (problem,) = errors(api, deep)
    assert "deeper than" in problem["message"]
    nested = b'{"query": "{ hello }", "variables": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    status, body = call(api, body=nested)
    assert status == 400 and body["errors"]
    braces = json.dumps({"query": "{" * 30_000}).encode()
    status, body = call(api, body=braces)
    assert status < 500 and body["errors"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.one_of(
        st.text(max_size=200), st.sampled_from(["{ hello }", "mutation { x }", "{ flow_run { id } }"])
    ),
    variables=st.one_of(st.none(), st.text(max_size=50), st.dictionaries(st.text(max_size=5), st.integers())),
)
def test_no_input_makes_the_server_fail(api: GraphQLWsgiApp, query: str, variables: Any) -> None:
    status, body = call(api, body=json.dumps({"query": query, "variables": variables}).encode())
    assert status < 500
    assert body.get("errors") or "data" in body
    assert all(e["extensions"]["code"] != "INTERNAL_SERVER_ERROR" for e in body.get("errors", []))
