"""Which process a claim or a container belongs to, and when another's is taken over."""

from __future__ import annotations

import pytest

from dockyard.domain.agent import labels as L
from dockyard.domain.agent.model import RunStatus
from dockyard.domain.agent.ownership import (
    Owner,
    Standing,
    Takeover,
    awaits_its_owner,
    claim_standing,
    container_standing,
)
from dockyard.domain.agent.runtime_state import ContainerState

ME = Owner("agent", "daemon-1", instance="me", lease="this-host")


@pytest.mark.parametrize(
    ("instance", "lease", "expected"),
    [
        ("me", "this-host", Standing.MINE),
        ("before-me", "this-host", Standing.INHERITED),
        ("other", "other-host", Standing.FOREIGN),
        (None, None, Standing.FOREIGN),  # stamped by a dockyard without instance ids
    ],
)
def test_a_containers_standing_follows_its_instance_and_lease(
    instance: str | None, lease: str | None, expected: Standing
) -> None:
    labels = {key: value for key, value in ((L.INSTANCE, instance), (L.LEASE, lease)) if value}
    assert container_standing(labels, ME) is expected


def test_a_claim_names_the_process_that_wrote_it() -> None:
    assert claim_standing(ME.claim_context(), ME) is Standing.MINE
    restarted = Owner("agent", "daemon-1", instance="after-me", lease="this-host")
    assert claim_standing(ME.claim_context(), restarted) is Standing.INHERITED
    elsewhere = Owner("agent", "daemon-1", instance="there", lease="other-host")
    assert claim_standing(ME.claim_context(), elsewhere) is Standing.FOREIGN
    assert claim_standing({**ME.claim_context(), "agent": "other"}, ME) is None
    assert claim_standing({**ME.claim_context(), "daemon": "daemon-2"}, ME) is None


def container(status: str) -> ContainerState:
    return ContainerState(id="c1", name="c1", status=status, exit_code=0 if status == "exited" else None)


@pytest.mark.parametrize(
    ("status", "run_state", "known", "waiting"),
    [
        ("exited", None, False, True),
        ("created", None, False, True),
        ("running", "Cancelling", True, True),
        ("running", "Cancelled", True, True),
        ("running", "Running", True, False),
        ("running", None, False, None),  # not asked this pass: cannot tell
    ],
)
def test_what_a_container_waits_for_its_owner_to_do(
    status: str, run_state: str | None, known: bool, waiting: bool | None
) -> None:
    run = RunStatus("r1", run_state, 3) if run_state else None
    assert awaits_its_owner(container(status), run, known) is waiting


def test_a_container_is_taken_over_once_it_has_waited_the_grace_without_a_break() -> None:
    takeover = Takeover(grace=100.0)
    takeover.observe("c1", True, now=0.0)
    takeover.observe("c1", None, now=50.0)  # unknown this time: the wait goes on
    assert not takeover.take_if_due("c1", now=99.0)
    takeover.observe("c1", False, now=99.5)  # its owner acted: the wait starts again
    takeover.observe("c1", True, now=100.0)
    assert not takeover.take_if_due("c1", now=150.0)
    assert takeover.take_if_due("c1", now=200.0) and takeover.taken("c1")
    takeover.forget_all_but(set())
    assert not takeover.taken("c1")
