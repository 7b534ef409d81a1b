"""Prefect Server's administration mutations and the newer read fields, used the way a
Prefect 1.4.1 user does: through Prefect's own Client (`client.graphql` for the calls it
has no method for, with Prefect's query builder) and its backend views, against
`dockyard server`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.prefect_client import prefect_env, run_prefect, run_python
from support.prefect_seed import SEED
from support.server_process import ServerProcess, dockyard_server

__all__ = ["dockyard_server"]

ADMIN = """
import json, sys
from prefect import Client
from prefect.backend import FlowRunView, FlowView
from prefect.utilities.graphql import EnumValue, with_args

ids = json.loads(sys.argv[1])
client = Client()
out = {}


def mutate(name, value, fields=("success",)):
    document = {"mutation($input: %s_input!)" % name: {"%s(input: $input)" % name: set(fields)}}
    return client.graphql(document, variables={"input": value}).data[name].to_dict()


def query(document):
    return client.graphql({"query": document}).data.to_dict()


# reads: artifacts, run counts, state histories, aggregates
success_runs = FlowRunView.from_flow_run_id(ids["etl-success"]).get_all_task_runs()
task_run = sorted(success_runs, key=lambda t: t.task_slug)[0]
artifact = client.create_task_run_artifact(task_run.task_run_id, "markdown", {"markdown": "# rows"}, None)
out["artifacts"] = query({
    with_args("task_run_artifact", {"where": {"task_run": {"flow_run_id": {"_eq": ids["etl-success"]}}}}):
        {"id", "kind", "data"}
})["task_run_artifact"]
out["artifact_id"] = artifact
out["task_run"] = query({
    with_args("task_run_by_pk", {"id": task_run.task_run_id}): {
        "run_count": True,
        with_args("states", {"order_by": {EnumValue("version"): EnumValue("asc")}}): {"state", "version"},
    }
})["task_run_by_pk"]
out["aggregates"] = query({
    with_args("flow_run_aggregate", {"where": {"flow": {"name": {"_eq": "etl"}}}}): {
        "aggregate": {"count": True, "max": {"end_time", "version"}}
    },
    with_args("task_run_aggregate", {"where": {"flow_run_id": {"_eq": ids["etl-failed"]}}}): {
        "aggregate": {with_args("count", {"columns": EnumValue("state"), "distinct": True}): True}
    },
})

# administration
found = query({with_args("flow_by_pk", {"id": ids["report"]}): {"flow_group_id"}})
group_id = found["flow_by_pk"]["flow_group_id"]
out["set_labels"] = mutate("set_flow_group_labels", {"flow_group_id": group_id, "labels": ["gpu", "eu"]})
out["group_labels"] = sorted(FlowView.from_flow_id(ids["report"]).flow_group_labels)
relabelled = client.create_flow_run(flow_id=ids["report"], run_name="relabelled")
out["relabelled_labels"] = sorted(FlowRunView.from_flow_run_id(relabelled).labels)
alpha = query({with_args("project", {"where": {"name": {"_eq": "alpha"}}}): {"id"}})["project"][0]["id"]
out["moved"] = mutate("update_flow_project", {"flow_id": ids["report"], "project_id": alpha}, ("id",))
out["report_project"] = FlowView.from_flow_id(ids["report"]).project_name
out["deleted_run"] = mutate("delete_flow_run", {"flow_run_id": ids["etl-failed"]})
out["deleted_again"] = mutate("delete_flow_run", {"flow_run_id": ids["etl-failed"]})
try:
    FlowRunView.from_flow_run_id(ids["etl-failed"])
    out["deleted_run_view"] = "still there"
except ValueError as exc:
    out["deleted_run_view"] = str(exc)
out["archived"] = mutate("archive_flow", {"flow_id": ids["etl_v2"]})
try:
    FlowView.from_flow_name("etl", project_name="alpha")
    out["archived_view"] = "still found"
except ValueError as exc:
    out["archived_view"] = str(exc)
try:
    client.create_flow_run(flow_id=ids["etl_v2"])
    out["archived_run"] = "created"
except Exception as exc:
    out["archived_run"] = str(exc)
out["scheduled_after_archive"] = FlowRunView.from_flow_run_id(ids["etl-scheduled"]).state.message
out["deleted_flow"] = mutate("delete_flow", {"flow_id": ids["report"]})
out["runs_left"] = sorted(r["name"] for r in query({"flow_run": {"name"}})["flow_run"])
print(json.dumps(out))
"""


def test_administration_and_new_reads_through_prefects_client(
    dockyard_server: ServerProcess, tmp_path: Path
) -> None:
    env = prefect_env(dockyard_server.url, tmp_path / "home")
    ids = json.loads(run_python(SEED, env).strip().splitlines()[-1])
    out: dict[str, Any] = json.loads(run_python(ADMIN, env, json.dumps(ids)).strip().splitlines()[-1])

    assert out["artifacts"] == [
        {"id": out["artifact_id"], "kind": "markdown", "data": {"markdown": "# rows"}}
    ]
    assert out["task_run"]["run_count"] == 1
    assert [s["state"] for s in out["task_run"]["states"]] == ["Running", "Success"]
    etl = out["aggregates"]["flow_run_aggregate"]["aggregate"]
    assert etl["count"] == 3 and etl["max"]["version"] == 3 and etl["max"]["end_time"]
    assert out["aggregates"]["task_run_aggregate"]["aggregate"]["count"] == 1  # all Failed

    assert out["set_labels"] == {"success": True}
    assert out["group_labels"] == out["relabelled_labels"] == ["eu", "gpu"]
    assert out["moved"] == {"id": ids["report"]} and out["report_project"] == "alpha"
    assert out["deleted_run"] == {"success": True} and out["deleted_again"] == {"success": False}
    assert "No flow runs found" in out["deleted_run_view"]
    assert out["archived"] == {"success": True}
    assert "No results found" in out["archived_view"]
    assert "archived" in out["archived_run"]
    assert out["scheduled_after_archive"] == f"Flow {ids['etl_v2']} was archived."
    assert out["deleted_flow"] == {"success": True}
    assert out["runs_left"] == ["etl-scheduled", "etl-success"]

    # the CLI sees the same: report moved to alpha and then deleted, one etl run deleted
    env.pop("PREFECT__CLOUD__API")
    flows = run_prefect(env, "get", "flows", "--all-versions")
    assert flows.returncode == 0, flows.stderr
    assert [line.split()[:2] for line in flows.stdout.splitlines()[1:]] == [["etl", "2"], ["etl", "1"]]
    runs = run_prefect(env, "get", "flow-runs")
    assert runs.returncode == 0, runs.stderr
    assert sorted(line.split()[0] for line in runs.stdout.splitlines()[1:]) == [
        "etl-scheduled",
        "etl-success",
    ]
