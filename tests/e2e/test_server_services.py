"""The services inside a real `dockyard server` process: the scheduler (also across two
servers on one database, and run once from the command line, on SQLite and PostgreSQL), the zombie killer and
Lazarus, driven through the GraphQL API with short thresholds."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.server_process import ServerProcess, running_server, server_database_each

__all__ = ["server_database_each"]  # the tests taking server_database: on SQLite, then PostgreSQL

DOCKYARD = Path(sys.executable).parent / "dockyard"
MINUTE = 60_000_000
EVERY_MINUTE = {"clocks": [{"type": "IntervalClock", "interval": MINUTE, "__version__": "1.4.1"}]}

RUN = """
query($id: uuid!) {
  flow_run_by_pk(id: $id) {
    state state_message times_resurrected
    task_runs(order_by: {created: asc}) { id state state_message }
    states(order_by: {version: asc}) { state }
    logs(order_by: {timestamp: asc}) { level message }
  }
}"""
SCHEDULED = """
query($flow: uuid!) {
  flow_run(
    where: {flow_id: {_eq: $flow}, auto_scheduled: {_eq: true}}, order_by: [{scheduled_start_time: asc}]
  ) { id scheduled_start_time state }
}"""
SET_FLOW_RUN_STATES = """
mutation($input: set_flow_run_states_input!) { set_flow_run_states(input: $input) { states { id } } }"""
SET_TASK_RUN_STATES = """
mutation($input: set_task_run_states_input!) { set_task_run_states(input: $input) { states { id } } }"""
HEARTBEAT = """
mutation($input: update_flow_run_heartbeat_input!) { update_flow_run_heartbeat(input: $input) { success } }"""
ACTIVATE = """
mutation($input: set_schedule_active_input!) { set_schedule_active(input: $input) { success } }"""


def project(server: ServerProcess) -> str:
    tenant = server.data("query { tenant { id } }")["tenant"][0]["id"]
    return str(
        server.data(
            "mutation($input: create_project_input!) { create_project(input: $input) { id } }",
            {"input": {"tenant_id": tenant, "name": "services"}},
        )["create_project"]["id"]
    )


def make_flow(
    server: ServerProcess, project_id: str, name: str, *, schedule: Any = None, active: bool = False
) -> str:
    flow = {
        "name": name, "type": "prefect.core.flow.Flow", "schedule": schedule, "parameters": [],
        "tasks": [{"slug": "work-1", "name": "work"}, {"slug": "after-1", "name": "after"}], "edges": [],
        "reference_tasks": [], "storage": None, "run_config": None, "__version__": "1.4.1",
    }  # fmt: skip
    created = server.data(
        "mutation($input: create_flow_input!) { create_flow(input: $input) { id } }",
        {"input": {"project_id": project_id, "serialized_flow": flow, "set_schedule_active": active}},
    )
    return str(created["create_flow"]["id"])


def make_run(server: ServerProcess, flow_id: str) -> str:
    created = server.data(
        "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }",
        {"input": {"flow_id": flow_id}},
    )
    return str(created["create_flow_run"]["id"])


def set_flow_run_state(server: ServerProcess, run_id: str, state: str) -> None:
    server.data(
        SET_FLOW_RUN_STATES,
        {"input": {"states": [{"flow_run_id": run_id, "state": {"type": state, "message": state}}]}},
    )


def set_task_run_state(server: ServerProcess, task_run_id: str, state: str) -> None:
    server.data(
        SET_TASK_RUN_STATES,
        {"input": {"states": [{"task_run_id": task_run_id, "state": {"type": state, "message": state}}]}},
    )


def heartbeat(server: ServerProcess, run_id: str) -> None:
    answer = server.data(
        HEARTBEAT,
        {"input": {"flow_run_id": run_id}},
    )
    assert answer["update_flow_run_heartbeat"]["success"] is True


def run_of(server: ServerProcess, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = server.data(RUN, {"id": run_id})["flow_run_by_pk"]
    return run


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_the_zombie_killer_fails_a_task_run_once_its_flow_runs_heartbeats_stop(tmp_path: Path) -> None:
    args = ["--zombie-threshold", "3", "--no-lazarus"]
    with running_server(tmp_path / "db.sqlite", extra_args=args) as server:
        flow = make_flow(server, project(server), "zombie")
        run = make_run(server, flow)
        set_flow_run_state(server, run, "Submitted")
        set_flow_run_state(server, run, "Running")
        task_run = run_of(server, run)["task_runs"][0]["id"]
        set_task_run_state(server, task_run, "Running")
        for _ in range(8):  # 4 s of heartbeats, past the threshold: alive all along
            heartbeat(server, run)
            time.sleep(0.5)
        assert run_of(server, run)["task_runs"][0]["state"] == "Running"

        reaped = wait_for(
            "the zombie killer",
            lambda: [t for t in run_of(server, run)["task_runs"] if t["state"] == "Failed"],
        )

        assert reaped[0]["id"] == task_run and "No heartbeat detected" in reaped[0]["state_message"]
        found = run_of(server, run)
        assert found["state"] == "Running", "Lazarus is off: the flow run is left as it is"
        assert any(log["level"] == "ERROR" and "No heartbeat" in log["message"] for log in found["logs"])


def test_lazarus_reschedules_a_silent_run_then_fails_it(tmp_path: Path) -> None:
    args = ["--lazarus-threshold", "2", "--lazarus-attempts", "1"]
    with running_server(tmp_path / "db.sqlite", extra_args=args) as server:
        flow = make_flow(server, project(server), "lazarus")
        run = make_run(server, flow)
        set_flow_run_state(server, run, "Submitted")  # an agent took it and died

        first = wait_for(
            "a resurrection", lambda: run_of(server, run)["state"] == "Scheduled" and run_of(server, run)
        )
        assert (
            first["state_message"] == "Rescheduled by a Lazarus process." and first["times_resurrected"] == 1
        )

        set_flow_run_state(server, run, "Submitted")  # taken again, dies again
        set_flow_run_state(server, run, "Running")
        final = wait_for(
            "the last word", lambda: run_of(server, run)["state"] == "Failed" and run_of(server, run)
        )

        assert "attempted to reschedule this run 1 times" in final["state_message"]
        states = [s["state"] for s in final["states"]]
        assert states == ["Scheduled", "Submitted", "Scheduled", "Submitted", "Running", "Failed"]


def test_two_servers_on_one_database_never_create_a_run_twice(
    server_database: Path | str, tmp_path: Path
) -> None:
    db = server_database  # a SQLite file, then a PostgreSQL database
    fast = ["--scheduler-interval", "0.2"]
    with (
        running_server(db, extra_args=fast, log_dir=tmp_path) as one,
        running_server(db, extra_args=fast, log_dir=tmp_path) as two,
    ):
        project_id = project(one)
        flows = [make_flow(one, project_id, f"f{i}", schedule=EVERY_MINUTE) for i in range(30)]
        for i, flow in enumerate(flows):  # turned on half through each server, both scheduling
            server = one if i % 2 else two
            server.data(ACTIVATE, {"input": {"flow_id": flow}})
        time.sleep(2)  # many passes of both schedulers

        for flow in flows:
            runs = one.data(SCHEDULED, {"flow": flow})["flow_run"]
            starts = [r["scheduled_start_time"] for r in runs]
            assert len(starts) == len(set(starts)), ("a start time made twice", flow, starts)
            # Ten ahead; eleven when a minute turned meanwhile (the run now due stays, and
            # one more is made ahead).
            assert 10 <= len(starts) <= 11, (flow, starts)


def test_the_services_run_once_from_the_command_line(server_database: Path | str, tmp_path: Path) -> None:
    db = server_database
    with running_server(db, extra_args=["--no-scheduler"], log_dir=tmp_path) as server:
        flow = make_flow(server, project(server), "later", schedule=EVERY_MINUTE, active=True)
        assert server.data(SCHEDULED, {"flow": flow})["flow_run"] == [], "no scheduler in this server"

        once = subprocess.run(
            [str(DOCKYARD), "server", "services", "--db", str(db), "--once", "--no-zombie-killer"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

        assert once.returncode == 0, once.stderr
        assert "scheduler: SchedulerPass(flows=1, created=10" in once.stdout, once.stdout
        assert "lazarus: LazarusPass(rescheduled=0, failed=0)" in once.stdout, once.stdout
        assert len(server.data(SCHEDULED, {"flow": flow})["flow_run"]) == 10
