"""`dockyard run` against a real `dockyard server`: create, list, show, logs, cancel."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

from support.server_process import DOCKYARD, ServerProcess, dockyard_server, free_port

__all__ = ["dockyard_server"]


def dockyard(server: ServerProcess | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKYARD_API": server.url if server else f"http://127.0.0.1:{free_port()}"}
    return subprocess.run([str(DOCKYARD), "run", *args], capture_output=True, text=True, env=env, timeout=60)


def ok(server: ServerProcess, *args: str) -> str:
    out = dockyard(server, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_create_show_list_and_cancel(dockyard_server: ServerProcess) -> None:
    created = json.loads(
        ok(
            dockyard_server,
            "create",
            "--image",
            "busybox:1",
            "--command",
            '["echo", "hi there"]',
            "--label",
            "b",
            "--label",
            "a",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--timeout",
            "30",
            "--run-config",
            '{"host_config": {"mem_limit": "64m"}, "image": "ignored"}',
            "--name",
            "first",
            "--json",
        )
    )
    shell = ok(dockyard_server, "create", "--image", "busybox:1", "--command", "echo $HOME; exit 3").strip()

    shown: dict[str, Any] = json.loads(ok(dockyard_server, "show", created["id"], "--json"))
    assert (shown["id"], shown["name"], shown["state"], shown["labels"]) == (
        created["id"],
        "first",
        "Scheduled",
        ["a", "b"],
    )
    assert shown["run_config"] == {
        "type": "DockerRun",
        "image": "busybox:1",
        "command": ["echo", "hi there"],
        "env": {"A": "1", "B": "x=y"},
        "labels": ["a", "b"],
        "timeout": 30.0,
        "host_config": {"mem_limit": "64m"},
        "__version__": "1.4.1",
    }
    assert [s["state"] for s in shown["states"]] == ["Scheduled"] and shown["states"][0]["timestamp"]
    assert shown["state_message"] == "Flow run scheduled."
    second: dict[str, Any] = json.loads(ok(dockyard_server, "show", shell, "--json"))
    assert second["run_config"]["command"] == "echo $HOME; exit 3" and second["labels"] == []
    assert second["flow"]["id"] == shown["flow"]["id"]  # the flow is registered once and reused

    listed = json.loads(ok(dockyard_server, "list", "--json"))
    assert [r["id"] for r in listed] == [shell, created["id"]]  # newest first
    table = ok(dockyard_server, "list", "--state", "Scheduled", "--limit", "1")
    assert (
        table.splitlines()[0].split() == ["ID", "NAME", "STATE", "FLOW", "CREATED", "AGENT"]
        and shell in table
    )

    assert json.loads(ok(dockyard_server, "cancel", created["id"], "--json")) == {
        "id": created["id"],
        "state": "Cancelled",
    }
    human = ok(dockyard_server, "show", created["id"])
    assert "state:      Cancelled" in human and "Flow run is cancelled" in human
    assert json.loads(ok(dockyard_server, "list", "--state", "Cancelled", "--json"))[0]["id"] == created["id"]


def test_logs_and_follow_until_the_run_finishes(dockyard_server: ServerProcess) -> None:
    run = ok(dockyard_server, "create", "--image", "busybox:1").strip()
    write = "mutation($i: write_run_logs_input!) { write_run_logs(input: $i) { success } }"
    for message in ("first line", "second line"):
        dockyard_server.data(
            write, {"i": {"logs": [{"flow_run_id": run, "message": message, "name": "agent"}]}}
        )
    dockyard_server.data(
        "mutation($i: set_flow_run_states_input!) { set_flow_run_states(input: $i) { states { id } } }",
        {"i": {"states": [{"flow_run_id": run, "state": {"type": "Failed", "message": "exit code 3"}}]}},
    )
    lines = ok(dockyard_server, "logs", run).splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["first line", "second line"]
    out = dockyard(dockyard_server, "logs", run, "--follow", "--json")
    followed = [json.loads(line) for line in out.stdout.splitlines()]
    assert [entry["message"] for entry in followed] == ["first line", "second line"]
    # The run ended Failed: following it to its end says so, and exits 1.
    assert (out.returncode, out.stderr) == (1, f"Error: run {run} ended Failed: exit code 3\n")


def test_errors_are_one_line_with_exit_code_1(dockyard_server: ServerProcess) -> None:
    unreachable = dockyard(None, "list")
    assert unreachable.returncode == 1
    # Where it looked and why it failed, in full.
    assert re.fullmatch(
        r"Error: cannot reach the API at http://127\.0\.0\.1:\d+: connection refused "
        r"\(is `dockyard server start` running\?\)\n",
        unreachable.stderr,
    ), unreachable.stderr
    missing = dockyard(dockyard_server, "show", "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 1 and "no flow run with id" in missing.stderr
    usage = dockyard(dockyard_server, "create", "--image", "x", "--env", "NOEQUALS")
    assert usage.returncode == 2 and "KEY=VALUE" in usage.stderr
    bad_json = dockyard(dockyard_server, "create", "--image", "x", "--run-config", "[1]")
    assert bad_json.returncode == 2 and "JSON object" in bad_json.stderr


def test_an_api_key_is_sent_as_a_bearer_token(tmp_path: Any) -> None:
    from support.server_process import running_server

    with running_server(tmp_path / "k.db", api_key="k3y") as server:
        refused = dockyard(server, "list")
        assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr
        assert dockyard(server, "list", "--api-key", "k3y").returncode == 0
        env_key = subprocess.run(
            [str(DOCKYARD), "run", "list", "--json", "--api", server.url],
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKYARD_API_KEY": "k3y"},
            timeout=60,
        )
        assert env_key.returncode == 0 and json.loads(env_key.stdout) == []


def test_every_run_command_has_help() -> None:
    for command in ("create", "list", "show", "logs", "cancel", "wait"):
        out = subprocess.run(
            [str(DOCKYARD), "run", command, "--help"], capture_output=True, text=True, check=True
        )
        assert "--api" in out.stdout and "--json" in out.stdout and len(out.stdout.splitlines()) > 5
