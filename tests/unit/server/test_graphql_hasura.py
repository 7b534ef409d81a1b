"""The Hasura-style reads and Prefect Server's flow/run administration through the GraphQL
API in-process: distinct_on with Hasura's ordering rule, aggregates on root fields and
relationships, relationship filters, order_by everywhere, and the documents Prefect
1.4.1's `prefect get` / `prefect describe` send, as they send them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.adapters.graphql_api.executor import GraphQLApi
from dockyard.adapters.graphql_api.wsgi import GraphQLWsgiApp
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.domain.server.context import ANONYMOUS
from dockyard.domain.server.filters import Select, eq
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService
from dockyard.domain.states import state_document
from support.stores import service_on
from support.wsgi_client import post

UNKNOWN = "00000000-0000-4000-8000-999999999999"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GraphQLWsgiApp, ServerService, dict[str, str]]]:
    """Two projects; flow "etl" in two versions (alpha), "report" (beta); runs in several
    states; a task run that ran twice, with an artifact."""
    store = SqliteRunStore(tmp_path / "api.db", durable=False)
    service = service_on(store)
    tenant = service.tenancy.ensure_default_tenant()
    alpha = service.tenancy.create_project(tenant, "alpha", "first")
    beta = service.tenancy.create_project(tenant, "beta", "second")
    ids = {"tenant": tenant, "alpha": alpha, "beta": beta}

    def flow(project: str, name: str, *tasks: str) -> str:
        serialized = [
            {"slug": f"{t}-1", "name": t, "type": "prefect.tasks.core.function.FunctionTask"} for t in tasks
        ]
        return service.flows.create_flow(project, {"name": name, "__version__": "1.4.1", "tasks": serialized})

    ids["etl1"] = flow(alpha, "etl", "extract", "load")
    ids["etl2"] = flow(alpha, "etl", "extract", "transform", "load")
    ids["report"] = flow(beta, "report", "summarize")

    def run(flow_id: str, name: str, *states: str, auto: bool = False) -> str:
        run_id = service.flow_runs.create_flow_run(
            NewFlowRun(flow_id=flow_id, name=name, auto_scheduled=auto)
        )
        for state in states:
            service.flow_runs.set_flow_run_states([(run_id, state_document(state, state))], ANONYMOUS)
        return run_id

    ids["ok"] = run(ids["etl2"], "etl-ok", "Running", "Success")
    ids["bad"] = run(ids["etl2"], "etl-bad", "Running", "Failed")
    ids["later"] = run(ids["etl2"], "etl-later", auto=True)
    ids["busy"] = run(ids["report"], "report-busy", "Running")
    with service.reading() as session:
        (task_run,) = session.select(Select("task_run", eq("flow_run_id", ids["busy"])))
    ids["task_run"] = task_run["id"]
    for state in ("Running", "Retrying", "Running", "Success"):
        service.task_runs.set_states([(task_run["id"], state_document(state, state))])
    ids["artifact"] = service.task_runs.create_artifact(task_run["id"], "markdown", {"markdown": "# hi"})
    yield GraphQLWsgiApp(GraphQLApi(service), max_body=64 * 1024), service, ids
    store.close()


def data(app: GraphQLWsgiApp, query: str, variables: Any = None) -> dict[str, Any]:
    status, body = post(app, query, variables)
    assert status == 200 and "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def error(app: GraphQLWsgiApp, query: str) -> str:
    status, body = post(app, query, None)
    assert status < 500 and body.get("errors"), (status, body)
    return str(body["errors"][0]["message"])


def test_prefect_get_flows_picks_the_newest_version_of_each_name(served: Any) -> None:
    app, _, ids = served
    # `prefect get flows`, as with_args renders it (unset options become _eq: null)
    document = """query {
    flow(where: { _and: { name: { _eq: null }, version: { _eq: null }, project: { name: { _eq: null } } } },
         order_by: { name: asc, version: desc }, distinct_on: name, limit: 10) {
        name version created id project { name }
    }
}"""
    rows = data(app, document)["flow"]
    assert [(r["name"], r["version"], r["project"]["name"]) for r in rows] == [
        ("etl", 2, "alpha"),
        ("report", 1, "beta"),
    ]
    assert rows[0]["id"] == ids["etl2"]
    every = data(app, document.replace(", distinct_on: name", ""))["flow"]
    assert [(r["name"], r["version"]) for r in every] == [("etl", 2), ("etl", 1), ("report", 1)]
    # object keys order as written: version first now
    by_version = data(app, "{ flow(order_by: {version: desc, name: desc}) { name version } }")["flow"]
    assert [(r["name"], r["version"]) for r in by_version] == [("etl", 2), ("report", 1), ("etl", 1)]


def test_distinct_on_must_lead_order_by(served: Any) -> None:
    app, _, _ = served
    message = error(app, "{ flow(order_by: {version: desc}, distinct_on: name) { id } }")
    assert message == '"distinct_on" columns must match initial "order_by" columns'
    assert data(
        app, "{ flow(distinct_on: [name, project_id], order_by: [{project_id: asc}, {name: asc}]) { id } }"
    )


def test_prefect_get_projects_counts_flows_by_name(served: Any) -> None:
    app, _, _ = served
    document = """query {
    project(where: { _and: { name: { _eq: null } } }, order_by: { name: asc }) {
        name created description
        flows_aggregate(distinct_on: name) { aggregate { count } }
    }
}"""
    rows = data(app, document)["project"]
    assert [(r["name"], r["flows_aggregate"]["aggregate"]["count"], r["description"]) for r in rows] == [
        ("alpha", 1, "first"),
        ("beta", 1, "second"),
    ]
    every = data(
        app, '{ project(where: {name: {_eq: "alpha"}}) { flows_aggregate { aggregate { count } } } }'
    )
    assert every["project"][0]["flows_aggregate"]["aggregate"]["count"] == 2


def test_root_aggregates_with_measures_aliases_fragments_and_nodes(served: Any) -> None:
    app, _, _ = served
    document = """
    fragment times on flow_run_max_fields { scheduled_start_time end_time }
    query {
      flow_run_aggregate(where: {flow: {name: {_eq: "etl"}}}) {
        aggregate {
          count
          states: count(columns: [state], distinct: true)
          max { ...times version }
          min { version }
          sum { version }
          avg { version }
        }
        nodes { name }
      }
      scheduled: flow_run_aggregate(where: {state: {_eq: "Scheduled"}}) { aggregate { count } }
    }"""
    result = data(app, document)
    aggregate = result["flow_run_aggregate"]["aggregate"]
    assert aggregate["count"] == 3 and aggregate["states"] == 3
    assert aggregate["max"]["version"] == 3 and aggregate["min"]["version"] == 1
    assert aggregate["sum"]["version"] == 7 and aggregate["avg"]["version"] == pytest.approx(7 / 3)
    assert aggregate["max"]["end_time"] is not None and aggregate["max"]["scheduled_start_time"]
    assert sorted(n["name"] for n in result["flow_run_aggregate"]["nodes"]) == [
        "etl-bad",
        "etl-later",
        "etl-ok",
    ]
    assert result["scheduled"]["aggregate"]["count"] == 1


def test_the_schedulers_question_max_start_of_auto_scheduled_runs(served: Any) -> None:
    app, service, ids = served
    document = """query($id: uuid!) { flow_by_pk(id: $id) {
        flow_runs_aggregate(where: {auto_scheduled: {_eq: true}}) {
            aggregate { max { scheduled_start_time } }
        }
    } }"""
    found = data(app, document, {"id": ids["etl2"]})["flow_by_pk"]["flow_runs_aggregate"]["aggregate"]
    with service.reading() as session:
        (later,) = session.select(Select("flow_run", eq("id", ids["later"])))
    assert found["max"]["scheduled_start_time"] == later["scheduled_start_time"]
    none = data(app, document, {"id": ids["report"]})["flow_by_pk"]["flow_runs_aggregate"]["aggregate"]
    assert none["max"]["scheduled_start_time"] is None


def test_prefect_get_tasks_filters_through_flow_and_project(served: Any) -> None:
    app, _, _ = served
    document = """query {
    task(where: { _and: { name: { _eq: %s },
        flow: { name: { _eq: %s }, version: { _eq: %s }, project: { name: { _eq: %s } } } } },
         limit: 10, order_by: { created: desc }) { name created flow { name version } mapped type }
}"""
    v1 = data(app, document % ("null", '"etl"', "1", "null"))["task"]
    assert sorted(t["name"] for t in v1) == ["extract", "load"] and {t["flow"]["version"] for t in v1} == {1}
    beta = data(app, document % ("null", "null", "null", '"beta"'))["task"]
    assert [(t["name"], t["flow"]["name"]) for t in beta] == [("summarize", "report")]
    loads = data(app, document % ('"load"', "null", "null", "null"))["task"]
    assert [t["flow"]["version"] for t in loads] == [2, 1]  # newest first
    assert data(app, document % ("null", '"nope"', "null", "null"))["task"] == []


def test_prefect_flow_run_reads_see_auto_scheduled_run_count_states_and_artifacts(served: Any) -> None:
    app, _, ids = served
    described = data(
        app,
        """query { flow_run(where: { _and: { name: { _eq: "etl-later" }, flow: { name: { _eq: null } } } }) {
            name flow { name } created parameters auto_scheduled scheduled_start_time start_time end_time
            serialized_state } }""",
    )["flow_run"]
    assert described[0]["auto_scheduled"] is True and described[0]["serialized_state"]["type"] == "Scheduled"
    task_run = data(
        app,
        """query($id: uuid!) { task_run_by_pk(id: $id) {
            run_count
            states(order_by: {version: desc}, limit: 2) { state version }
            states_aggregate { aggregate { count } }
        } }""",
        {"id": ids["task_run"]},
    )["task_run_by_pk"]
    assert task_run["run_count"] == 2
    assert task_run["states"] == [{"state": "Success", "version": 5}, {"state": "Running", "version": 4}]
    assert task_run["states_aggregate"]["aggregate"]["count"] == 4
    artifacts = data(
        app,
        """query($run: uuid!) { task_run_artifact(where: {task_run: {flow_run_id: {_eq: $run}}}) {
            id kind data task_run { id } } }""",
        {"run": ids["busy"]},
    )["task_run_artifact"]
    assert artifacts == [
        {
            "id": ids["artifact"],
            "kind": "markdown",
            "data": {"markdown": "# hi"},
            "task_run": {"id": ids["task_run"]},
        }
    ]


def test_relationship_lists_take_order_by_distinct_on_and_paging(served: Any) -> None:
    app, _, ids = served
    document = """query($id: uuid!) { flow_by_pk(id: $id) {
        tasks(order_by: {name: desc}) { name }
        page: tasks(order_by: {name: asc}, limit: 1, offset: 1) { name }
        flow_runs(order_by: {name: asc}, where: {state: {_neq: "Scheduled"}}) { name }
        by_state: flow_runs(distinct_on: state, order_by: [{state: asc}, {name: desc}]) { name state }
    } }"""
    flow = data(app, document, {"id": ids["etl2"]})["flow_by_pk"]
    assert [t["name"] for t in flow["tasks"]] == ["transform", "load", "extract"]
    assert flow["page"] == [{"name": "load"}]
    assert [r["name"] for r in flow["flow_runs"]] == ["etl-bad", "etl-ok"]
    assert [(r["state"], r["name"]) for r in flow["by_state"]] == [
        ("Failed", "etl-bad"),
        ("Scheduled", "etl-later"),
        ("Success", "etl-ok"),
    ]


def mutate(app: GraphQLWsgiApp, name: str, value: dict[str, Any], fields: str = "success") -> Any:
    query = f"mutation($input: {name}_input!) {{ {name}(input: $input) {{ {fields} }} }}"
    return data(app, query, json.dumps({"input": value}))[name]


def test_administration_mutations_answer_in_prefect_servers_shapes(served: Any) -> None:
    app, _, ids = served
    group = data(app, '{ flow(where: {name: {_eq: "report"}}) { flow_group_id } }')["flow"][0][
        "flow_group_id"
    ]
    assert mutate(app, "set_flow_group_labels", {"flow_group_id": group, "labels": ["b", "a"]}) == {
        "success": True
    }
    assert mutate(app, "set_flow_group_labels", {"flow_group_id": UNKNOWN, "labels": []}) == {
        "success": False
    }
    assert data(app, f'{{ flow_group_by_pk(id: "{group}") {{ labels }} }}')["flow_group_by_pk"] == {
        "labels": ["a", "b"]
    }
    moved = mutate(app, "update_flow_project", {"flow_id": ids["report"], "project_id": ids["alpha"]}, "id")
    assert moved == {"id": ids["report"]}
    assert data(app, f'{{ flow_by_pk(id: "{ids["report"]}") {{ project {{ name }} }} }}')["flow_by_pk"] == {
        "project": {"name": "alpha"}
    }
    assert mutate(app, "delete_flow_run", {"flow_run_id": ids["bad"]}) == {"success": True}
    assert mutate(app, "delete_flow_run", {"flow_run_id": ids["bad"]}) == {"success": False}
    assert mutate(app, "archive_flow", {"flow_id": ids["etl2"]}) == {"success": True}
    assert data(app, '{ flow_run(where: {flow: {name: {_eq: "etl"}}}) { name } }')["flow_run"] == [
        {"name": "etl-ok"}
    ]
    assert mutate(app, "disable_flow_heartbeat", {"flow_id": ids["etl2"]}) == {"success": True}
    assert mutate(app, "delete_flow", {"flow_id": ids["report"]}) == {"success": True}
    left = data(
        app, "{ flow(order_by: [{version: asc}]) { name version archived } task_run_artifact { id } }"
    )
    assert left == {
        "flow": [
            {"name": "etl", "version": 1, "archived": True},
            {"name": "etl", "version": 2, "archived": True},
        ],
        "task_run_artifact": [],
    }
    status, body = post(
        app,
        "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }",
        json.dumps({"input": {"flow_id": ids["etl2"]}}),
    )
    assert status == 200 and "archived" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_order_by_and_distinct_on_as_variables(served: Any) -> None:
    app, _, _ = served
    document = """query($o: [flow_order_by!], $d: [flow_select_column!]) {
        flow(order_by: $o, distinct_on: $d) { name version } }"""
    ordered = {"o": [{"version": "desc"}, {"name": "asc"}]}
    assert [(f["name"], f["version"]) for f in data(app, document, ordered)["flow"]] == [
        ("etl", 2),
        ("etl", 1),
        ("report", 1),
    ]
    newest = {"o": [{"name": "asc"}, {"version": "asc"}], "d": ["name"]}
    assert [(f["name"], f["version"]) for f in data(app, document, newest)["flow"]] == [
        ("etl", 1),
        ("report", 1),
    ]
    assert len(data(app, document, {})["flow"]) == 3  # neither given: no ordering, no grouping
