"""Prefect 1 run states as the wire and the store see them.

A state travels as its *serialized* form: a JSON object whose ``type`` is the state class
name (``Scheduled``, ``Submitted``, ``Failed``...). Both halves of dockyard need the same
facts about them: which names count as scheduled, running or finished, and how to write a
state document that Prefect 1.4.1's ``StateSchema`` loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

# The Prefect core version whose wire format dockyard speaks.
CORE_VERSION = "1.4.1"

# State names for which Prefect's ``State.is_scheduled()`` is true. Server's queue query
# serves runs in these states (its ``SCHEDULED_STATES``).
SCHEDULED_STATES = frozenset({"Scheduled", "Queued", "Retrying", "Resume", "Paused"})

# ``is_running()``: Cancelling is a subclass of Running.
RUNNING_STATES = frozenset({"Running", "Cancelling"})

# ``is_finished()``: every subclass of Finished.
SUCCESS_STATES = frozenset({"Success", "Cached", "Mapped", "Skipped"})
FAILED_STATES = frozenset({"Failed", "TimedOut", "TriggerFailed", "ValidationFailed"})
FINISHED_STATES = SUCCESS_STATES | FAILED_STATES | frozenset({"Finished", "Looped", "Cancelled"})

# States that stamp a run's end_time in the store (Prefect Server's trigger list).
END_TIME_STATES = frozenset({"Success", "Failed", "Cached", "TimedOut", "Looped", "Cancelled"})

KNOWN_STATES = (
    SCHEDULED_STATES
    | RUNNING_STATES
    | FINISHED_STATES
    | frozenset({"Pending", "Submitted", "ClientFailed", "State"})
)


def is_scheduled(name: str) -> bool:
    return name in SCHEDULED_STATES


def is_running(name: str) -> bool:
    return name in RUNNING_STATES


def is_finished(name: str) -> bool:
    return name in FINISHED_STATES


def iso(moment: datetime) -> str:
    """ISO-8601 with an explicit offset, the form Prefect's client sends and parses."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.isoformat()


def state_document(
    type_name: str,
    message: str | None,
    *,
    start_time: datetime | None = None,
    inner: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A serialized state that Prefect 1.4.1 loads: ``{"type": ..., "message": ...}`` plus
    the fields its schema fills in. ``inner`` is the wrapped state of a meta state
    (``Submitted`` wraps the ``Scheduled`` state it came from)."""
    doc: dict[str, Any] = {
        "type": type_name,
        "message": message,
        "context": dict(context or {}),
        "cached_inputs": {},
        "_result": {"type": "NoResultType", "__version__": CORE_VERSION},
        "__version__": CORE_VERSION,
    }
    if start_time is not None:
        doc["start_time"] = iso(start_time)
    if inner is not None:
        doc["state"] = dict(inner)
    return doc
