"""`dockyard server start` as a real process: durability across restarts, agents racing to
submit the same runs, authentication, limits, and how it listens."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from dockyard.adapters.graphql_api.serving import interface_address
from support.server_process import DOCKYARD, ServerProcess, free_port, running_server, start_server

SUBMIT = (
    "mutation($input: set_flow_run_states_input!) { set_flow_run_states(input: $input) "
    "{ states { id status message } } }"
)


def _seed(server: ServerProcess, runs: int) -> list[str]:
    tenant = server.data("{ tenant { id } }")["tenant"][0]["id"]
    project = server.data(
        "mutation($i: create_project_input!) { create_project(input: $i) { id } }",
        {"i": {"tenant_id": tenant, "name": "e2e"}},
    )["create_project"]["id"]
    flow = server.data(
        "mutation($i: create_flow_input!) { create_flow(input: $i) { id } }",
        {
            "i": {
                "project_id": project,
                "serialized_flow": {"name": "f", "__version__": "1.4.1", "tasks": [{"slug": "a-1"}]},
            }
        },
    )["create_flow"]["id"]
    return [
        server.data(
            "mutation($i: create_flow_run_input!) { create_flow_run(input: $i) { id } }",
            {"i": {"flow_id": flow, "labels": ["e2e"]}},
        )["create_flow_run"]["id"]
        for _ in range(runs)
    ]


def test_a_restart_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    with running_server(db) as server:
        (run,) = _seed(server, 1)
        server.data(SUBMIT, {"input": {"states": [{"flow_run_id": run, "state": {"type": "Submitted"}}]}})
        server.data(
            "mutation($i: write_run_logs_input!) { write_run_logs(input: $i) { success } }",
            {"i": {"logs": [{"flow_run_id": run, "message": "kept", "level": "INFO"}]}},
        )
        assert server.stop() == 0  # SIGTERM is a clean stop
    with running_server(db) as again:
        found = again.data(
            f'{{ flow_run_by_pk(id: "{run}") {{ state version labels logs {{ message }} '
            "task_runs { state } states { state } } tenant { slug } }"
        )
    assert found["flow_run_by_pk"] == {
        "state": "Submitted",
        "version": 2,
        "labels": ["e2e"],
        "logs": [{"message": "kept"}],
        "task_runs": [{"state": "Pending"}],
        "states": [{"state": "Scheduled"}, {"state": "Submitted"}],
    }
    assert found["tenant"] == [{"slug": "default"}]  # the default tenant is not seeded twice


AGENT_SCRIPT = """
import json, random, sys, threading, requests
url, ids, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
query = sys.argv[4]
won, refused, other = [], [], []
def race():
    order = list(ids)
    random.shuffle(order)
    session = requests.Session()
    for run in order:
        body = {"query": query, "variables": json.dumps(
            {"input": {"states": [{"flow_run_id": run, "version": 1, "state": {"type": "Submitted"}}]}})}
        answer = session.post(url, json=body, timeout=60)
        payload = answer.json()
        if answer.status_code >= 500:
            other.append(answer.status_code)
        elif payload.get("errors"):
            (refused if "State update failed" in payload["errors"][0]["message"] else other).append(
                payload["errors"][0]["message"])
        else:
            won.append(run)
workers = [threading.Thread(target=race) for _ in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
print(json.dumps({"won": won, "refused": len(refused), "other": other}))
"""


def test_racing_agents_submit_each_run_exactly_once(tmp_path: Path) -> None:
    with running_server(tmp_path / "race.db", log_level="INFO") as server:
        runs = _seed(server, 40)
        agents = [
            subprocess.Popen(
                [sys.executable, "-c", AGENT_SCRIPT, server.url, json.dumps(runs), "4", SUBMIT],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        in_test: list[str] = []
        lock = threading.Lock()

        def race() -> None:
            order = random.sample(runs, len(runs))
            for run in order:
                body = server.graphql(
                    SUBMIT, {"input": {"states": [{"flow_run_id": run, "state": {"type": "Submitted"}}]}}
                )
                if not body.get("errors"):
                    with lock:
                        in_test.append(run)

        threads = [threading.Thread(target=race) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results = [json.loads(agent.communicate(timeout=120)[0]) for agent in agents]
        wins = Counter(in_test + [run for result in results for run in result["won"]])
        states = server.data('{ flow_run(where: {labels: {_contains: ["e2e"]}}) { state version } }')
    assert all(result["other"] == [] for result in results), results
    assert wins == Counter(runs)  # every run won exactly once, by exactly one contender
    assert sum(r["refused"] for r in results) == 3 * 4 * 40 - sum(len(r["won"]) for r in results)
    assert {(s["state"], s["version"]) for s in states["flow_run"]} == {("Submitted", 2)}


def test_an_api_key_from_a_file_or_the_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    with running_server(tmp_path / "a.db", extra_args=["--api-key-file", str(key_file)]) as server:
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
        refused = server.graphql("{ hello }")
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert server.graphql("{ hello }", Authorization="Bearer from-file") == {"data": {"hello": "👋"}}
    with running_server(tmp_path / "b.db", env={"DOCKYARD_SERVER_API_KEY": "from-env"}) as server:
        assert (
            "UNAUTHENTICATED"
            in server.graphql("{ hello }", Authorization="Bearer nope")["errors"][0]["message"]
        )
        assert server.graphql("{ hello }", Authorization="Bearer from-env") == {"data": {"hello": "👋"}}


def test_oversized_and_malformed_bodies_over_http(dockyard_server_small: ServerProcess) -> None:
    url = dockyard_server_small.url
    big = requests.post(url, data=b'{"query": "{ hello }", "pad": "' + b"x" * 200_000 + b'"}', timeout=30)
    assert big.status_code == 413 and "too large" in big.json()["errors"][0]["message"]
    broken = requests.post(url, data=b"{oops", headers={"Content-Type": "application/json"}, timeout=30)
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["errors"][0]["message"]
    assert requests.post(url, json={"query": "{ hello }"}, timeout=30).json() == {"data": {"hello": "👋"}}


@pytest.fixture
def dockyard_server_small(tmp_path: Path) -> Any:
    with running_server(tmp_path / "small.db", extra_args=["--max-body-size", "100000"]) as server:
        yield server


def test_it_listens_on_the_docker_bridge_too_when_there_is_one(tmp_path: Path) -> None:
    bridge = interface_address("docker0")
    if bridge is None:
        pytest.skip("this machine has no docker0 interface")
    with running_server(tmp_path / "bridge.db", docker_bridge=True, log_level="INFO") as server:
        listening = next(line for line in server.log().splitlines() if "listening on" in line)
    assert f"http://127.0.0.1:{server.port}" in listening and f"http://{bridge}:{server.port}" in listening
    assert "0.0.0.0" not in listening


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    port = free_port()
    first = start_server(tmp_path / "one.db", port=port)
    try:
        second = subprocess.run(
            [
                str(DOCKYARD),
                "server",
                "start",
                "--port",
                str(port),
                "--db",
                str(tmp_path / "two.db"),
                "--no-docker-bridge",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        first.stop()
    assert second.returncode == 1
    assert "cannot listen on 127.0.0.1:" in second.stderr and "Traceback" not in second.stderr


def test_help_explains_the_commands() -> None:
    out = subprocess.run(
        [str(DOCKYARD), "server", "start", "--help"], capture_output=True, text=True, check=True
    )
    for words in ("--host", "--docker-bridge", "--api-key", "--db", "/health", "SQLite"):
        assert words in out.stdout


def test_a_killed_server_keeps_every_answered_write(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    server = start_server(db)
    try:
        runs = _seed(server, 5)
        for run in runs:
            server.data(SUBMIT, {"input": {"states": [{"flow_run_id": run, "state": {"type": "Submitted"}}]}})
    finally:
        server.process.kill()  # no clean shutdown: what was answered must already be on disk
        server.process.wait(10)
    with running_server(db) as again:
        states = again.data("{ flow_run { id state } }")["flow_run"]
    assert sorted((s["id"], s["state"]) for s in states) == sorted((run, "Submitted") for run in runs)
