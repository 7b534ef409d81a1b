"""Supervision decisions, as a table of what Docker, the backend and the agent know."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dockyard.domain.agent.model import RunStatus
from dockyard.domain.agent.outcomes import Observation, Outcome, Verb, decide, outcome_message
from dockyard.domain.agent.runtime_state import ContainerState
from dockyard.domain.agent.tracker import Phase, StopReason, TrackedRun


def container(status: str = "running", exit_code: int | None = None, oom: bool = False) -> ContainerState:
    return ContainerState(id="c" * 64, name="x", status=status, exit_code=exit_code, oom_killed=oom)


def run(phase: Phase = Phase.RUNNING, **kw: object) -> TrackedRun:
    return TrackedRun(run_id="r1", phase=phase, container_id="c" * 64, started_at=100.0, **kw)  # type: ignore[arg-type]


def status(state: str) -> RunStatus:
    return RunStatus(id="r1", state=state, version=3)


@pytest.mark.parametrize(
    ("obs", "verb", "outcome"),
    [
        # exits while the backend still shows the run unfinished: the agent records it
        (Observation(container("exited", 0), run(), status("Running")), Verb.SETTLE, Outcome.SUCCESS),
        (Observation(container("exited", 3), run(), status("Submitted")), Verb.SETTLE, Outcome.FAILED),
        (
            Observation(container("exited", 137, oom=True), run(), status("Running")),
            Verb.SETTLE,
            Outcome.FAILED,
        ),
        (
            Observation(container("exited", 0, oom=True), run(), status("Running")),
            Verb.SETTLE,
            Outcome.FAILED,
        ),
        # the flow runner already finished it: leave its state alone
        (Observation(container("exited", 1), run(), status("Success")), Verb.SETTLE, Outcome.ALREADY_FINAL),
        (Observation(container("exited", 0), None, status("Failed")), Verb.SETTLE, Outcome.ALREADY_FINAL),
        # stopped on purpose
        (
            Observation(
                container("exited", 143),
                run(Phase.STOPPING, stop_reason=StopReason.CANCELLED),
                status("Cancelling"),
            ),
            Verb.SETTLE,
            Outcome.CANCELLED,
        ),
        (
            Observation(
                container("exited", 137),
                run(Phase.STOPPING, stop_reason=StopReason.TIMED_OUT),
                status("Running"),
            ),
            Verb.SETTLE,
            Outcome.TIMED_OUT,
        ),
        # after a restart the agent has no memory, the backend still says Cancelling
        (Observation(container("exited", 143), None, status("Cancelling")), Verb.SETTLE, Outcome.CANCELLED),
        # running containers
        (Observation(container("running"), run(), status("Running")), Verb.LEAVE, None),
        (Observation(container("running"), None, status("Running")), Verb.ADOPT, None),
        (Observation(container("running"), run(), status("Cancelling")), Verb.STOP, None),
        (Observation(container("running"), run(), status("Cancelled")), Verb.STOP, None),
        (Observation(container("running"), run(Phase.STOPPING), status("Cancelling")), Verb.LEAVE, None),
        # the backend put the run back in the queue (Lazarus): stop it, record nothing
        (Observation(container("running"), run(), status("Scheduled")), Verb.STOP, None),
        (Observation(container("paused"), run(), status("Scheduled")), Verb.STOP, None),
        (
            Observation(
                container("exited", 137),
                run(Phase.STOPPING, stop_reason=StopReason.REQUEUED),
                status("Scheduled"),
            ),
            Verb.SETTLE,
            Outcome.REQUEUED,
        ),
        (Observation(container("exited", 1), None, status("Scheduled")), Verb.SETTLE, Outcome.REQUEUED),
        (
            Observation(
                container("exited", 137),
                run(Phase.STOPPING, stop_reason=StopReason.REQUEUED),
                status("Submitted"),
            ),
            Verb.SETTLE,
            Outcome.REQUEUED,
        ),
        # created, never started
        (Observation(container("created"), None, status("Submitted")), Verb.START, None),
        (Observation(container("created"), None, status("Scheduled")), Verb.DISCARD, None),
        (Observation(container("created"), run(Phase.DEPLOYING), status("Submitted")), Verb.LEAVE, None),
        # the backend cannot be asked, or no longer knows the run
        (Observation(container("exited", 3), run(), None, statuses_known=False), Verb.LEAVE, None),
        (Observation(container("exited", 3), run(), None), Verb.DISCARD, None),
    ],
)
def test_decisions(obs: Observation, verb: Verb, outcome: Outcome | None) -> None:
    decision = decide(obs, now=150.0)
    assert decision.verb is verb
    assert decision.outcome is outcome


def test_a_run_past_its_time_limit_is_stopped_as_timed_out() -> None:
    tracked = run(timeout=30.0)
    assert decide(Observation(container(), tracked, status("Running")), now=129.0).verb is Verb.LEAVE
    late = decide(Observation(container(), tracked, status("Running")), now=131.0)
    assert late.verb is Verb.STOP
    assert late.reason is StopReason.TIMED_OUT


def test_failure_message_names_exit_code_oom_and_output() -> None:
    message = outcome_message(Outcome.FAILED, container("exited", 137, oom=True), tail="boom\nlast line")
    assert "exited with code 137" in message
    assert "OOM-killed" in message
    assert message.endswith("last line")
    assert "exited with code 3." in outcome_message(Outcome.FAILED, container("exited", 3))
    assert "time limit of 5s" in outcome_message(Outcome.TIMED_OUT, container("exited", 137), timeout=5)


def test_without_the_backend_running_containers_are_still_timed_out_but_never_adopted_or_discarded() -> None:
    def unknown(c: ContainerState, tracked: TrackedRun | None) -> Verb:
        return decide(Observation(c, tracked, None, statuses_known=False), now=200.0).verb

    assert unknown(container(), run(timeout=5.0)) is Verb.STOP
    assert unknown(container(), None) is Verb.LEAVE
    assert unknown(container("created"), None) is Verb.LEAVE
    assert unknown(container("exited", 1), run()) is Verb.LEAVE


# -- a Swarm service, as its task tells it ----------------------------------------------------


def pending(
    error: str = "no suitable node (scheduling constraints not satisfied on 2 nodes)",
) -> ContainerState:
    return ContainerState(id="s" * 25, name="x", status="pending", error=error)


@pytest.mark.parametrize(
    ("obs", "now", "verb"),
    [
        (Observation(pending(), run(), status("Running")), 131.0, Verb.SETTLE),  # waited 31s of 30
        (Observation(pending(), run(), status("Running")), 129.0, Verb.LEAVE),
        (Observation(pending(), run(), status("Running"), statuses_known=False), 131.0, Verb.LEAVE),
        (Observation(pending(), run(), status("Cancelling")), 131.0, Verb.STOP),  # a cancel comes first
        (Observation(pending(), None, status("Submitted")), 131.0, Verb.ADOPT),  # after a restart
        (Observation(replace(pending(), status="starting"), run(), status("Running")), 500.0, Verb.LEAVE),
    ],
)
def test_a_task_no_node_takes_in_time_is_settled_unplaced(obs: Observation, now: float, verb: Verb) -> None:
    decision = decide(obs, now=now, placement_timeout=30.0)
    assert decision.verb is verb
    if verb is Verb.SETTLE:
        assert decision.outcome is Outcome.UNPLACED


def test_without_a_placement_timeout_a_pending_task_waits() -> None:
    assert decide(Observation(pending(), run(), status("Running")), now=10_000.0).verb is Verb.LEAVE


def test_swarms_own_endings_are_named() -> None:
    rejected = ContainerState(id="s", name="x", status="rejected", error="No such image: app:1")
    assert rejected.ended
    assert outcome_message(Outcome.FAILED, rejected) == (
        "The Swarm node refused to run the flow run's task: No such image: app:1."
    )
    unplaced = outcome_message(Outcome.UNPLACED, pending("no suitable node"), placement_timeout=300)
    assert unplaced == "No Swarm node could take the flow run's task within 300s: no suitable node."
    stopped = ContainerState(id="s", name="x", status="exited", error="the service was stopped")
    assert outcome_message(Outcome.FAILED, stopped) == (
        "Container ended without an exit code; Docker reported: the service was stopped."
    )
