"""Every `prefect get …` and `prefect describe …` command of the Prefect 1.4.1 CLI, with
its options, against `dockyard server`.

One server is seeded through Prefect's own Client: projects "alpha" and "beta"; flow
"etl" registered twice in alpha (versions 1 and 2), flow "report" in beta; runs of etl v2
that ended Success (with task runs and logs) and Failed, one still Scheduled, and a
Running run of report. The CLI runs as a subprocess of the Prefect venv, pointed at the
server with PREFECT__BACKEND=server and PREFECT__SERVER__ENDPOINT only, and each command
must exit 0 printing exactly the expected rows. Every command runs against the server on
SQLite, then on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.postgres import create_database, drop_database, new_name
from support.prefect_client import prefect_env, run_prefect, run_python
from support.prefect_env import prefect_python
from support.prefect_seed import SEED
from support.server_process import DATABASES, ServerProcess, running_server

LIST_COMMANDS = """
import json
from prefect.cli.describe import describe
from prefect.cli.get import get
print(json.dumps({
    group.name: {
        name: sorted(next(o for o in p.opts if o.startswith("--")) for p in command.params)
        for name, command in group.commands.items()
    }
    for group in (get, describe)
}))
"""

TASK_TYPE = "prefect.tasks.core.function.FunctionTask"


@pytest.fixture(scope="module", params=DATABASES)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, dict[str, str], dict[str, Any]]]:
    """The seeded server: on SQLite, then (every test again) on a PostgreSQL database."""
    directory = tmp_path_factory.mktemp("cli")
    with contextlib.ExitStack() as cleanup:
        database: Path | str = directory / "dockyard.db"
        if request.param == "postgres":
            cluster, name = request.getfixturevalue("postgres_cluster"), new_name()
            database = create_database(cluster, name)
            cleanup.callback(drop_database, cluster, name)
        server = cleanup.enter_context(running_server(database, log_dir=directory))
        env = prefect_env(server.url, directory / "home")
        # the CLI finds the server through the server endpoint alone, as a Prefect 1 user sets it
        env.pop("PREFECT__CLOUD__API")
        ids = json.loads(run_python(SEED, env).strip().splitlines()[-1])
        yield server, env, ids


def cli(env: dict[str, str], *args: str) -> str:
    result = run_prefect(env, *args)
    shown = f"$ prefect {' '.join(args)} -> exit {result.returncode}"
    print(f"{shown}\n{result.stdout.rstrip()}\n")  # the record of what ran (pytest -rP)
    assert result.returncode == 0, f"{shown}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def rows(output: str) -> list[dict[str, str]]:
    """A `tabulate` plain table as dicts: columns start where their headers start."""
    header, *lines = [line for line in output.splitlines() if line.strip()]
    columns = [(m.group(), m.start()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    table = []
    for line in lines:
        cells = {}
        for index, (name, start) in enumerate(columns):
            end = columns[index + 1][1] if index + 1 < len(columns) else None
            cells[name] = line[start:end].strip()
        table.append(cells)
    return table


def pick(table: list[dict[str, str]], *columns: str) -> list[tuple[str, ...]]:
    return [tuple(row[c] for c in columns) for row in table]


def from_yaml(text: str) -> Any:
    script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"
    loaded = subprocess.run([str(prefect_python()), "-c", script], input=text, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    return json.loads(loaded.stdout)


GET_FLOWS = ("NAME", "VERSION", "PROJECT NAME")
GET_FLOWS_CASES = [
    ((), [("etl", "2", "alpha"), ("report", "1", "beta")]),
    (("--all-versions",), [("etl", "2", "alpha"), ("etl", "1", "alpha"), ("report", "1", "beta")]),
    (("--name", "etl", "--version", "1"), [("etl", "1", "alpha")]),
    (("-n", "etl", "--all-versions"), [("etl", "2", "alpha"), ("etl", "1", "alpha")]),
    (("--project", "beta"), [("report", "1", "beta")]),
    (("--limit", "1"), [("etl", "2", "alpha")]),
    (("--name", "nope"), []),
]


@pytest.mark.parametrize(
    ("args", "expected"), GET_FLOWS_CASES, ids=[" ".join(a) or "-" for a, _ in GET_FLOWS_CASES]
)
def test_get_flows(seeded: Any, args: tuple[str, ...], expected: list[tuple[str, ...]]) -> None:
    _, env, ids = seeded
    table = rows(cli(env, "get", "flows", *args))
    assert pick(table, *GET_FLOWS) == expected
    by_version = {"1": ids["etl_v1"], "2": ids["etl_v2"]}
    for row in table:
        assert row["ID"] == (by_version[row["VERSION"]] if row["NAME"] == "etl" else ids["report"])
        assert row["AGE"].endswith("ago")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), [("alpha", "1", "first project"), ("beta", "1", "second project")]),
        (("--name", "beta"), [("beta", "1", "second project")]),
    ],
)
def test_get_projects(seeded: Any, args: tuple[str, ...], expected: list[tuple[str, ...]]) -> None:
    _, env, _ = seeded
    # FLOW COUNT counts flows by name: etl's two versions are one flow
    assert pick(rows(cli(env, "get", "projects", *args)), "NAME", "FLOW COUNT", "DESCRIPTION") == expected


GET_RUNS_CASES = [
    (
        (),
        [
            ("report-running", "report", "Running"),
            ("etl-scheduled", "etl", "Scheduled"),
            ("etl-failed", "etl", "Failed"),
            ("etl-success", "etl", "Success"),
        ],
    ),
    (("--limit", "2"), [("report-running", "report", "Running"), ("etl-scheduled", "etl", "Scheduled")]),
    (("--flow", "report"), [("report-running", "report", "Running")]),
    (
        ("--project", "alpha"),
        [
            ("etl-scheduled", "etl", "Scheduled"),
            ("etl-failed", "etl", "Failed"),
            ("etl-success", "etl", "Success"),
        ],
    ),
    (
        ("--started",),
        [
            ("report-running", "report", "Running"),
            ("etl-failed", "etl", "Failed"),
            ("etl-success", "etl", "Success"),
        ],
    ),
    (("-s", "-f", "etl", "-p", "alpha", "-l", "1"), [("etl-failed", "etl", "Failed")]),
]


@pytest.mark.parametrize(
    ("args", "expected"), GET_RUNS_CASES, ids=[" ".join(a) or "-" for a, _ in GET_RUNS_CASES]
)
def test_get_flow_runs(seeded: Any, args: tuple[str, ...], expected: list[tuple[str, ...]]) -> None:
    _, env, ids = seeded
    table = rows(cli(env, "get", "flow-runs", *args))
    assert pick(table, "NAME", "FLOW NAME", "STATE") == expected
    for row in table:
        assert row["ID"] == ids[row["NAME"]]
        assert bool(row["START TIME"]) == (row["STATE"] != "Scheduled")


GET_TASKS_CASES = [
    (
        (),
        [
            ("summarize", "report", "1"),
            ("extract", "etl", "2"),
            ("load", "etl", "2"),
            ("transform", "etl", "2"),
            ("extract", "etl", "1"),
            ("load", "etl", "1"),
        ],
    ),
    (("--flow-name", "etl", "--flow-version", "1"), [("extract", "etl", "1"), ("load", "etl", "1")]),
    (("--name", "load"), [("load", "etl", "2"), ("load", "etl", "1")]),
    (("--project", "beta"), [("summarize", "report", "1")]),
    (("-n", "summarize", "-fn", "report", "-fv", "1", "-p", "beta"), [("summarize", "report", "1")]),
    (("--limit", "2"), [("summarize", "report", "1"), ("extract", "etl", "2")]),
]


@pytest.mark.parametrize(
    ("args", "expected"), GET_TASKS_CASES, ids=[" ".join(a) or "-" for a, _ in GET_TASKS_CASES]
)
def test_get_tasks(seeded: Any, args: tuple[str, ...], expected: list[tuple[str, ...]]) -> None:
    _, env, _ = seeded
    table = rows(cli(env, "get", "tasks", *args))
    # newest first; tasks registered together share a creation time and keep their order
    assert pick(table, "NAME", "FLOW NAME", "FLOW VERSION") == expected
    assert all(row["MAPPED"] == "False" and row["TYPE"] == TASK_TYPE for row in table)


def test_get_logs(seeded: Any) -> None:
    _, env, ids = seeded
    expected = [
        ("2026-01-01T10:00:00.000000+00:00", "INFO", "extracting rows"),
        ("2026-01-01T10:00:01.000000+00:00", "WARNING", "one row skipped"),
    ]
    assert (
        pick(rows(cli(env, "get", "logs", "--name", "etl-success")), "TIMESTAMP", "LEVEL", "MESSAGE")
        == expected
    )
    assert (
        pick(rows(cli(env, "get", "logs", "--id", ids["etl-success"])), "TIMESTAMP", "LEVEL", "MESSAGE")
        == expected
    )
    info = cli(env, "get", "logs", "-n", "etl-success", "--info").splitlines()
    assert info == ["{'rows': 3}", "{'skipped': 1}"]
    assert rows(cli(env, "get", "logs", "--name", "etl-failed") + "\n") == []  # a header, no rows
    assert cli(env, "get", "logs", "--name", "nope").strip() == "nope not found"


def test_describe_flows(seeded: Any) -> None:
    _, env, _ = seeded
    newest = json.loads(cli(env, "describe", "flows", "--name", "etl"))
    assert newest["version"] == 2 and newest["project"] == {"name": "alpha"} and newest["archived"] is False
    assert newest["storage"]["type"] == "Local" and newest["storage"]["path"] == "/srv/flows/etl.py"
    assert newest["parameters"] == [] and newest["description"] is None and newest["created"]
    first = from_yaml(
        cli(env, "describe", "flows", "-n", "etl", "--version", "1", "--project", "alpha", "-o", "yaml")
    )
    assert (first["version"], first["archived"], first["project"]) == (1, True, {"name": "alpha"})
    assert (
        json.loads(cli(env, "describe", "flows", "-n", "report", "-p", "beta", "-o", "json"))["version"] == 1
    )
    assert cli(env, "describe", "flows", "--name", "etl", "--project", "beta").strip() == "etl not found"


def test_describe_tasks(seeded: Any) -> None:
    _, env, _ = seeded
    newest = json.loads(cli(env, "describe", "tasks", "--name", "etl"))
    assert sorted(t["name"] for t in newest) == ["extract", "load", "transform"]
    assert {t["slug"] for t in newest} == {"extract-1", "load-1", "transform-1"}
    assert all(t["type"] == TASK_TYPE and t["max_retries"] == 0 and t["mapped"] is False for t in newest)
    assert all(
        set(t) == {"name", "created", "slug", "description", "type", "max_retries", "retry_delay", "mapped"}
        for t in newest
    )
    first = from_yaml(cli(env, "describe", "tasks", "-n", "etl", "-v", "1", "-p", "alpha", "-o", "yaml"))
    assert sorted(t["name"] for t in first) == ["extract", "load"]
    assert cli(env, "describe", "tasks", "--name", "nope").strip() == "nope not found"


def test_describe_flow_runs(seeded: Any) -> None:
    _, env, _ = seeded
    success = json.loads(cli(env, "describe", "flow-runs", "--name", "etl-success", "--flow-name", "etl"))
    assert success["flow"] == {"name": "etl"} and success["auto_scheduled"] is False
    assert success["serialized_state"]["type"] == "Success"
    assert success["serialized_state"]["message"] == "All done."
    assert success["start_time"] and success["end_time"] and success["scheduled_start_time"]
    assert success["parameters"] == {}
    scheduled = from_yaml(cli(env, "describe", "flow-runs", "-n", "etl-scheduled", "-o", "yaml"))
    assert scheduled["serialized_state"]["type"] == "Scheduled" and scheduled["start_time"] is None
    mismatch = cli(env, "describe", "flow-runs", "-n", "etl-success", "-fn", "report")
    assert mismatch.strip() == "etl-success not found"


SHORT = {
    "-n": "--name",
    "-v": "--version",
    "-p": "--project",
    "-l": "--limit",
    "-f": "--flow",
    "-s": "--started",
}
SHORT |= {"-fn": "--flow-name", "-fv": "--flow-version", "-o": "--output", "-i": "--info"}


def _long(args: set[str]) -> set[str]:
    return {SHORT.get(arg, arg) for arg in args if arg.startswith("-")}


# The 1.4.1 CLI's read commands and their options, and where the tests above use each.
COVERED = {
    "get": {
        "flows": _long({arg for args, _ in GET_FLOWS_CASES for arg in args}),
        "projects": {"--name"},  # test_get_projects
        "flow-runs": _long({arg for args, _ in GET_RUNS_CASES for arg in args}),
        "tasks": _long({arg for args, _ in GET_TASKS_CASES for arg in args}),
        "logs": {"--name", "--id", "--info"},  # test_get_logs
    },
    "describe": {  # test_describe_*
        "flows": {"--name", "--version", "--project", "--output"},
        "tasks": {"--name", "--version", "--project", "--output"},
        "flow-runs": {"--name", "--flow-name", "--output"},
    },
}


def test_every_get_and_describe_command_and_option_is_covered(seeded: Any) -> None:
    _, env, _ = seeded
    commands = json.loads(run_python(LIST_COMMANDS, env).strip().splitlines()[-1])
    offered = {
        group: {name: set(options) for name, options in members.items()}
        for group, members in commands.items()
    }
    assert offered == COVERED
