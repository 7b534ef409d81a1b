"""What a running request may still use: rows per list, rows and bytes per request, time;
how a deadline is paused by a long poll and cut off by a stopping server; and the store's
interrupt of a statement whose request is out of time."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.adapters.graphql_api.deadlines import RequestDeadlines
from dockyard.adapters.graphql_api.executor import GraphQLApi
from dockyard.adapters.graphql_api.limits import QueryLimits
from dockyard.adapters.graphql_api.wsgi import GraphQLWsgiApp
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.domain.server.errors import StoreUnavailable
from dockyard.domain.server.filters import Compare, Op, Select
from dockyard.domain.server.service import ServerService
from support.stores import service_on
from support.wsgi_client import call, post


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServerService]:
    store = SqliteRunStore(tmp_path / "budget.db", durable=False)
    service = service_on(store)
    service.tenancy.ensure_default_tenant()
    yield service
    store.close()


def app_for(service: ServerService, **limits: Any) -> GraphQLWsgiApp:
    return GraphQLWsgiApp(GraphQLApi(service, limits=QueryLimits(**limits)))


def seed_runs(app: GraphQLWsgiApp, count: int, parameters: Any = None) -> str:
    def data(query: str, variables: Any) -> Any:
        status, body = post(app, query, variables)
        assert status == 200 and "errors" not in body, body
        return body["data"]

    tenant = data("{ tenant { id } }", None)["tenant"][0]["id"]
    project = data(
        "mutation($i: create_project_input!) { create_project(input: $i) { id } }",
        {"i": {"tenant_id": tenant, "name": "p"}},
    )["create_project"]["id"]
    flow = data(
        "mutation($i: create_flow_input!) { create_flow(input: $i) { id } }",
        {"i": {"project_id": project, "serialized_flow": {"name": "f", "tasks": []}}},
    )["create_flow"]["id"]
    for _ in range(count):
        data(
            "mutation($i: create_flow_run_input!) { create_flow_run(input: $i) { id } }",
            {"i": {"flow_id": flow, "parameters": parameters or {}}},
        )
    return str(flow)


def limit_error(app: GraphQLWsgiApp, query: str) -> dict[str, Any]:
    status, body = post(app, query)
    assert status == 200, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED", error
    return dict(error)


def test_a_list_longer_than_the_row_cap_asks_the_client_to_page(service: ServerService) -> None:
    app = app_for(service, max_rows_per_field=5)
    seed_runs(app, 7)
    error = limit_error(app, "{ flow_run { id } }")
    assert error["extensions"] == {
        "code": "LIMIT_EXCEEDED",
        "limit": "max_rows_per_field",
        "value": 5,
        "requested": "more than 5 rows of flow_run",
    }
    assert "limit and offset" in error["message"] and "--max-rows-per-field" in error["message"]
    assert limit_error(app, "{ flow_run(limit: 50) { id } }")["extensions"]["limit"] == "max_rows_per_field"
    assert len(post(app, "{ flow_run(limit: 5) { id } }")[1]["data"]["flow_run"]) == 5
    # a limit past the cap is no error while the rows fit
    assert len(post(app, "{ flow_run(limit: 50, offset: 3) { id } }")[1]["data"]["flow_run"]) == 4


def test_a_request_reads_at_most_its_rows(service: ServerService) -> None:
    app = app_for(service, max_rows=12)
    seed_runs(app, 5)
    error = limit_error(app, "{ a: flow_run { id } b: flow_run { id } c: flow_run { id } }")
    assert error["extensions"]["limit"] == "max_rows" and error["extensions"]["value"] == 12
    assert error["path"] == ["c"] and "--max-rows-per-request" in error["message"]
    assert "errors" not in post(app, "{ a: flow_run { id } b: flow_run { id } }")[1]


def test_a_response_holds_at_most_its_bytes_of_text_and_json(service: ServerService) -> None:
    app = app_for(service, max_response_bytes=20_000)
    seed_runs(app, 5, parameters={"blob": "x" * 6_000})
    error = limit_error(app, "{ flow_run { id parameters } }")  # 5 x 6 KB
    assert error["extensions"]["limit"] == "max_response_bytes"
    assert "--max-response-bytes" in error["message"]
    # what is not selected does not count, though the rows are read whole
    assert "errors" not in post(app, "{ flow_run { id name } }")[1]
    assert "errors" not in post(app, "{ flow_run(limit: 3) { parameters } }")[1]


def test_no_field_starts_after_the_deadline(service: ServerService) -> None:
    app = app_for(service, time_limit=0.0)
    status, body = post(app, "{ hello flow_run { id } }")
    assert status == 200 and body.get("data") is None  # flow_run is non-null: no data at all
    errors = body["errors"]
    assert {e["extensions"]["limit"] for e in errors} == {"time_limit"}
    assert "stopped after" in errors[0]["message"] and "--request-time-limit" in errors[0]["message"]
    # a mutation past its deadline writes nothing
    status, body = post(app, 'mutation { create_tenant(input: {name: "t", slug: "late"}) { id } }')
    assert body["errors"][0]["extensions"]["limit"] == "time_limit"
    assert post(app_for(service), '{ tenant(where: {slug: {_eq: "late"}}) { id } }')[1] == {
        "data": {"tenant": []}
    }


def test_a_long_poll_waits_outside_the_time_limit(service: ServerService) -> None:
    # A limit a loaded machine's real work stays well under, and a wait twice as long.
    app = app_for(service, time_limit=1.0)
    version = post(app, "{ dockyard_queue_version }")[1]["data"]["dockyard_queue_version"]
    _, body = post(app, f"{{ dockyard_queue_version(after: {version}, timeout: 2.0) }}")
    assert body == {"data": {"dockyard_queue_version": version}}


def test_a_stopping_server_cuts_requests_off_and_answers_503() -> None:
    deadlines = RequestDeadlines(10.0)
    running = deadlines.start()
    assert not running.expired() and not deadlines.stopping
    deadlines.cut_off(0.0)
    assert running.expired() and deadlines.stopping and deadlines.start().expired()
    assert running.error().code == "SERVICE_UNAVAILABLE"


def test_the_503_of_a_stopping_server(service: ServerService) -> None:
    app = app_for(service)
    app._api.deadlines.cut_off(5.0)
    for path in ("/", "/health"):
        status, body = call(
            app, "POST" if path == "/" else "GET", path, json.dumps({"query": "{ hello }"}).encode()
        )
        assert status == 503 and body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


def test_a_client_that_hung_up_ends_its_requests_deadline() -> None:
    gone = threading.Event()
    deadline = RequestDeadlines(10.0).start(client_gone=gone.is_set)
    assert not deadline.expired()
    gone.set()
    assert deadline.expired() and deadline.error().code == "CLIENT_CLOSED_REQUEST"


def test_the_store_asks_whether_to_interrupt_only_the_current_threads_request(tmp_path: Path) -> None:
    deadlines = RequestDeadlines(10.0)
    assert not deadlines.current_expired()  # outside any request
    expired = RequestDeadlines(0.0).start()
    with deadlines.running(expired):
        assert deadlines.current_expired()
        seen: list[bool] = []
        worker = threading.Thread(target=lambda: seen.append(deadlines.current_expired()))
        worker.start()
        worker.join()
        assert seen == [False]
    assert not deadlines.current_expired()


def test_a_long_statement_is_interrupted_when_its_request_is_out_of_time(tmp_path: Path) -> None:
    stop = threading.Event()
    store = SqliteRunStore(tmp_path / "long.db", durable=False, interrupted=stop.is_set)
    try:
        with store.unit_of_work(write=True) as session:
            for i in range(3000):
                session.insert("log", {"id": f"{i:08d}-0000-4000-8000-000000000000", "message": f"m{i}"})
        # LIKE runs a Python function per row: thousands of steps, many interrupt checks
        query = Select("log", Compare("message", Op.ILIKE, "%9%9%"))
        with store.unit_of_work(write=False) as session:
            assert len(session.select(query)) > 0
        stop.set()
        with store.unit_of_work(write=False) as session, pytest.raises(StoreUnavailable, match="interrupted"):
            session.select(query)
    finally:
        store.close()
