"""A scheduled Prefect 1.4.1 flow against `dockyard server`: registered with Prefect's own
``flow.register``, its runs appear at once, dockyard's agent runs the first one when it is
due, and turning the schedule off and on again removes and recreates the runs ahead."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker
import pytest

from support.agent_process import AgentProcess, wait_until
from support.prefect_client import prefect_env, run_python
from support.server_process import ServerProcess, running_server

FLOW_SOURCE = """
from datetime import timedelta

import pendulum
from prefect import Flow, task
from prefect.run_configs import DockerRun
from prefect.schedules import IntervalSchedule
from prefect.storage import Local


@task(log_stdout=True)
def hello():
    print("hello from a scheduled run")


schedule = IntervalSchedule(start_date=pendulum.parse("{start}"), interval=timedelta(minutes=1))
with Flow("{name}", schedule=schedule,
          storage=Local(path="/flows/flow.py", stored_as_script=True, add_default_labels=False),
          run_config=DockerRun(image="dockyard-test/prefect:1.4.1", labels=["{label}"])) as flow:
    hello()
"""

REGISTER = """
import importlib.util, json, sys
from prefect import Client
spec = importlib.util.spec_from_file_location("scheduled_flow", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
Client().create_project("scheduled")
print(json.dumps({"flow_id": module.flow.register(project_name="scheduled", no_url=True)}))
"""

RUNS = """
query($flow: uuid!) {
  flow_run(where: {flow_id: {_eq: $flow}}, order_by: [{scheduled_start_time: asc}]) {
    id state auto_scheduled scheduled_start_time labels
  }
}"""

SET_SCHEDULE = "mutation($id: UUID!) { ACTION(input: {flow_id: $id}) { success } }"
FINAL = ("Success", "Failed", "Cancelled")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    # On docker0 too, so the flow container reaches it; a fast scheduler loop, so passes
    # repeat many times while the test watches for duplicates.
    with running_server(
        tmp_path / "dockyard.db", docker_bridge=True, extra_args=["--scheduler-interval", "1"]
    ) as s:
        yield s


def _runs(server: ServerProcess, flow_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = server.data(RUNS, {"flow": flow_id})["flow_run"]
    return runs


def _future(server: ServerProcess, flow_id: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [r for r in _runs(server, flow_id) if datetime.fromisoformat(r["scheduled_start_time"]) > now]


def _assert_ten_ahead_once_each(runs: list[dict[str, Any]]) -> None:
    starts = [r["scheduled_start_time"] for r in runs]
    assert len(starts) == len(set(starts)) == 10, starts
    assert all(r["auto_scheduled"] for r in runs), runs
    gaps = {datetime.fromisoformat(b) - datetime.fromisoformat(a) for a, b in itertools.pairwise(starts)}
    assert gaps == {timedelta(minutes=1)}, gaps


def test_a_registered_schedule_gets_its_runs_and_the_first_runs_when_due(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    test_image: Any,
) -> None:  # fmt: skip
    test_image("prefect")
    label = f"sched-{uuid.uuid4().hex[:8]}"
    start = (datetime.now(UTC) + timedelta(seconds=25)).replace(microsecond=0)
    flows = tmp_path / "flows"
    flows.mkdir()
    naive = start.strftime("%Y-%m-%dT%H:%M:%S")  # read as UTC by pendulum
    source = FLOW_SOURCE.replace("{start}", naive).replace("{name}", "scheduled-flow")
    (flows / "flow.py").write_text(source.replace("{label}", label))
    env = prefect_env(server.url, tmp_path / "home")

    registered = time.monotonic()
    flow_id = json.loads(run_python(REGISTER, env, str(flows / "flow.py")).strip().splitlines()[-1])[
        "flow_id"
    ]

    runs = _runs(server, flow_id)
    assert time.monotonic() - registered < 30
    _assert_ten_ahead_once_each(runs)
    assert all(r["state"] == "Scheduled" for r in runs)
    assert datetime.fromisoformat(runs[0]["scheduled_start_time"]) == start
    assert all(r["labels"] == [label] for r in runs)

    agent = AgentProcess(
        server.url, log_dir=tmp_path, args=["--label", label, "--no-pull", "--volume", f"{flows}:/flows:ro"]
    )
    agents.append(agent.start())
    first = runs[0]["id"]
    final = wait_until(
        lambda: next((r for r in _runs(server, flow_id) if r["id"] == first and r["state"] in FINAL), None),
        timeout=150, interval=1.0, what="the first scheduled run to finish",
    )  # fmt: skip
    assert final["state"] == "Success", agent.output()[-3000:]
    agent.stop()
    _assert_ten_ahead_once_each(_future(server, flow_id))  # the run that started was replaced

    server.data(SET_SCHEDULE.replace("ACTION", "set_schedule_inactive"), {"id": flow_id})
    left = _runs(server, flow_id)
    assert first in [r["id"] for r in left], "the run that ran is kept"
    assert not [r for r in left if r["state"] == "Scheduled"], "no run waits for a schedule that is off"

    server.data(SET_SCHEDULE.replace("ACTION", "set_schedule_active"), {"id": flow_id})
    again = _future(server, flow_id)
    _assert_ten_ahead_once_each(again)
    time.sleep(3)  # three more scheduler passes
    starts = [r["scheduled_start_time"] for r in _runs(server, flow_id)]
    assert len(starts) == len(set(starts)), "no pass adds a duplicate"
    assert {r["id"] for r in again if r["scheduled_start_time"] > again[0]["scheduled_start_time"]} <= {
        r["id"] for r in _runs(server, flow_id)
    }
