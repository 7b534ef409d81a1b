"""Claiming runs: together when they are due, one by one otherwise, never twice."""

from __future__ import annotations

import threading
import time
from typing import Any

from dockyard.domain.agent.model import StateUpdate
from support.agent_harness import Harness, wait_for
from support.fakes import FakeRuntime


def submitted_writes(h: Harness) -> list[list[str]]:
    """Every request that wrote Submitted states, as the run ids it carried."""
    calls: list[list[str]] = []
    one = h.backend.set_flow_run_state
    in_batch = threading.local()

    def single(run_id: str, version: int | None, state: Any) -> None:
        if state["type"] == "Submitted" and not getattr(in_batch, "on", False):
            calls.append([run_id])
        one(run_id, version, state)

    def batch(updates: list[StateUpdate]) -> None:
        if any(u.state["type"] == "Submitted" for u in updates):
            calls.append([u.run_id for u in updates])
        in_batch.on = True
        try:
            for u in updates:  # the fake's own batch, through the counting single write
                single(u.run_id, u.version, u.state)
        finally:
            in_batch.on = False

    h.backend.set_flow_run_state = single  # type: ignore[method-assign]
    h.backend.set_flow_run_states = batch  # type: ignore[method-assign]
    return calls


def test_runs_found_together_are_claimed_in_one_request() -> None:
    h = Harness()
    runs = [h.backend.add_run(name=f"run-{i}") for i in range(5)]
    calls = submitted_writes(h)
    with h.running():
        for run_id in runs:
            h.container_of(run_id)
    assert sorted(calls[0]) == sorted(runs) and len(calls) == 1
    assert all(h.backend.states_of(r).count("Submitted") == 1 for r in runs)


def test_a_half_applied_batch_is_finished_one_by_one_and_another_agents_run_is_left() -> None:
    h = Harness()
    runs = [h.backend.add_run(name=f"run-{i}") for i in range(4)]
    theirs = runs[2]
    many = h.backend.set_flow_run_states

    def other_agent_first(updates: list[StateUpdate]) -> None:
        # Another agent claims one run just before our batch; the backend writes states one
        # by one, so the batch fails half-way through (Prefect Server does this).
        if any(u.state["type"] == "Submitted" for u in updates):
            h.backend.set_state_directly(theirs, "Submitted", "another agent")
        many(updates)

    h.backend.set_flow_run_states = other_agent_first  # type: ignore[method-assign]
    with h.running() as agent:
        for run_id in runs:
            if run_id != theirs:
                h.container_of(run_id)
        wait_for(lambda: agent.tracker.get(theirs) is None, what="the other agent's run to be let go")
    mine = [r for r in runs if r != theirs]
    assert all(h.backend.states_of(r).count("Submitted") == 1 for r in mine)
    assert h.runtime.by_run(theirs) is None
    assert len(h.runtime.containers) == 3


class SlowRuntime(FakeRuntime):
    def create_container(self, name: str, body: Any) -> str:
        time.sleep(0.3)
        return super().create_container(name, body)


def test_stopping_puts_claimed_runs_that_never_started_back_in_the_queue() -> None:
    h = Harness(runtime=SlowRuntime(images=["dockyard-test/busybox:1"]))
    h.workers = 1
    runs = [h.backend.add_run(name=f"run-{i}") for i in range(6)]
    with h.running():
        wait_for(lambda: any(h.runtime.by_run(r) for r in runs), what="a first container")
        started_at = time.monotonic()
    assert time.monotonic() - started_at < 10
    started = [r for r in runs if h.runtime.by_run(r) is not None]
    queued = [r for r in runs if r not in started]
    assert started and queued
    assert all(h.backend.state_of(r) == "Scheduled" for r in queued), [h.backend.states_of(r) for r in queued]
    assert all(h.backend.states_of(r)[-2:] == ["Submitted", "Scheduled"] for r in queued)
