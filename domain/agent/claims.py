"""Claiming runs: the Submitted state that tells other agents a run is taken.

Runs found in one poll are claimed together, one request for the lot. A claim is
idempotent from the agent's point of view: a run whose Submitted state already names this
agent (a batch half-applied by a backend that writes states one by one, or a retried
request whose answer was lost) is ours, not another agent's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from dockyard.domain.agent.model import FlowRun, StateUpdate
from dockyard.domain.agent.selection import start_time
from dockyard.domain.errors import DockyardError
from dockyard.domain.states import is_scheduled, state_document
from dockyard.ports.backend import Backend

log = logging.getLogger("dockyard.agent")


def submitted_state(run: FlowRun, context: Mapping[str, Any]) -> dict[str, Any]:
    return state_document("Submitted", "Submitted for execution", inner=run.serialized_state, context=context)


def as_submitted(run: FlowRun) -> FlowRun:
    """The run as the backend holds it once our Submitted state is written."""
    return replace(run, version=run.version + 1, state="Submitted")


def claimable_together(run: FlowRun, now: datetime) -> bool:
    """Due now, scheduled, and without task runs to resubmit: a plain claim. Runs due
    later are claimed when their time comes, so their state stays Scheduled until then."""
    return (
        is_scheduled(run.state)
        and not any(is_scheduled(task_run.state) for task_run in run.task_runs)
        and start_time(run, now) <= now
    )


def claimed_by(run_state: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Whether a serialized Submitted state carries this agent's claim context."""
    return run_state.get("type") == "Submitted" and all(
        (run_state.get("context") or {}).get(key) == value for key, value in context.items()
    )


def claim_together(
    backend: Backend, runs: Sequence[FlowRun], now: datetime, context: Mapping[str, Any]
) -> list[tuple[FlowRun, bool]]:
    """Mark every run that is due now Submitted in one request: each run, and whether it is
    claimed. The rest (and all of them, if that request fails) are claimed one by one by
    their deployment."""
    due = [run for run in runs if claimable_together(run, now)]
    if len(due) > 1:
        try:
            backend.set_flow_run_states(
                [StateUpdate(run.id, run.version, submitted_state(run, context)) for run in due]
            )
        except DockyardError as exc:
            log.debug("Claiming %d runs together failed (%s); claiming one by one", len(due), exc)
        else:
            claimed = {run.id for run in due}
            return [(as_submitted(run), True) if run.id in claimed else (run, False) for run in runs]
    return [(run, False) for run in runs]
