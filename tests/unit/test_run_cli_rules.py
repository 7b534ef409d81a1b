"""The `dockyard run` commands' rules, without a server: what they accept on the command line,
which registered flow a name means, the verdict of `run wait`, and how times print."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click
import pytest

from dockyard.adapters.run_client import refused_variable
from dockyard.entrypoints.cli_run_follow import EXIT_TIMED_OUT, RunsNotSuccessful, WaitTimedOut, WaitVerdict
from dockyard.entrypoints.registered_flows import (
    AmbiguousFlow,
    NoSuchFlow,
    ParametersRefused,
    check_parameters,
    choose_flow,
)
from dockyard.entrypoints.run_display import NO_AGENT, Coverage, format_time
from dockyard.entrypoints.run_inputs import (
    STATE_NAMES,
    docker_run_config,
    parse_command,
    parse_env,
    parse_params,
    run_id,
    state_name,
)

# -- the command line -----------------------------------------------------------------------


def test_commands_are_a_shell_line_or_an_exact_argv() -> None:
    assert parse_command("echo hi && exit 3") == "echo hi && exit 3"
    assert parse_command('["echo", "a b"]') == ["echo", "a b"]
    assert parse_command("[]") == []  # the image's own command
    assert parse_command("42") == "42" and parse_command('"quoted"') == '"quoted"'


@pytest.mark.parametrize("command", ["[oops", '["echo", "hi"', "[ -f /x ] && cat /x", ' ["a",]'])
def test_a_command_starting_with_a_bracket_must_be_a_json_list(command: str) -> None:
    with pytest.raises(ValueError, match="starts with '\\[' but is not a JSON list"):
        parse_command(command)


@pytest.mark.parametrize("command", ["[1, 2]", '["echo", 3]', "[null]"])
def test_a_json_argv_holds_only_strings(command: str) -> None:
    with pytest.raises(ValueError, match="a JSON argv must be a list of strings"):
        parse_command(command)


def test_parameters_are_json_when_they_parse_and_text_otherwise() -> None:
    assert parse_params(["n=3", "ratio=0.5", "on=true", "xs=[1, 2]", 'obj={"a": 1}', "none=null"]) == {
        "n": 3,
        "ratio": 0.5,
        "on": True,
        "xs": [1, 2],
        "obj": {"a": 1},
        "none": None,
    }
    assert parse_params(["who=world", 'quoted="3"', "empty=", "eq=a=b", "n=3", "n=4"]) == {
        "who": "world",
        "quoted": "3",
        "empty": "",
        "eq": "a=b",
        "n": 4,  # the last one given wins
    }
    for bad in ("noequals", "=value", " =x"):
        with pytest.raises(ValueError, match="is not NAME=VALUE"):
            parse_params([bad])


def test_state_names_are_read_in_any_case_and_unknown_ones_list_the_valid_ones() -> None:
    assert state_name("failed") == "Failed" and state_name("SCHEDULED") == "Scheduled"
    assert state_name(" timedOut ") == "TimedOut"
    with pytest.raises(ValueError) as refused:
        state_name("Fialed")
    assert str(refused.value).startswith("'Fialed' is not a run state; the states are Cached, Cancelled,")
    assert all(name in str(refused.value) for name in STATE_NAMES)
    assert "State" not in STATE_NAMES  # the base class, which no run is ever in


def test_run_ids_are_uuids() -> None:
    assert run_id("0B4A3C9E-54B5-4DA0-9B3C-2D5E6F708192") == "0b4a3c9e-54b5-4da0-9b3c-2d5e6f708192"
    with pytest.raises(click.BadParameter, match="not a valid run id: 'not-a-uuid'"):
        run_id("not-a-uuid")


def test_run_configs_merge_extra_keys_under_the_explicit_options() -> None:
    config = docker_run_config(
        image="img:1",
        command=None,
        env=["A=1"],
        labels=["z", "a", "z"],
        timeout=None,
        extra='{"image": "other", "env": {"B": "2", "A": "0"}, "ports": [8080]}',
    )
    assert config == {
        "type": "DockerRun",
        "image": "img:1",
        "labels": ["a", "z"],
        "env": {"A": "1", "B": "2"},
        "ports": [8080],
        "command": [],  # no --command: the image's own
        "__version__": "1.4.1",
    }
    assert (
        docker_run_config(image="i", command=None, env=[], labels=[], timeout=5.0, extra=None)["env"] is None
    )
    assert parse_env(["A=b=c", "E="]) == {"A": "b=c", "E": ""}


@pytest.mark.parametrize(
    ("options", "hint", "words"),
    [
        ({"extra": "[1]"}, "--run-config", "must be a JSON object"),
        ({"extra": "{nope"}, "--run-config", "not valid JSON"),
        (
            {"extra": '{"imagee": "x", "cpu": 1}'},
            "--run-config",
            "DockerRun has unsupported keys: cpu, imagee; its keys are",
        ),
        ({"extra": '{"env": ["A=1"]}'}, "--run-config", "`env` must be an object"),
        ({"extra": '{"ports": [0]}'}, "--run-config", "not a container port"),
        ({"extra": '{"host_config": "privileged"}'}, "--run-config", "`host_config`"),
        ({"image": "Busybox:1"}, "--image", "repository name must be lowercase"),
        ({"image": "busybox:bad tag"}, "--image", "invalid image reference"),
        ({"image": "busybox@sha256:123"}, "--image", "invalid digest"),
        ({"command": "[echo hi]"}, "--command", "not a JSON list"),
        ({"env": ["NOEQUALS"]}, "--env", "KEY=VALUE"),
        ({"env": ["A=\x00"]}, "--run-config", "NUL"),
    ],
)
def test_container_run_options_are_refused_naming_the_option(
    options: dict[str, Any], hint: str, words: str
) -> None:
    given: dict[str, Any] = {"image": "busybox:1", "command": None, "env": [], "labels": [], "timeout": None}
    given["extra"] = None
    given.update(options)
    with pytest.raises(click.BadParameter) as refused:
        docker_run_config(**given)
    assert refused.value.param_hint == hint
    assert words in refused.value.message


# -- registered flows -------------------------------------------------------------------------


def flow(version: int, project: str = "reports", *, archived: bool = False, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"{project}-v{version}",
        "name": "etl",
        "version": version,
        "archived": archived,
        "project": {"name": project},
        **fields,
    }


def test_a_flow_name_means_its_newest_version_not_archived() -> None:
    flows = [flow(3, archived=True), flow(2), flow(1)]
    assert choose_flow(flows, "etl", project=None, version=None)["id"] == "reports-v2"
    assert choose_flow(flows, "etl", project="reports", version=1)["id"] == "reports-v1"


def test_a_flow_name_in_several_projects_needs_a_project() -> None:
    flows = [flow(1, "reports"), flow(4, "adhoc")]
    with pytest.raises(AmbiguousFlow) as refused:
        choose_flow(flows, "etl", project=None, version=None)
    assert str(refused.value) == (
        "a flow named 'etl' is in several projects: adhoc, reports; choose one with --project"
    )
    assert choose_flow(flows, "etl", project="adhoc", version=None)["id"] == "adhoc-v4"


@pytest.mark.parametrize(
    ("flows", "project", "version", "message"),
    [
        ([], None, None, "no flow named 'etl'"),
        ([flow(1)], "other", None, "no flow named 'etl' in project 'other' (it is in project reports)"),
        ([flow(1), flow(2)], None, 5, "flow 'etl' has no version 5 (its versions: 1, 2)"),
        ([flow(1, archived=True), flow(2)], None, 1, "version 1 of flow 'etl' is archived"),
        ([flow(1, archived=True)], None, None, "every version of flow 'etl' is archived"),
    ],
)
def test_flows_that_are_not_there_are_named(
    flows: list[dict[str, Any]], project: str | None, version: int | None, message: str
) -> None:
    with pytest.raises(NoSuchFlow) as refused:
        choose_flow(flows, "etl", project=project, version=version)
    assert str(refused.value) == message


PARAMETERS = [
    {"name": "day", "required": True, "default": None},
    {"name": "n", "required": False, "default": 3},
]


def test_parameters_must_be_the_flows_own() -> None:
    check_parameters(flow(1, parameters=PARAMETERS), {"day": "2024-05-01", "n": 4})
    with pytest.raises(ParametersRefused) as refused:
        check_parameters(flow(1, parameters=PARAMETERS), {"day": "x", "dya": "y", "m": 1})
    assert str(refused.value) == "flow 'etl' has no parameter dya, m; its parameters are day (required), n"
    with pytest.raises(ParametersRefused) as none:
        check_parameters(flow(1, parameters=[]), {"x": 1})
    assert str(none.value) == "flow 'etl' has no parameter x; it has no parameters"


def test_required_parameters_need_a_value_given_or_from_the_flow_group() -> None:
    with pytest.raises(ParametersRefused) as refused:
        check_parameters(flow(1, parameters=PARAMETERS), {"n": 1})
    assert str(refused.value) == (
        "flow 'etl' needs a value for its required parameter day: --param day=VALUE"
    )
    grouped = flow(1, parameters=PARAMETERS, flow_group={"default_parameters": {"day": "2024-01-01"}})
    check_parameters(grouped, {})


# -- run wait's verdict -----------------------------------------------------------------------


def run(state: str, run_id: str = "r", message: str | None = None) -> dict[str, Any]:
    return {"id": run_id, "name": f"name-{run_id}", "state": state, "state_message": message}


def test_every_run_successful_is_no_error() -> None:
    verdict = WaitVerdict.of([run("Success", "a"), run("Skipped", "b")])
    assert verdict.done and verdict.error(None) is None


def test_a_run_that_ended_otherwise_is_exit_1_naming_it() -> None:
    verdict = WaitVerdict.of([run("Success", "a"), run("Failed", "b", "exit code 3"), run("Cancelled", "c")])
    error = verdict.error(None)
    assert isinstance(error, RunsNotSuccessful) and error.exit_code == 1
    assert error.message == (
        "2 of 3 runs did not succeed: b (name-b) Failed: exit code 3; c (name-c) Cancelled"
    )


def test_time_running_out_is_exit_3_naming_the_unfinished_runs() -> None:
    verdict = WaitVerdict.of([run("Success", "a"), run("Running", "b"), run("Scheduled", "c")])
    assert not verdict.done
    error = verdict.error(30)
    assert isinstance(error, WaitTimedOut) and error.exit_code == EXIT_TIMED_OUT == 3
    assert (
        error.message
        == "timed out after 30 s with 2 of 3 runs unfinished: b (name-b) Running; c (name-c) Scheduled"
    )


def test_a_failure_known_before_time_ran_out_still_exits_1() -> None:
    error = WaitVerdict.of([run("Failed", "a"), run("Running", "b")]).error(5)
    assert isinstance(error, RunsNotSuccessful) and error.exit_code == 1
    assert "1 of 2 runs did not succeed: a (name-a) Failed" in error.message
    assert "timed out after 5 s with 1 of 2 runs unfinished: b (name-b) Running" in error.message


# -- times, agents and the API's words --------------------------------------------------------


def test_every_time_prints_with_its_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    assert format_time("2024-05-01T12:00:03.123456+00:00") == "2024-05-01 12:00:03 UTC"
    assert format_time("2024-05-01T14:00:03+02:00") == "2024-05-01 12:00:03 UTC"
    assert format_time("2024-05-01T12:00:03Z") == "2024-05-01 12:00:03 UTC"
    assert format_time("2024-05-01T12:00:03") == "2024-05-01 12:00:03 UTC"  # no offset: UTC
    assert format_time(None) == "-" and format_time("soon") == "soon"
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert format_time("2024-05-01T12:00:03+00:00", local=True) == "2024-05-01 17:30:03 +05:30"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def agent(labels: list[str], seconds_ago: float | None) -> dict[str, Any]:
    seen = None if seconds_ago is None else (NOW - timedelta(seconds=seconds_ago)).isoformat()
    return {"name": "a", "labels": labels, "last_queried": seen}


def test_waiting_runs_no_live_agent_would_take_are_marked() -> None:
    waiting = {"state": "Scheduled", "labels": ["gpu", "prod"]}
    assert Coverage([], NOW).agent_cell(waiting) == NO_AGENT
    assert Coverage([agent(["prod"], 1)], NOW).agent_cell(waiting) == NO_AGENT  # not all its labels
    assert Coverage([agent(["gpu", "prod", "x"], 300)], NOW).agent_cell(waiting) == NO_AGENT  # gone quiet
    assert Coverage([agent(["gpu", "prod", "x"], 100)], NOW).agent_cell(waiting) == "-"
    taken = {"state": "Running", "labels": ["gpu"], "agent": {"name": "builder"}, "agent_id": "id-1"}
    assert Coverage([], NOW).agent_cell(taken) == "builder"  # taken runs need no agent now
    assert Coverage([], NOW).explain(taken) == "builder (id-1)"
    assert Coverage([], NOW).explain(waiting) == (
        "NO AGENT: no agent seen in the last 120 s serves this run's labels (gpu, prod)"
    )


def test_graphql_variable_errors_are_put_in_a_users_words() -> None:
    text = (
        "Variable '$input' has invalid value at .flow_run_id: Expected value of type 'UUID', "
        "but encountered error 'Invalid UUID: 'x''; found: 'x'."
    )
    assert refused_variable(text) == "the API does not take 'x' as flow_run_id: not a valid UUID"
    assert refused_variable("Flow run 1 not found.") is None
