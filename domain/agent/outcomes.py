"""Supervision decisions: what to do about one container, given what Docker and the backend
say about it and what this agent remembers.

Pure functions over observations, so every case (exit codes, OOM kills, cancels, timeouts,
restarts, runs the flow runner already finished) is decided in one place and tested as a
table. The supervisor carries the actions out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from dockyard.domain.agent.model import RunStatus
from dockyard.domain.agent.runtime_state import ContainerState
from dockyard.domain.agent.tracker import Phase, StopReason, TrackedRun
from dockyard.domain.states import FINISHED_STATES, SCHEDULED_STATES

LIVE_STATUSES = frozenset({"running", "paused", "restarting", "pending", "starting"})


class Verb(Enum):
    LEAVE = "leave"  # nothing to do now
    ADOPT = "adopt"  # a running container this agent owns but does not track (after a restart)
    START = "start"  # created, never started, and the run is still ours: finish the deployment
    DISCARD = "discard"  # remove without recording anything (the run is not ours, or is gone)
    STOP = "stop"  # cancel or time out a running container
    SETTLE = "settle"  # record the outcome (if the backend lacks one), then remove


class Outcome(Enum):
    ALREADY_FINAL = "already final"  # the flow runner (or a user) recorded a final state
    SUCCESS = "Success"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    TIMED_OUT = "timed out"
    REQUEUED = "requeued"  # the run is back in the queue: nothing to record, just remove
    UNPLACED = "unplaced"  # no Swarm node took its task in time: Failed, saying why


@dataclass(frozen=True)
class Decision:
    verb: Verb
    outcome: Outcome | None = None
    reason: StopReason | None = None
    why: str = ""


@dataclass(frozen=True)
class Observation:
    container: ContainerState
    tracked: TrackedRun | None
    status: RunStatus | None  # None: the backend does not know this run
    statuses_known: bool = True  # False: the backend could not be asked this time


def decide(obs: Observation, *, now: float, placement_timeout: float | None = None) -> Decision:
    """``placement_timeout``: how long a Swarm service's task may wait for a node (status
    ``pending``) before the run ends Failed with the scheduler's reason."""
    container, tracked, status, known = obs.container, obs.tracked, obs.status, obs.statuses_known
    if tracked is not None and tracked.phase is Phase.DEPLOYING:
        return Decision(Verb.LEAVE, why="a deployment worker owns it")
    if container.ended or container.status == "created" or tracked is None:
        # Recording, starting, adopting or discarding all depend on the backend's view:
        # never act on a guess, wait until it answers.
        if not known:
            return Decision(Verb.LEAVE, why="backend state unknown")
        if status is None:
            return Decision(Verb.DISCARD, why="the backend no longer knows this run")
    if container.ended:
        assert status is not None
        return Decision(Verb.SETTLE, outcome=settle_outcome(container, tracked, status))
    if container.status == "created":
        assert status is not None
        if status.state == "Submitted":
            return Decision(Verb.START, why="created but never started; the run is still submitted")
        return Decision(Verb.DISCARD, why=f"created but never started; the run is {status.state}")
    if container.status not in LIVE_STATUSES:
        return Decision(Verb.LEAVE, why=f"container is {container.status}")
    stopping = tracked is not None and tracked.phase is Phase.STOPPING
    if not stopping and known and status is not None and status.state in {"Cancelling", "Cancelled"}:
        return Decision(Verb.STOP, reason=StopReason.CANCELLED, why=f"the run is {status.state}")
    if (
        not stopping
        and known
        and tracked is not None
        and status is not None
        and status.state in SCHEDULED_STATES
    ):
        # Rescheduled while this container still holds it (Lazarus took its silence for
        # death): stop it, so the run is never executed twice, and let it be deployed again.
        return Decision(Verb.STOP, reason=StopReason.REQUEUED, why="the backend rescheduled the run")
    if (
        not stopping
        and known
        and status is not None
        and tracked is not None
        and container.status == "pending"
        and _waited_too_long(tracked, now, placement_timeout)
    ):
        return Decision(Verb.SETTLE, outcome=Outcome.UNPLACED, why="no node took its task in time")
    if not stopping and tracked is not None and _timed_out(tracked, now):
        return Decision(Verb.STOP, reason=StopReason.TIMED_OUT, why=f"ran longer than {tracked.timeout:g}s")
    if tracked is None:
        return Decision(Verb.ADOPT, why="running container this agent owns")
    return Decision(Verb.LEAVE, why="running")


def settle_outcome(container: ContainerState, tracked: TrackedRun | None, status: RunStatus) -> Outcome:
    reason = tracked.stop_reason if tracked is not None else None
    if status.state in FINISHED_STATES:
        return Outcome.ALREADY_FINAL
    if reason is StopReason.REQUEUED or status.state in SCHEDULED_STATES:
        return Outcome.REQUEUED  # its outcome is no longer the run's: it runs again
    if reason is StopReason.CANCELLED or status.state == "Cancelling":
        return Outcome.CANCELLED
    if reason is StopReason.TIMED_OUT:
        return Outcome.TIMED_OUT
    if container.exit_code == 0 and not container.oom_killed:
        return Outcome.SUCCESS
    return Outcome.FAILED


def _timed_out(tracked: TrackedRun, now: float) -> bool:
    return (
        tracked.timeout is not None
        and tracked.started_at is not None
        and now - tracked.started_at > tracked.timeout
    )


def _waited_too_long(tracked: TrackedRun, now: float, limit: float | None) -> bool:
    return limit is not None and tracked.started_at is not None and now - tracked.started_at > limit


def outcome_message(
    outcome: Outcome,
    container: ContainerState,
    *,
    tail: str = "",
    timeout: float | None = None,
    placement_timeout: float | None = None,
) -> str:
    """The message of the final state the agent records (and of its run log)."""
    if outcome is Outcome.SUCCESS:
        return "Container exited with code 0."
    if outcome is Outcome.CANCELLED:
        return "Flow run was cancelled; its container was stopped."
    if outcome is Outcome.TIMED_OUT:
        limit = f" of {timeout:g}s" if timeout is not None else ""
        head = f"Flow run timed out: it exceeded its time limit{limit}, so its container was stopped."
    elif outcome is Outcome.UNPLACED:
        within = f" within {placement_timeout:g}s" if placement_timeout is not None else ""
        head = (
            f"No Swarm node could take the flow run's task{within}: {container.error or 'no reason given'}."
        )
    elif container.status == "rejected":
        head = f"The Swarm node refused to run the flow run's task: {container.error or 'no reason given'}."
    elif container.exit_code is None:
        head = "Container ended without an exit code"
        if container.error:
            head += f"; Docker reported: {container.error}"
        head += "."
    else:
        head = f"Container exited with code {container.exit_code}"
        if container.oom_killed:
            head += " (OOM-killed: it ran out of memory)"
        if container.error:
            head += f"; Docker reported: {container.error}"
        head += "."
    return head + (f"\nLast lines of output:\n{tail}" if tail else "")


def final_state_name(outcome: Outcome) -> str | None:
    return {
        Outcome.SUCCESS: "Success",
        Outcome.FAILED: "Failed",
        Outcome.TIMED_OUT: "Failed",
        Outcome.CANCELLED: "Cancelled",
        Outcome.UNPLACED: "Failed",
    }.get(outcome)
