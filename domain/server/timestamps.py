"""One canonical form for every instant the backend stores.

Clients send ISO-8601 with ``+00:00``, ``Z``, other offsets, no offset at all (read as UTC),
with or without microseconds. The store keeps each instant as fixed-width UTC text,
``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``: text order is then time order, so the store can compare
and sort instants as plain strings, and the form is still ISO-8601 that clients parse.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dockyard.domain.server.errors import InvalidInput

_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def canonical(moment: datetime) -> str:
    """The canonical text of an instant; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_FORMAT)


def parse(text: str) -> datetime:
    """Parse an ISO-8601 instant (naive means UTC). Raises ``InvalidInput``."""
    if not isinstance(text, str):
        raise InvalidInput(f"Invalid timestamp: {text!r} (expected an ISO-8601 string)")
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(f"Invalid timestamp: {text!r} (expected ISO-8601)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def normalise(text: str) -> str:
    """``canonical(parse(text))``: any accepted form to the stored form."""
    return canonical(parse(text))
