"""Run configs: DockerRun, UniversalRun, none, and what is refused."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent.run_config import (
    DOCKER_RUN_KEYS,
    DOCKER_RUN_SETTINGS,
    DockerRunConfig,
    check_docker_run,
    parse_run_config,
)
from dockyard.domain.errors import RunRefused


def docker_run(**fields: Any) -> dict[str, Any]:
    return {"type": "DockerRun", "__version__": "1.4.1", **fields}


def test_no_run_config_is_an_empty_docker_run() -> None:
    assert parse_run_config("fr", None) == DockerRunConfig()


def test_docker_run_as_prefect_serialises_it() -> None:
    parsed = parse_run_config(
        "fr",
        docker_run(
            image="python:3.11",
            env={"A": "1", "N": 2, "B": True},
            labels=["dev"],
            ports=[8080, "9090/udp", [53, "udp"], 8080],
            host_config={"mem_limit": "1g"},
        ),
    )
    assert parsed.image == "python:3.11"
    assert parsed.env == {"A": "1", "N": "2", "B": "True"}
    assert parsed.labels == ("dev",)
    assert parsed.ports == ("8080/tcp", "9090/udp", "53/udp")
    assert parsed.host_config == {"mem_limit": "1g"}
    assert parsed.command is None and parsed.timeout is None


def test_nulls_mean_unset() -> None:
    parsed = parse_run_config(
        "fr", docker_run(image=None, env=None, labels=None, ports=None, host_config=None)
    )
    assert parsed == DockerRunConfig()


def test_universal_run_keeps_env_and_labels() -> None:
    parsed = parse_run_config("fr", {"type": "UniversalRun", "env": {"A": "x"}, "labels": ["l"]})
    assert parsed == DockerRunConfig(env={"A": "x"}, labels=("l",))


def test_other_run_config_types_are_refused_with_prefects_message() -> None:
    with pytest.raises(RunRefused) as refused:
        parse_run_config("fr-1", {"type": "LocalRun", "working_dir": "/x"})
    assert (
        str(refused.value)
        == "Flow run fr-1 has a `run_config` of type `LocalRun`, only `DockerRun` is supported"
    )


def test_command_string_runs_under_a_shell_and_a_list_is_the_argv() -> None:
    assert parse_run_config("fr", docker_run(command="echo $HOME")).command == ("/bin/sh", "-c", "echo $HOME")
    assert parse_run_config("fr", docker_run(command=["python", "-m", "x"])).command == ("python", "-m", "x")


def test_timeout_in_seconds() -> None:
    assert parse_run_config("fr", docker_run(timeout=90)).timeout == 90.0
    assert parse_run_config("fr", docker_run(timeout=0.5)).timeout == 0.5


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cpu": 1}, "unsupported keys: `cpu`"),
        ({"image": 3}, "`image`"),
        ({"image": " "}, "`image`"),
        ({"env": ["A=1"]}, "`env`"),
        ({"env": {"A": None}}, "env value of `A`"),
        ({"env": {"A": {"x": 1}}}, "env value of `A`"),
        ({"env": {"A=B": "x"}}, "env key"),
        ({"env": {"": "x"}}, "env key"),
        ({"labels": "dev"}, "`labels`"),
        ({"ports": [0]}, "container port"),
        ({"ports": [70000]}, "container port"),
        ({"ports": ["80/icmp"]}, "container port"),
        ({"ports": 80}, "`ports`"),
        ({"host_config": ["privileged"]}, "`host_config`"),
        ({"command": ""}, "`command`"),
        ({"command": [1]}, "`command`"),
        ({"command": ["a", 1]}, "`command`"),
        ({"timeout": 0}, "`timeout`"),
        ({"timeout": -5}, "`timeout`"),
        ({"timeout": True}, "`timeout`"),
        ({"timeout": "60"}, "`timeout`"),
        ({"timeout": float("inf")}, "`timeout`"),
    ],
)
def test_wrong_types_and_unknown_keys_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(RunRefused, match=message):
        parse_run_config("fr", docker_run(**fields))


def test_universal_run_with_docker_keys_is_refused() -> None:
    with pytest.raises(RunRefused, match="`image`"):
        parse_run_config("fr", {"type": "UniversalRun", "image": "x"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(
        st.sampled_from(["image", "env", "labels", "ports", "host_config", "command", "timeout", "other"]),
        json_values,
        max_size=4,
    )
)
def test_any_docker_run_parses_or_is_refused(fields: dict[str, Any]) -> None:
    # Only the documented refusal, never a crash.
    with contextlib.suppress(RunRefused):
        parse_run_config("fr", docker_run(**fields))


def test_a_new_runs_docker_run_is_checked_by_the_agents_rules_and_its_image() -> None:
    assert check_docker_run(docker_run(image="localhost:5000/app:1", command="echo hi", timeout=5)) == (
        parse_run_config("fr", docker_run(image="localhost:5000/app:1", command="echo hi", timeout=5))
    )
    with pytest.raises(RunRefused) as unknown:
        check_docker_run(docker_run(image="x", privileged=True, cpu=1))
    assert str(unknown.value) == (
        "DockerRun has unsupported keys: `cpu`, `privileged`; its keys are command, env, host_config, "
        "image, labels, placement, ports, timeout"
    )
    assert set(DOCKER_RUN_SETTINGS) | {"type", "__version__"} == DOCKER_RUN_KEYS
    with pytest.raises(RunRefused, match="run_config `image`: invalid image reference 'App:1'"):
        check_docker_run(docker_run(image="App:1"))
    with pytest.raises(RunRefused, match="`timeout`"):
        check_docker_run(docker_run(timeout=0))
