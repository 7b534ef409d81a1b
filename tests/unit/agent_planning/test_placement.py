"""Swarm placement as operators and runs write it."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.agent.placement import (
    RunPlacement,
    parse_constraint,
    parse_preference,
    parse_run_placement,
)
from dockyard.domain.errors import RunRefused


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("node.labels.role==flows", "node.labels.role==flows"),
        ("  node.labels.role == flows ", "node.labels.role==flows"),
        ("node.hostname!=build-1", "node.hostname!=build-1"),
        ("engine.labels.os==linux debian", "engine.labels.os==linux debian"),
    ],
)
def test_constraints_read_as_swarm_takes_them(text: str, read: str) -> None:
    assert parse_constraint(text) == read


@pytest.mark.parametrize(
    "text", ["node.labels.role", "==flows", "node.role=manager", "a==b==c", "node.role==", ""]
)
def test_what_is_no_constraint_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a placement constraint"):
        parse_constraint(text)


def test_preferences_are_spread_over_an_attribute() -> None:
    assert parse_preference("spread = node.labels.zone") == "spread=node.labels.zone"
    for text in ("binpack=node.id", "spread=", "node.labels.zone"):
        with pytest.raises(ValueError, match="is not a placement preference"):
            parse_preference(text)


def test_a_runs_placement_reads_lists_and_the_spread_object_form() -> None:
    raw = {
        "constraints": ["node.labels.zone == eu"],
        "preferences": ["spread=node.labels.rack", {"spread": "x"}],
    }
    assert parse_run_placement(raw) == RunPlacement(
        ("node.labels.zone==eu",), ("spread=node.labels.rack", "spread=x")
    )
    assert parse_run_placement(None) is None
    assert parse_run_placement({}) == RunPlacement()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("node.role==manager", "must be an object"),
        ({"nodes": ["a"]}, "must be an object"),
        ({"constraints": "node.role==manager"}, "`placement.constraints` must be a list"),
        (
            {"constraints": ["node.role"]},
            "`placement.constraints`: 'node.role' is not a placement constraint",
        ),
        ({"preferences": [{"binpack": "x"}]}, "`placement.preferences`: .* is not a placement preference"),
    ],
)
def test_a_runs_unreadable_placement_refuses_the_run(raw: Any, message: str) -> None:
    with pytest.raises(RunRefused, match=message):
        parse_run_placement(raw)
