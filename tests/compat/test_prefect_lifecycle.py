"""Prefect 1.4.1's own client, LocalAgent and flow runner against `dockyard server`.

Each test registers a flow (Local storage, stored as a script), creates a run with the
Prefect client, lets a real LocalAgent deploy it as `prefect execute flow-run`, and checks
the outcome through dockyard's GraphQL API. Each test runs with the server on SQLite, then
on PostgreSQL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from support.prefect_client import HOSTNAME_LABEL, prefect_env, run_prefect, run_python
from support.prefect_flows import local_mapped_flow, register_and_run
from support.server_process import ServerProcess, dockyard_server, server_database_each

__all__ = ["dockyard_server", "server_database_each"]  # every test on SQLite, then on PostgreSQL

CREATE_RUN = """
import json, sys
from prefect import Client
client = Client()
flows = client.graphql('query { flow(where: {name: {_eq: "%s"}}) { id } }' % sys.argv[1]).data.flow
run_id = client.create_flow_run(flow_id=flows[0].id, parameters={"n": int(sys.argv[2])})
print(json.dumps({"flow_id": flows[0].id, "run_id": run_id}))
"""

VIEWS = """
import json, sys
from prefect.backend import FlowRunView, FlowView
run = FlowRunView.from_flow_run_id(sys.argv[1])
flow = FlowView.from_flow_id(sys.argv[2])
print(json.dumps({"state": type(run.state).__name__, "task_runs": len(run.get_all_task_runs()),
                  "flow": flow.name, "has_logs": len(run.get_logs()) > 0}))
"""

RUN_QUERY = """
query($id: uuid!) {
  flow_run_by_pk(id: $id) {
    state state_message labels parameters agent_id start_time end_time
    task_runs(order_by: [{map_index: asc}]) { map_index state name task { slug } }
    logs(order_by: {timestamp: asc}) { level message }
    states(order_by: {version: asc}) { state }
  }
}
"""


def _write_flow(directory: Path, name: str, fail_at: int = -1) -> Path:
    path = directory / f"{name}.py"
    path.write_text(local_mapped_flow(name, fail_at=fail_at))
    return path


def _run_agent(env: dict[str, str]) -> None:
    # Enough polls to find the run and hand it to `prefect execute flow-run`; the flow
    # run process outlives the agent.
    out = run_prefect(env, "agent", "local", "start", "--label", "compat", "--max-polls", "3", timeout=60)
    assert out.returncode == 0, f"agent failed:\n{out.stdout}\n{out.stderr}"


def _wait_finished(server: ServerProcess, run_id: str, timeout: float = 50) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = server.data(RUN_QUERY, {"id": run_id})["flow_run_by_pk"]
        if run["state"] in ("Success", "Failed", "Cancelled"):
            time.sleep(0.5)  # the runner flushes its last logs right after the final state
            return dict(server.data(RUN_QUERY, {"id": run_id})["flow_run_by_pk"])
        time.sleep(0.5)
    pytest.fail(f"run {run_id} did not finish; last seen {run.get('state')}:\n{server.log()[-4000:]}")


def test_flow_register_agent_and_flow_runner_reach_success(
    dockyard_server: ServerProcess, tmp_path: Path
) -> None:
    env = prefect_env(dockyard_server.url, tmp_path / "home")
    flow_file = _write_flow(tmp_path, "compat-flow")
    ids = register_and_run(flow_file, env, project="compat", parameters={"n": 3})

    _run_agent(env)
    run = _wait_finished(dockyard_server, ids["run_id"])

    assert run["state"] == "Success", run
    assert run["labels"] == sorted(["compat", HOSTNAME_LABEL])
    assert run["parameters"] == {"n": 3}
    assert run["agent_id"] and run["start_time"] and run["end_time"]
    assert [s["state"] for s in run["states"]][:3] == ["Scheduled", "Submitted", "Running"]
    by_slug: dict[str, list[dict[str, Any]]] = {}
    for task_run in run["task_runs"]:
        by_slug.setdefault(task_run["task"]["slug"], []).append(task_run)
    assert sorted(by_slug) == ["inc-1", "make_list-1", "n", "total-1"]
    mapped = by_slug["inc-1"]
    assert [t["map_index"] for t in mapped] == [-1, 0, 1, 2]
    assert [t["state"] for t in mapped] == ["Mapped", "Success", "Success", "Success"]
    assert by_slug["total-1"][0]["name"] == "total-[1, 2, 3]"
    assert all(t["state"] == "Success" for t in by_slug["total-1"] + by_slug["n"])
    # Prefect's own read views (used by `prefect run` and the run-a-flow tasks) agree.
    view = json.loads(run_python(VIEWS, env, ids["run_id"], ids["flow_id"]).strip().splitlines()[-1])
    assert view == {"state": "Success", "task_runs": 7, "flow": "compat-flow", "has_logs": True}


def test_prefect_register_cli_path_reaches_success(dockyard_server: ServerProcess, tmp_path: Path) -> None:
    env = prefect_env(dockyard_server.url, tmp_path / "home")
    flow_file = _write_flow(tmp_path, "cli-flow")
    created = run_prefect(env, "create", "project", "compat")
    assert created.returncode == 0, created.stderr
    registered = run_prefect(env, "register", "--project", "compat", "--path", str(flow_file))
    assert registered.returncode == 0, f"{registered.stdout}\n{registered.stderr}"
    assert "cli-flow" in registered.stdout
    again = run_prefect(env, "register", "--project", "compat", "--path", str(flow_file))
    assert "Skipped" in again.stdout, again.stdout  # the same flow again: idempotency key
    ids = json.loads(run_python(CREATE_RUN, env, "cli-flow", "2").strip().splitlines()[-1])

    _run_agent(env)
    run = _wait_finished(dockyard_server, ids["run_id"])

    assert run["state"] == "Success", run
    assert sorted({t["task"]["slug"] for t in run["task_runs"]}) == ["inc-1", "make_list-1", "n", "total-1"]
    assert len([t for t in run["task_runs"] if t["map_index"] >= 0]) == 2


def test_failing_flow_ends_failed_with_its_error_in_the_logs(
    dockyard_server: ServerProcess, tmp_path: Path
) -> None:
    env = prefect_env(dockyard_server.url, tmp_path / "home")
    flow_file = _write_flow(tmp_path, "failing-flow", fail_at=3)  # n=2: 1 + 2 = 3
    ids = register_and_run(flow_file, env, project="compat", parameters={"n": 2})

    _run_agent(env)
    run = _wait_finished(dockyard_server, ids["run_id"])

    assert run["state"] == "Failed", run
    total = next(t for t in run["task_runs"] if t["task"]["slug"] == "total-1")
    assert total["state"] == "Failed"
    assert any("the total is unlucky" in (log["message"] or "") for log in run["logs"]), run["logs"]
