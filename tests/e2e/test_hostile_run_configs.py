"""The hostile run-config corpus (support.hostile_corpus) through a real `dockyard server`
and one `dockyard agent start` with a restrictive policy, on the real daemon.

Good runs (busybox ``echo ok``) are interleaved with the hostile ones. Every hostile run
must end Failed with a message naming what was refused, every good run Success; the
daemon's event stream must show containers created for the good runs (and the accepted
ones) only, and no volume; the agent must still be alive and healthy at the end.

Registry policy: ``--reg-allow-list dockyard-test``. The entry has no ``.`` or ``:`` and is
not ``localhost``, so it names the Docker Hub namespace ``dockyard-test``: the local test
images (``dockyard-test/busybox:1``) normalise to ``docker.io/dockyard-test/busybox:1`` and
are allowed, while ``localhost:5000/...``, ``evil/...``, ``dockyard-test.evil.com/...`` and
``dockyard-testevil/...`` are not. ``--allow-image dockyard-test/busybox:*`` then narrows the
namespace to busybox, so the cached ``dockyard-test/python:3.11`` is refused without a pull.
"""

from __future__ import annotations

import collections
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from support.agent_process import AgentProcess, wait_until
from support.docker_events import recorded_events
from support.hostile_corpus import Case, cases, corpus_agent_flags, good_run
from support.server_process import ServerProcess, free_port, running_server

GOOD_EVERY = 5  # one good run after every five hostile ones
CREATE_RUN = "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }"
RUN_STATES = "query($ids: [uuid!]) { flow_run(where: {id: {_in: $ids}}) { id state state_message } }"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "dockyard.db", log_level="INFO") as running:
        yield running


def a_flow(server: ServerProcess) -> str:
    tenant = server.data("query { tenant { id } }")["tenant"][0]["id"]
    project = server.data(
        "mutation($input: create_project_input!) { create_project(input: $input) { id } }",
        {"input": {"tenant_id": tenant, "name": "hostile"}},
    )["create_project"]["id"]
    flow = {
        "name": "hostile", "type": "prefect.core.flow.Flow", "schedule": None, "parameters": [],
        "tasks": [], "edges": [], "reference_tasks": [], "storage": None, "run_config": None,
        "__version__": "1.4.1",
    }  # fmt: skip
    created = server.data(
        "mutation($input: create_flow_input!) { create_flow(input: $input) { id } }",
        {"input": {"project_id": project, "serialized_flow": flow, "set_schedule_active": False}},
    )
    return str(created["create_flow"]["id"])


NOT_JSON = "not JSON"


def create_run(
    server: ServerProcess, flow_id: str, run_config: Any, label: str, name: str
) -> tuple[str | None, str | None]:
    """The run's id, or the backend's refusal: ``NOT_JSON`` for a request that is not JSON,
    or the message for a DockerRun the agent would refuse (checked when the run is created)."""
    run_input = {"flow_id": flow_id, "run_config": run_config, "labels": [label], "flow_run_name": name}
    # Sent as Python's json writes it: Infinity and NaN included, as a careless client would.
    body = json.dumps({"query": CREATE_RUN, "variables": {"input": run_input}})
    answer = requests.post(server.url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    errors = answer.json().get("errors")
    if errors and answer.status_code == 400 and "not valid JSON" in errors[0]["message"]:
        return None, NOT_JSON
    if errors and (errors[0].get("extensions") or {}).get("code") == "BAD_USER_INPUT":
        return None, str(errors[0]["message"])
    assert not errors, answer.text[:500]
    return str(answer.json()["data"]["create_flow_run"]["id"]), None


def not_json(value: Any) -> bool:
    """NaN or Infinity somewhere: standard JSON has neither, and the backend refuses them."""
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(not_json(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(not_json(v) for v in value)
    return False


def final_states(server: ServerProcess, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    runs: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        runs = {run["id"]: run for run in server.data(RUN_STATES, {"ids": ids})["flow_run"]}
        if all(run["state"] in ("Success", "Failed", "Cancelled") for run in runs.values()):
            return runs
        time.sleep(0.5)
    waiting = collections.Counter(run["state"] for run in runs.values())
    raise AssertionError(f"runs not final within {timeout}s: {dict(waiting)}")


def test_hostile_run_configs_fail_cleanly_while_the_agent_keeps_serving(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient,
    tmp_path: Path, test_image: Any, record_property: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    test_image("python")  # cached, allowed namespace, refused by --allow-image
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "escape").symlink_to("/")
    corpus = cases(allowed, allowed / "escape")
    label = f"hostile-{uuid.uuid4().hex[:8]}"
    port = free_port()
    agent = AgentProcess(
        server.url, log_dir=tmp_path,
        args=["--label", label, "--agent-address", f"127.0.0.1:{port}", *corpus_agent_flags(allowed)],
    )  # fmt: skip
    agents.append(agent.start())
    flow_id = a_flow(server)
    with recorded_events(docker_client, {"type": ["container", "volume"]}) as events:
        hostile: dict[str, Case] = {}
        good: list[str] = []
        refused_as_not_json: list[str] = []
        refused_at_creation: dict[str, str] = {}
        problems = []
        for number, case in enumerate(corpus):
            run_id, refusal = create_run(server, flow_id, case.run_config, label, f"hostile-{number}")
            if refusal == NOT_JSON:
                assert not_json(case.run_config), f"{case.name}: the backend refused it as not JSON"
                refused_as_not_json.append(case.name)
            elif refusal is not None:
                # Refused by the agent's own rules when the run was created: the same words as
                # the Failed message the agent would have written.
                missing = [word for word in case.expect if word.lower() not in refusal.lower()]
                if case.outcome != "Failed" or case.needs_daemon or missing:
                    problems.append(f"{case.name}: refused at creation {refusal[:300]!r} (missing {missing})")
                refused_at_creation[case.name] = refusal
            else:
                assert not not_json(case.run_config), f"{case.name}: NaN/Infinity must be refused"
                assert run_id is not None
                hostile[run_id] = case
            if number % GOOD_EVERY == GOOD_EVERY - 1:
                good_id, _ = create_run(server, flow_id, good_run(), label, f"good-{len(good)}")
                assert good_id is not None
                good.append(good_id)
        runs = final_states(server, [*hostile, *good], timeout=50)

    for run_id, case in hostile.items():
        run = runs[run_id]
        message = run["state_message"] or ""
        missing = [word for word in case.expect if word.lower() not in message.lower()]
        if run["state"] != case.outcome or missing:
            problems.append(f"{case.name}: {run['state']} {message[:300]!r} (missing {missing})")
    problems += [f"good run {r}: {runs[r]['state']} {runs[r]['state_message']!r}" for r in good
                 if runs[r]["state"] != "Success"]  # fmt: skip
    assert not problems, "\n".join(problems) + f"\nagent:\n{agent.output()[-3000:]}"

    # The daemon's own record: containers were created for the runs that ran, and no others.
    created = {
        event["Actor"]["Attributes"].get("io.prefect.flow-run-id")
        for event in events
        if event.get("Type") == "container"
        and event.get("Action") == "create"
        and event["Actor"]["Attributes"].get("org.dockyard.agent") == agent.name
    }
    accepted = {run_id for run_id, case in hostile.items() if case.outcome == "Success"}
    assert created == set(good) | accepted
    volumes = [event for event in events if event.get("Type") == "volume"]
    assert not [e for e in volumes if e.get("Action") == "create" and e["Actor"]["ID"] == "secrets"]
    wait_until(lambda: not agent.containers(docker_client), what="every container to be removed")
    assert "should-not-run" not in agent.output()

    assert agent.alive()
    answer = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
    assert answer.status_code == 200, answer.text

    outcomes = collections.Counter(runs[r]["state"] for r in hostile)
    summary = {
        "corpus_size": len(corpus),
        "hostile_outcomes": dict(outcomes),
        "refused_by_backend_as_not_json": len(refused_as_not_json),
        "refused_by_backend_at_creation": len(refused_at_creation),
        "refused_by_plan": sum(1 for c in hostile.values() if c.outcome == "Failed" and not c.needs_daemon),
        "refused_after_asking_the_daemon": sum(1 for c in corpus if c.needs_daemon),
        "accepted_and_ignored": len(accepted),
        "good_runs": len(good),
        "good_outcomes": dict(collections.Counter(runs[r]["state"] for r in good)),
        "containers_created": len(created),
    }
    record_property("hostile_corpus", json.dumps(summary))
    print(f"\nhostile corpus: {json.dumps(summary)}")
