"""The agent's GraphQL backend adapter against a real `dockyard server` process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from dockyard.adapters.graphql_backend import GraphQLBackend
from dockyard.adapters.graphql_transport import GraphQLTransport
from dockyard.adapters.run_client import RunClient
from dockyard.domain.agent.model import RunLog
from dockyard.domain.errors import BackendUnavailable, SubmissionConflict, Unauthenticated
from dockyard.domain.states import state_document
from support.server_process import ServerProcess, free_port, running_server


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def backend_for(server: ServerProcess, session: requests.Session) -> GraphQLBackend:
    return GraphQLBackend(GraphQLTransport(session, server.url, api_key=server.api_key))


def create_run(server: ServerProcess, session: requests.Session, labels: list[str], **extra: object) -> str:
    client = RunClient(GraphQLTransport(session, server.url, api_key=server.api_key))
    flow_id = client.ensure_flow(client.ensure_project("dockyard"), "adapter-test")
    run_config = {"type": "DockerRun", "image": "dockyard-test/busybox:1", "labels": labels, **extra}
    return client.create_flow_run(flow_id=flow_id, labels=labels, run_config=run_config, name=None)


def test_the_agent_cycle_through_the_real_api(server: ServerProcess, session: requests.Session) -> None:
    now = datetime.now(UTC)
    backend = backend_for(server, session)
    agent_id = backend.register_agent(
        name="adapter", labels=["x"], agent_type="DockerAgent", agent_config_id=None
    )
    backend.hello()
    run_id = create_run(server, session, ["x"], command="echo hi")
    other = create_run(server, session, ["y"])

    queued = backend.runs_in_queue(labels=["x"], before=now + timedelta(seconds=10))
    assert run_id in queued and other not in queued

    (run,) = backend.flow_runs([run_id], retry_buffer=now)
    assert run.state == "Scheduled" and run.labels == ("x",)
    assert run.run_config is not None and run.run_config["command"] == "echo hi"
    assert run.flow.name == "adapter-test"

    context = {"dockyard": {"agent": "adapter", "daemon": "d1"}}
    backend.set_flow_run_state(
        run_id, run.version, state_document("Submitted", "go", inner=run.serialized_state, context=context)
    )
    with pytest.raises(SubmissionConflict):
        backend.set_flow_run_state(
            run_id, run.version, state_document("Submitted", "again", inner=run.serialized_state)
        )
    assert backend.runs_in_queue(labels=["x"], before=now + timedelta(seconds=10)) == []

    (mine,) = backend.runs_of_agent(agent_id, ["Submitted"])
    assert mine.id == run_id and mine.serialized_state["context"] == context

    assert backend.last_log_time(run_id, "container") is None
    stamp = now.replace(microsecond=123456)
    backend.write_run_logs([RunLog(run_id, "line one"), RunLog(run_id, "boom", "ERROR", "container", stamp)])
    assert backend.last_log_time(run_id, "container") == stamp
    backend.set_flow_run_state(run_id, None, state_document("Failed", "exit 3"))
    statuses = backend.run_statuses([run_id, other, "00000000-0000-4000-8000-000000000000"])
    assert statuses[run_id].state == "Failed" and statuses[run_id].message == "exit 3"
    assert statuses[other].state == "Scheduled"
    assert "00000000-0000-4000-8000-000000000000" not in statuses


def test_queue_notifications_wake_a_waiting_agent(server: ServerProcess, session: requests.Session) -> None:
    backend = backend_for(server, session)
    version = backend.wait_for_queue_change(None, 1.0)
    assert version is not None
    woke: list[int | None] = []
    waiter = threading.Thread(
        target=lambda: woke.append(
            backend_for(server, requests.Session()).wait_for_queue_change(version, 20.0)
        )
    )
    waiter.start()
    create_run(server, session, ["z"])
    waiter.join(timeout=10)
    assert not waiter.is_alive(), "a new run must end the wait early"
    assert woke and woke[0] is not None and woke[0] > version


def test_an_unreachable_api_is_backend_unavailable(session: requests.Session) -> None:
    transport = GraphQLTransport(session, f"http://127.0.0.1:{free_port()}", attempts=2, backoff=0.01)
    with pytest.raises(BackendUnavailable, match="cannot reach the API"):
        GraphQLBackend(transport).hello()


def test_a_wrong_key_is_unauthenticated(tmp_path: Path, session: requests.Session) -> None:
    with running_server(tmp_path / "auth.db", api_key="right-key") as server:
        transport = GraphQLTransport(session, server.url, api_key="wrong-key")
        with pytest.raises(Unauthenticated):
            GraphQLBackend(transport).hello()
        GraphQLBackend(GraphQLTransport(session, server.url, api_key="right-key")).hello()


def test_heartbeats_and_running_task_runs_through_the_real_api(
    server: ServerProcess, session: requests.Session
) -> None:
    backend = backend_for(server, session)
    tenant = server.data("query { tenant { id } }")["tenant"][0]["id"]
    project = server.data(
        "mutation($input: create_project_input!) { create_project(input: $input) { id } }",
        {"input": {"tenant_id": tenant, "name": "beats"}},
    )["create_project"]["id"]
    flow = {"name": "beats", "__version__": "1.4.1", "tasks": [{"slug": "a-1"}, {"slug": "b-1"}]}
    flow_id = server.data(
        "mutation($input: create_flow_input!) { create_flow(input: $input) { id } }",
        {"input": {"project_id": project, "serialized_flow": flow}},
    )["create_flow"]["id"]
    client = RunClient(GraphQLTransport(session, server.url))
    runs = [client.create_flow_run(flow_id, run_config={}, labels=[], name=None) for _ in range(2)]
    for run_id in runs:
        backend.set_flow_run_state(run_id, None, state_document("Running", "go"))
    before = {r["id"]: r["heartbeat"] for r in server.data("{ flow_run { id heartbeat } }")["flow_run"]}
    task_runs = server.data(
        "query($id: uuid!) { task_run(where: {flow_run_id: {_eq: $id}}) { id } }", {"id": runs[0]}
    )["task_run"]
    backend.set_task_run_state(task_runs[0]["id"], None, state_document("Running", "working"))

    backend.heartbeat(runs)
    (running,) = backend.running_task_runs(runs[0])

    after = {r["id"]: r["heartbeat"] for r in server.data("{ flow_run { id heartbeat } }")["flow_run"]}
    assert all(after[run_id] > before[run_id] for run_id in runs), "one request beat for both"
    assert running.id == task_runs[0]["id"] and running.state == "Running"
    assert backend.running_task_runs(runs[1]) == []
