"""What writing a new state does to a flow run or task run.

Each write bumps ``version`` and copies the state onto the run's derived columns: ``state``
(the type name), ``serialized_state`` (kept verbatim), ``state_start_time`` (the state's own
top-level ``start_time``, else NULL), ``state_timestamp`` and ``state_message``; the first
Running stamps ``start_time``, a finished state ``end_time``, Running and Submitted the
heartbeat. The client-sent ``version`` is not compared (Prefect Server does not either).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dockyard.domain.server.errors import AlreadySubmitted, InvalidInput, StateUpdateFailed
from dockyard.domain.server.filters import Row
from dockyard.domain.server.timestamps import normalise
from dockyard.domain.states import END_TIME_STATES, KNOWN_STATES, RUNNING_STATES, SCHEDULED_STATES

MAX_STATE_BYTES = 1_000_000

# A run may be Submitted only from these: the lock that stops two agents deploying one run.
SUBMITTABLE_STATES = SCHEDULED_STATES | {"Pending"}


def state_type(doc: Any) -> str:
    """The state's type name, after checking the document is one Prefect can load."""
    if not isinstance(doc, Mapping):
        raise InvalidInput("Invalid state: expected a serialized state object with a 'type'.")
    name = doc.get("type")
    if not isinstance(name, str) or name not in KNOWN_STATES:
        raise InvalidInput(f"Invalid state: unknown state type {name!r}.")
    message = doc.get("message")
    if message is not None and not isinstance(message, str):
        raise InvalidInput("Invalid state: 'message' must be a string or null.")
    if len(json.dumps(doc)) > MAX_STATE_BYTES:
        raise InvalidInput("State payload is too large.")
    return name


def _start_time(doc: Mapping[str, Any]) -> str | None:
    value = doc.get("start_time")
    return normalise(value) if value is not None else None


def check_submission(current_state: str | None) -> None:
    """The durable Submitted lock: refuse unless the run still waits to be deployed."""
    if (current_state or "Pending") not in SUBMITTABLE_STATES:
        raise AlreadySubmitted()


def derived_columns(run: Row, doc: Mapping[str, Any], now: str) -> dict[str, Any]:
    """Column changes for writing ``doc`` onto ``run`` (a flow run or task run row)."""
    name = state_type(doc)
    changes: dict[str, Any] = {
        "version": int(run.get("version") or 0) + 1,
        "state": name,
        "serialized_state": dict(doc),
        "state_message": doc.get("message"),
        "state_start_time": _start_time(doc),
        "state_timestamp": now,
        "updated": now,
    }
    if name == "Running" and run.get("start_time") is None:
        changes["start_time"] = now
    if name in END_TIME_STATES:
        changes["end_time"] = now
    if name in ("Running", "Submitted"):
        changes["heartbeat"] = now
    return changes


def flow_run_write(run: Row, doc: Mapping[str, Any], now: str, agent_id: str | None) -> dict[str, Any]:
    """Changes for a new flow-run state, enforcing the Submitted lock."""
    if state_type(doc) == "Submitted":
        check_submission(run.get("state"))
        changes = derived_columns(run, doc, now)
        if agent_id:
            changes["agent_id"] = agent_id
        return changes
    return derived_columns(run, doc, now)


def task_run_write(
    task_run: Row, flow_run_state: str | None, doc: Mapping[str, Any], now: str
) -> dict[str, Any]:
    """Changes for a new task-run state: a running state needs a Running flow run, a
    state without cached inputs keeps the ones the task run had, and Running counts a run
    (``run_count``)."""
    name = state_type(doc)
    if name in RUNNING_STATES and flow_run_state != "Running":
        raise StateUpdateFailed(
            f"State update failed for task run ID {task_run['id']}: provided a running state but "
            f"associated flow run {task_run['flow_run_id']} is not in a running state."
        )
    if name == "Submitted":
        check_submission(task_run.get("state"))
    previous = task_run.get("serialized_state") or {}
    if not doc.get("cached_inputs") and isinstance(previous, Mapping) and previous.get("cached_inputs"):
        doc = {**doc, "cached_inputs": previous["cached_inputs"]}
    changes = derived_columns(task_run, doc, now)
    if name == "Running":  # each attempt (a retry too) starts Running once
        changes["run_count"] = int(task_run.get("run_count") or 0) + 1
    return changes


def history_row(run_column: str, run_id: str, changes: Mapping[str, Any], state_id: str) -> Row:
    """The ``flow_run_state`` / ``task_run_state`` row recording a write."""
    doc = changes["serialized_state"]
    return {
        "id": state_id,
        run_column: run_id,
        "version": changes["version"],
        "state": changes["state"],
        "message": changes["state_message"],
        "serialized_state": doc,
        "start_time": changes["state_start_time"],
        "timestamp": changes["state_timestamp"],
        "created": changes["state_timestamp"],
    }
