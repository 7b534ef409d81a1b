"""Reading the daemon's inspect documents into the port's values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dockyard.domain.agent.runtime_state import ContainerState, ImageInfo

# RFC 3339 with up to nanoseconds, as Go formats time.Time: 2024-05-01T10:00:00.123456789Z
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})$"
)
_ENDED = ("exited", "dead")


def parse_timestamp(value: str | None) -> datetime | None:
    """A Docker timestamp as an aware datetime; None for Go's zero time ("0001-01-01...")
    or anything unreadable."""
    if not value or value.startswith("0001-01-01"):
        return None
    match = _RFC3339.match(value)
    if match is None:
        return None
    micros = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    zone = match["zone"]
    tz = UTC if zone == "Z" else _offset(zone)
    moment = datetime.fromisoformat(f"{match['date']}T{match['time']}")
    return moment.replace(microsecond=micros, tzinfo=tz)


def _offset(zone: str) -> timezone:
    sign = -1 if zone[0] == "-" else 1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def container_state(document: Mapping[str, Any]) -> ContainerState:
    """A ``GET /containers/{id}/json`` answer as a ``ContainerState``."""
    state = document.get("State") or {}
    config = document.get("Config") or {}
    status = str(state.get("Status", ""))
    raw_exit = state.get("ExitCode")
    # A running or created container reports ExitCode 0, which means nothing yet; a
    # container whose start failed stays "created" with a non-zero code and an Error.
    exit_code = int(raw_exit) if raw_exit is not None and (status in _ENDED or raw_exit != 0) else None
    return ContainerState(
        id=str(document.get("Id", "")),
        name=str(document.get("Name", "")).lstrip("/"),
        status=status,
        labels=dict(config.get("Labels") or {}),
        exit_code=exit_code,
        oom_killed=bool(state.get("OOMKilled", False)),
        error=str(state.get("Error") or ""),
        started_at=parse_timestamp(state.get("StartedAt")),
        finished_at=parse_timestamp(state.get("FinishedAt")),
    )


_EXITED = re.compile(r"^Exited \((-?\d+)\)")


def container_summary(summary: Mapping[str, Any]) -> ContainerState:
    """A ``GET /containers/json`` entry as a ``ContainerState``: id, name, status and
    labels, and for an exited container the exit code its ``Status`` line gives
    ("Exited (3) 2 seconds ago"). The list carries no OOM flag, error or times."""
    names = summary.get("Names") or [""]
    exited = _EXITED.match(str(summary.get("Status", "")))
    return ContainerState(
        id=str(summary.get("Id", "")),
        name=str(names[0]).lstrip("/"),
        status=str(summary.get("State", "")),
        labels=dict(summary.get("Labels") or {}),
        exit_code=int(exited.group(1)) if exited else None,
    )


def image_info(document: Mapping[str, Any]) -> ImageInfo:
    return ImageInfo(
        id=str(document.get("Id", "")),
        repo_tags=tuple(document.get("RepoTags") or ()),
        repo_digests=tuple(document.get("RepoDigests") or ()),
    )


def label_filters(labels: Mapping[str, str | None]) -> list[str]:
    """Docker's ``label`` filter values: ``key=value``, or ``key`` for "any value"."""
    return [key if value is None else f"{key}={value}" for key, value in labels.items()]


def json_ready(value: Any) -> Any:
    """Plain dicts and lists all the way down, so any Mapping or tuple serialises."""
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value
