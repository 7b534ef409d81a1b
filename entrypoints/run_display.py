"""How the ``dockyard run`` commands print times, tables and who serves a run.

Every time a command prints is ``YYYY-MM-DD HH:MM:SS`` followed by its zone: ``UTC``, or
with ``--local-time`` the machine's offset (``+02:00``). The API's own ISO-8601 text stays
as it is in ``--json`` output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from dockyard.domain.server.coverage import (
    AGENT_SEEN_WITHIN,
    AgentSighting,
    is_waiting,
    live_agents,
    unserved,
)

F = TypeVar("F", bound=Callable[..., Any])

NO_AGENT = "NO AGENT"


def local_time_option(command: F) -> F:
    return click.option(
        "--local-time",
        is_flag=True,
        help="Print times in this machine's time zone (with its offset) instead of UTC.",
    )(command)


def parse_time(value: str) -> datetime:
    """An API timestamp (ISO-8601; ``Z`` or no offset mean UTC) as an aware datetime."""
    moment = datetime.fromisoformat(value.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_time(value: str | None, *, local: bool = False) -> str:
    """``2024-05-01 12:00:03 UTC`` (``--local-time``: ``2024-05-01 14:00:03 +02:00``); ``-``
    for no time, and text that is not a time as it came."""
    if not value:
        return "-"
    try:
        moment = parse_time(value)
    except ValueError:
        return value
    if not local:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    shown = moment.astimezone()
    offset = shown.strftime("%z")  # +0200
    return f"{shown.strftime('%Y-%m-%d %H:%M:%S')} {offset[:3]}:{offset[3:]}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *rows, strict=False)]
    for row in (headers, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def sightings(agents: Sequence[Mapping[str, Any]]) -> list[AgentSighting]:
    """The API's agents (``labels``, ``last_queried``) as the coverage rule takes them."""
    found = []
    for agent in agents:
        last = agent.get("last_queried")
        try:
            seen = parse_time(last) if last else None
        except ValueError:
            seen = None
        found.append(AgentSighting(tuple(agent.get("labels") or ()), seen))
    return found


class Coverage:
    """Which waiting runs the agents seen lately would take, as of ``now``."""

    def __init__(self, agents: Sequence[Mapping[str, Any]], now: datetime | None = None) -> None:
        self._live = live_agents(sightings(agents), now or datetime.now(UTC))

    def no_agent(self, run: Mapping[str, Any]) -> bool:
        return unserved(run.get("state"), list(run.get("labels") or ()), self._live)

    def agent_cell(self, run: Mapping[str, Any]) -> str:
        """``run list``'s AGENT column: the agent that took the run, ``NO AGENT`` for a
        waiting run none would take, else ``-``."""
        agent = run.get("agent") or {}
        if agent.get("name") and not is_waiting(run.get("state")):
            return str(agent["name"])
        return NO_AGENT if self.no_agent(run) else "-"

    def explain(self, run: Mapping[str, Any]) -> str:
        """``run show``'s agent line."""
        agent = run.get("agent") or {}
        name = agent.get("name")
        if self.no_agent(run):
            labels = ", ".join(run.get("labels") or ()) or "none"
            return (
                f"{NO_AGENT}: no agent seen in the last {int(AGENT_SEEN_WITHIN.total_seconds())} s "
                f"serves this run's labels ({labels})"
            )
        if name:
            return f"{name} ({run.get('agent_id')})"
        return "-"
