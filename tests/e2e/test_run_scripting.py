"""Scripting around `dockyard run`, as real processes against a real server (and, where runs
must end, a real agent and daemon): exit codes of `run wait` and `run logs --follow`,
starting registered flows by name, refusals at create time, the "no agent" flag, times with
their zone, and run ids that are not ids."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from support.agent_process import AgentProcess, wait_until
from support.dockyard_cli import wait_final
from support.server_process import DOCKYARD, ServerProcess

BUSYBOX = "dockyard-test/busybox:1"
UTC_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
# Any date and time, with whatever follows it: " UTC", " +05:30", ".5+00:00"...
ANY_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?P<zone>\S*(?: (?:UTC|[+-]\d\d:\d\d))?)")


def dockyard(
    server: ServerProcess, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DOCKYARD), "run", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKYARD_API": server.url, **(env or {})},
        timeout=120,
    )


def ok(server: ServerProcess, *args: str) -> str:
    out = dockyard(server, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def shown(server: ServerProcess, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(ok(server, "show", run_id, "--json"))
    return found


def refusal(out: subprocess.CompletedProcess[str]) -> tuple[int, str]:
    """The exit code and the error line (click puts usage lines before it)."""
    return out.returncode, out.stderr.strip().splitlines()[-1].removeprefix("Error: ")


def create(server: ServerProcess, label: str, command: str) -> str:
    return ok(server, "create", "--image", BUSYBOX, "--label", label, "--command", command).strip()


@pytest.fixture
def label() -> str:
    return f"rs-{uuid.uuid4().hex[:8]}"


def start_agent(
    server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str
) -> AgentProcess:
    agent = AgentProcess(
        server.url, log_dir=tmp_path, args=["--label", label, "--no-pull", "--cancel-grace", "1"]
    )
    agents.append(agent.start())
    return agent


# -- run wait and logs --follow ----------------------------------------------------------------


def test_wait_and_follow_exit_codes_for_success_failure_cancel_and_timeout(
    server: ServerProcess, agents: list[AgentProcess], docker_client: docker.DockerClient, tmp_path: Path,
    label: str, test_image: Any,
) -> None:  # fmt: skip
    test_image("busybox")
    agent = start_agent(server, agents, tmp_path, label)
    good = create(server, label, "echo fine")
    also_good = create(server, label, "echo fine too")
    bad = create(server, label, "echo about to fail; exit 3")
    sleeper = create(server, label, "echo sleeping; sleep 300")

    waited = dockyard(server, "wait", good, also_good, "--interval", "0.3", "--timeout", "90")
    assert waited.returncode == 0, waited.stderr
    lines = waited.stdout.splitlines()
    assert len(lines) == 2 and all(re.match(UTC_TIME + r"  \S+ \(\S+\) Success", line) for line in lines), (
        lines
    )
    assert {good, also_good} == {line.split()[3] for line in lines}

    # A wait that starts while the runs are going, and sees one fail and one cancelled.
    wait_until(lambda: wait_final(server.url, good)["agent_id"], what="the agent's first run")
    waiting = subprocess.Popen(
        [str(DOCKYARD), "run", "wait", good, bad, sleeper, "--interval", "0.3", "--timeout", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DOCKYARD_API": server.url},
    )
    try:
        wait_until(lambda: "sleeping" in ok(server, "logs", sleeper), timeout=60, what="the sleeper running")
        assert waiting.poll() is None, "wait returned while a run was still going"
        ok(server, "cancel", sleeper)
        out, err = waiting.communicate(timeout=90)
    finally:
        waiting.kill()
    assert waiting.returncode == 1, (out, err)
    bad_run, sleeper_run = wait_final(server.url, bad), wait_final(server.url, sleeper)
    assert err.startswith(f"Error: 2 of 3 runs did not succeed: {bad} ({bad_run['name']}) Failed: "), err
    assert "exited with code 3" in err and f"; {sleeper} ({sleeper_run['name']}) Cancelled" in err
    ended = [line.split()[3] for line in out.splitlines() if re.match(UTC_TIME, line)]
    assert sorted(ended) == sorted([good, bad, sleeper]), out

    # Time running out: exit 3, naming the run still going.
    stuck = create(server, label, "sleep 300")
    wait_until(
        lambda: wait_final_state(server, stuck) in ("Submitted", "Running"), what="the stuck run taken"
    )
    started = time.monotonic()
    timed_out = dockyard(server, "wait", good, stuck, "--timeout", "2", "--interval", "0.5")
    assert timed_out.returncode == 3, timed_out.stderr
    assert time.monotonic() - started < 30
    assert timed_out.stderr.startswith(f"Error: timed out after 2 s with 1 of 2 runs unfinished: {stuck} (")
    ok(server, "cancel", stuck)

    # logs --follow: 0 for Success, 1 naming the state and message otherwise.
    followed = dockyard(server, "logs", good, "--follow", "--interval", "0.2")
    assert followed.returncode == 0 and "fine" in followed.stdout, followed.stderr
    failed = dockyard(server, "logs", bad, "--follow", "--interval", "0.2")
    assert failed.returncode == 1 and "about to fail" in failed.stdout
    assert (
        failed.stderr.startswith(f"Error: run {bad} ended Failed: ") and "exited with code 3" in failed.stderr
    )
    cancelled = dockyard(server, "logs", sleeper, "-f")
    assert cancelled.returncode == 1 and f"run {sleeper} ended Cancelled" in cancelled.stderr
    unknown = dockyard(server, "wait", good, "00000000-0000-4000-8000-000000000000")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "Error: no flow run with id 00000000-0000-4000-8000-000000000000"

    # The agent that took a run is named by show, and by list's AGENT column.
    shown = ok(server, "show", good)
    assert re.search(rf"^agent:\s+{agent.name} \([0-9a-f-]{{36}}\)$", shown, re.M), shown
    row = next(line for line in ok(server, "list").splitlines() if line.startswith(good))
    assert row.split()[-1] == agent.name
    wait_until(lambda: not agent.containers(docker_client), timeout=60, what="every container removed")


def wait_final_state(server: ServerProcess, run_id: str) -> str:
    return str(json.loads(ok(server, "show", run_id, "--json"))["state"])


# -- starting a registered flow by name -----------------------------------------------------------

CREATE_FLOW = "mutation($input: create_flow_input!) { create_flow(input: $input) { id } }"
PARAMETER = "prefect.core.parameter.Parameter"
PARAMETERS = [
    {"name": "day", "slug": "day", "required": True, "default": None, "type": PARAMETER},
    {"name": "n", "slug": "n", "required": False, "default": 3, "type": PARAMETER},
]


def register(server: ServerProcess, project: str, name: str, *, parameters: list[dict[str, Any]]) -> str:
    tenant = server.data("query { tenant { id } }")["tenant"][0]["id"]
    found = server.data("query($n: String) { project(where: {name: {_eq: $n}}) { id } }", {"n": project})
    if found["project"]:
        project_id = found["project"][0]["id"]
    else:
        project_id = server.data(
            "mutation($i: create_project_input!) { create_project(input: $i) { id } }",
            {"i": {"tenant_id": tenant, "name": project}},
        )["create_project"]["id"]
    run_config = {"type": "DockerRun", "image": "busybox:1", "labels": ["flow-label"], "__version__": "1.4.1"}
    flow = {
        "name": name, "type": "prefect.core.flow.Flow", "schedule": None, "parameters": parameters,
        "tasks": [], "edges": [], "reference_tasks": [], "storage": None, "__version__": "1.4.1",
        "run_config": run_config,
    }  # fmt: skip
    created = server.data(CREATE_FLOW, {"input": {"project_id": project_id, "serialized_flow": flow}})
    return str(created["create_flow"]["id"])


def test_create_starts_a_registered_flow_by_name_with_its_parameters(server: ServerProcess) -> None:
    register(server, "reports", "etl", parameters=PARAMETERS)
    v2 = register(server, "reports", "etl", parameters=PARAMETERS)  # a second version: the newest wins
    other = register(server, "adhoc", "etl", parameters=[])
    register(server, "reports", "plain", parameters=[])

    nightly = ["--flow", "etl", "--project", "reports", "--name", "nightly", "--json"]
    params = ["--param", "day=2024-05-01", "--param", "n=7", "--param", "day=2024-05-02"]
    run = shown(server, json.loads(ok(server, "create", *nightly, *params))["id"])
    assert run["flow"]["id"] == v2 and run["name"] == "nightly"
    assert run["parameters"] == {"day": "2024-05-02", "n": 7}  # JSON when it parses, text otherwise
    assert run["labels"] == ["flow-label"]  # the flow's own labels, without --label
    assert run["run_config"]["image"] == "busybox:1"

    pinned = [
        "--flow",
        "etl",
        "--project",
        "reports",
        "--version",
        "2",
        "--param",
        "day=x",
        "--label",
        "mine",
    ]
    pinned_run = shown(server, ok(server, "create", *pinned).strip())
    assert (pinned_run["flow"]["id"], pinned_run["labels"]) == (v2, ["mine"])
    assert pinned_run["parameters"] == {"day": "x", "n": 3}
    assert shown(server, ok(server, "create", "--flow", "plain").strip())["flow"]["name"] == "plain"
    adhoc = ok(server, "create", "--flow", "etl", "--project", "adhoc").strip()
    assert shown(server, adhoc)["flow"]["id"] == other

    before = len(json.loads(ok(server, "list", "--json", "--limit", "100")))
    reports = ["--flow", "etl", "--project", "reports"]
    param = "Invalid value for --param: "
    refusals = [
        (["--flow", "etl", "--param", "day=x"],
         2, "a flow named 'etl' is in several projects: adhoc, reports; choose one with --project"),
        ([*reports, "--param", "dya=x", "--param", "day=y"],
         2, f"{param}flow 'etl' has no parameter dya; its parameters are day (required), n"),
        ([*reports, "--param", "n=1"],
         2, f"{param}flow 'etl' needs a value for its required parameter day: --param day=VALUE"),
        ([*reports, "--version", "9", "--param", "day=x"],
         1, "flow 'etl' has no version 9 (its versions: 1, 2)"),
        ([*reports, "--version", "1", "--param", "day=x"],
         1, "version 1 of flow 'etl' is archived"),  # registering version 2 archived it
        (["--flow", "nope"], 1, "no flow named 'nope'"),
        (["--flow", "etl", "--project", "nope"],
         1, "no flow named 'etl' in project 'nope' (it is in projects adhoc, reports)"),
        (["--flow", "plain", "--command", "echo"], 2, "--command is for a container run (--image)"),
        (["--flow", "plain", "--param", "novalue"], 2, f"{param}'novalue' is not NAME=VALUE"),
    ]  # fmt: skip
    for args, code, message in refusals:
        assert refusal(dockyard(server, "create", *args)) == (code, message), args
    assert len(json.loads(ok(server, "list", "--json", "--limit", "100"))) == before  # none was created


# -- create-time refusals -----------------------------------------------------------------------


def test_runs_that_cannot_be_right_are_refused_at_create_time(server: ServerProcess) -> None:
    bracket = (
        "Invalid value for --command: starts with '[' but is not a JSON list (Expecting value: line 1 "
        'column 2 (char 1)); write an argv as \'["echo", "hi"]\', and a shell line starting with [ as '
        "`test ...`"
    )
    keys = "its keys are command, env, host_config, image, labels, placement, ports, timeout"
    refusals = [
        (["--image", "Busybox:1"],
         "Invalid value for --image: invalid image reference 'Busybox:1': repository name must be lowercase"),
        (["--image", "busybox:1", "--command", "[echo hi]"], bracket),
        (["--image", "busybox:1", "--command", '["echo", 1]'],
         'Invalid value for --command: a JSON argv must be a list of strings, not ["echo", 1]'),
        (["--image", "busybox:1", "--run-config", '{"imagee": "x"}'],
         f"Invalid value for --run-config: DockerRun has unsupported keys: imagee; {keys}"),
        (["--image", "busybox:1", "--run-config", '{"ports": ["80/icmp"]}'],
         "Invalid value for --run-config: '80/icmp' is not a container port (PORT or PORT/tcp|udp|sctp)"),
    ]  # fmt: skip
    for args, message in refusals:
        assert refusal(dockyard(server, "create", *args)) == (2, message), args
    state = dockyard(server, "list", "--state", "sucess")
    assert (
        state.returncode == 2
        and "'sucess' is not a run state; the states are Cached, Cancelled" in state.stderr
    )
    assert ok(server, "list", "--state", "SCHEDULED", "--json") == "[]\n"

    # The server refuses the same run configs from any client, naming the key.
    flow = shown(server, ok(server, "create", "--image", "busybox:1").strip())["flow"]["id"]
    mutation = "mutation($i: create_flow_run_input!) { create_flow_run(input: $i) { id } }"
    for config, message in [
        ({"type": "DockerRun", "image": "busybox:1", "cpu": 2},
         f"run_config: DockerRun has unsupported keys: `cpu`; {keys}."),
        ({"type": "DockerRun", "image": "Busybox:1"},
         "run_config `image`: invalid image reference 'Busybox:1': repository name must be lowercase."),
        ({"type": "DockerRun", "command": ["echo", 1]},
         "run_config `command` must be a string or a list of strings."),
    ]:  # fmt: skip
        answer = server.graphql(mutation, {"i": {"flow_id": flow, "run_config": config}})
        assert [e["message"] for e in answer["errors"]] == [message]
        assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Other agents' run configs pass as they are.
    local = {"type": "LocalRun", "working_dir": "/srv", "labels": [], "__version__": "1.4.1"}
    assert server.data(mutation, {"i": {"flow_id": flow, "run_config": local}})["create_flow_run"]["id"]
    assert len(json.loads(ok(server, "list", "--json"))) == 2


# -- the "no agent" flag ------------------------------------------------------------------------

REGISTER = "mutation($i: register_agent_input!) { register_agent(input: $i) { id } }"


def test_a_run_no_agent_serves_is_flagged_until_an_agent_with_its_labels_registers(
    server: ServerProcess, label: str
) -> None:
    created = dockyard(server, "create", "--image", "busybox:1", "--label", label, "--label", "gpu")
    run_id = created.stdout.strip()
    assert created.returncode == 0
    assert created.stderr.strip() == (
        f"note: no agent seen lately serves this run's labels (gpu, {label}); "
        "it waits until one with these labels asks for work"
    )
    assert (
        f"Flow run {run_id} (" in server.log()
        and "which no agent seen in the last 120 s serves" in server.log()
    )
    assert server.log().count(f"Flow run {run_id} (") == 1

    def flagged() -> tuple[str, str, bool]:
        row = next(line for line in ok(server, "list").splitlines() if line.startswith(run_id))
        agent_line = next(
            line for line in ok(server, "show", run_id).splitlines() if line.startswith("agent:")
        )
        return row, agent_line, json.loads(ok(server, "show", run_id, "--json"))["no_agent"]

    row, agent_line, no_agent = flagged()
    assert row.endswith("NO AGENT") and no_agent is True
    assert (
        agent_line
        == f"agent:      NO AGENT: no agent seen in the last 120 s serves this run's labels (gpu, {label})"
    )

    tenant = server.data("query { tenant { id } }")["tenant"][0]["id"]
    server.data(
        REGISTER, {"i": {"type": "DockerAgent", "name": "half", "labels": [label], "tenant_id": tenant}}
    )
    assert flagged()[0].endswith("NO AGENT")  # only some of its labels: still no agent

    server.data(REGISTER, {"i": {"type": "DockerAgent", "name": "gpu-box", "labels": [label, "gpu", "x"],
                                 "tenant_id": tenant}})  # fmt: skip
    row, agent_line, no_agent = flagged()
    assert not row.endswith("NO AGENT") and row.split()[-1] == "-" and no_agent is False
    assert agent_line == "agent:      -"  # served, not taken yet
    served = dockyard(server, "create", "--image", "busybox:1", "--label", label)
    assert served.returncode == 0 and served.stderr == ""
    assert server.log().count("which no agent seen in the last 120 s serves") == 1


# -- times and ids ------------------------------------------------------------------------------


def test_every_printed_time_carries_its_zone(server: ServerProcess) -> None:
    run_id = ok(server, "create", "--image", "busybox:1").strip()
    server.data(
        "mutation($i: write_run_logs_input!) { write_run_logs(input: $i) { success } }",
        {"i": {"logs": [{"flow_run_id": run_id, "message": "hello", "name": "t",
                         "timestamp": "2024-05-01T12:00:03.5+00:00"}]}},
    )  # fmt: skip
    server.data(
        "mutation($i: set_flow_run_states_input!) { set_flow_run_states(input: $i) { states { id } } }",
        {"i": {"states": [{"flow_run_id": run_id, "state": {"type": "Success", "message": "done"}}]}},
    )
    outputs = {
        "list": ok(server, "list"),
        "show": ok(server, "show", run_id),
        "logs": ok(server, "logs", run_id),
        "logs -f": ok(server, "logs", run_id, "-f"),
        "wait": ok(server, "wait", run_id),
    }
    assert "2024-05-01 12:00:03 UTC INFO     t: hello" in outputs["logs"]
    for command, text in outputs.items():
        zones = [found["zone"] for found in ANY_TIME.finditer(text)]
        assert zones and set(zones) == {" UTC"}, (command, text)
    assert len(ANY_TIME.findall(outputs["show"])) >= 5  # created, scheduled, ended, and each state

    local = {"TZ": "Asia/Kolkata"}
    in_india = {}
    for args in (("list",), ("show", run_id), ("logs", run_id), ("wait", run_id)):
        out = dockyard(server, *args, "--local-time", env=local)
        assert out.returncode == 0, out.stderr
        zones = [found["zone"] for found in ANY_TIME.finditer(out.stdout)]
        assert zones and set(zones) == {" +05:30"}, (args, out.stdout)
        in_india[args[0]] = out.stdout
    assert "2024-05-01 17:30:03 +05:30 INFO     t: hello" in in_india["logs"]


def test_a_run_id_that_is_not_one_is_a_usage_error_in_the_users_words(server: ServerProcess) -> None:
    for command in (("show",), ("logs",), ("logs", "-f"), ("cancel",), ("wait",)):
        out = dockyard(server, *command, "not-a-uuid")
        assert out.returncode == 2, command
        assert (
            out.stderr.strip()
            .splitlines()[-1]
            .endswith("not a valid run id: 'not-a-uuid' (a run id is a UUID, as `dockyard run list` prints)")
        )
        assert "Variable" not in out.stderr and "Expected value" not in out.stderr
    missing = dockyard(server, "cancel", "00000000-0000-4000-8000-000000000000")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "Error: Flow run 00000000-0000-4000-8000-000000000000 not found.",
    )
