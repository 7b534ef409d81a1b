"""Container names, labels and the command a container runs."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.domain.agent import labels
from dockyard.domain.agent.command import flow_run_command
from dockyard.domain.agent.naming import DOCKER_NAME, container_name, name_candidates

RUN_ID = "9b5a4e6e-1c0f-4d2b-8f3e-1d2c3b4a5f60"


@pytest.mark.parametrize(
    ("run_name", "expected"),
    [
        # Prefect 1.4.1's verified slug table.
        ("_flow_run", "flow_run"),
        ("...flow_run", "flow_run"),
        ("._-flow_run", "flow_run"),
        ("9flow-run", "9flow-run"),
        ("-flow.run", "flow.run"),
        ("flow*run", "flow-run"),
        ("flow9.-foo_bar^x", "flow9.-foo_bar-x"),
        ("", RUN_ID),
        ("_._-_", RUN_ID),
        ("Flow Run Ünïcödé", "Flow-Run-Unicode"),
        ("hello world!!", "hello-world"),
        ("日本語", "Ri-Ben-Yu"),
        ("x--y", "x-y"),
        ("trailing-", "trailing"),
        ("a" * 300, "a" * 250),
    ],
)
def test_slug_table(run_name: str, expected: str) -> None:
    assert container_name(run_name, RUN_ID) == expected


def test_one_character_slugs_get_the_run_id_so_docker_accepts_them() -> None:
    assert container_name("a", RUN_ID) == f"a-{RUN_ID}"
    assert container_name("é", "x") == "e-x"
    assert container_name("!", "x") == "flow-run-x"
    assert container_name("", "") == "flow-run"
    assert container_name("a", "") == "a-run"


@given(st.text(max_size=300), st.text(max_size=40))
def test_every_name_is_a_valid_docker_name(run_name: str, run_id: str) -> None:
    name = container_name(run_name, run_id)
    assert DOCKER_NAME.fullmatch(name)
    assert len(name) <= 250
    assert all(DOCKER_NAME.fullmatch(candidate) for candidate in itertools.islice(name_candidates(name), 5))


def test_candidates_are_bounded_and_suffixed() -> None:
    assert list(name_candidates("brave-otter", 4)) == [
        "brave-otter",
        "brave-otter-1",
        "brave-otter-2",
        "brave-otter-3",
    ]
    assert len(list(name_candidates("x"))) == 100
    # With k existing names the k+1-th candidate is the one that is free.
    taken = {"n", "n-1", "n-2", "n-3", "n-4", "n-5"}
    assert next(c for c in name_candidates("n") if c not in taken) == "n-6"


def test_labels_carry_identity_never_credentials() -> None:
    result = labels.container_labels(
        flow_name="my-flow",
        flow_id="flow-1",
        flow_run_id="fr-1",
        flow_run_name="brave-otter",
        agent_name="agent",
        agent_id="a-1",
        daemon_id="d-1",
        timeout=90.0,
        ship_logs=True,
    )
    assert result == {
        "io.prefect.flow-name": "my-flow",
        "io.prefect.flow-id": "flow-1",
        "io.prefect.flow-run-id": "fr-1",
        "org.dockyard.managed": "true",
        "org.dockyard.agent": "agent",
        "org.dockyard.agent-id": "a-1",
        "org.dockyard.daemon-id": "d-1",
        "org.dockyard.flow-run-name": "brave-otter",
        "org.dockyard.timeout": "90",
        "org.dockyard.ship-logs": "true",
    }


def test_timeout_label_reads_back_as_seconds() -> None:
    assert labels.format_seconds(2.5) == "2.5"
    assert float(labels.format_seconds(0.1)) == 0.1
    assert labels.format_seconds(30) == "30"


@pytest.mark.parametrize(
    ("core_version", "command"),
    [
        ("0.10.0", ("prefect", "execute", "cloud-flow")),
        ("0.6.0+134", ("prefect", "execute", "cloud-flow")),
        ("0.13.0", ("prefect", "execute", "flow-run")),
        ("0.13.1+134", ("prefect", "execute", "flow-run")),
        ("1.4.1+0.gabc", ("prefect", "execute", "flow-run")),
        (None, ("prefect", "execute", "flow-run")),
        ("", ("prefect", "execute", "flow-run")),
        ("garbage", ("prefect", "execute", "flow-run")),
    ],
)
def test_command_by_core_version(core_version: str | None, command: tuple[str, ...]) -> None:
    assert flow_run_command(core_version) == command


def test_run_config_command_wins() -> None:
    assert flow_run_command("0.10.0", ("python", "x.py")) == ("python", "x.py")
