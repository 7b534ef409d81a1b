"""Agents as the dashboard shows them: when each last asked for work, and whether that is
recent enough to call it healthy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.filters import Compare, Op, Order, Select
from dockyard.domain.server.views.items import when

# An agent asks for runs every few seconds (and holds a long poll open at most half a
# minute): a minute without a question is late, ten minutes means it is gone.
HEALTHY_WITHIN = timedelta(seconds=60)
LATE_WITHIN = timedelta(minutes=10)
IN_FLIGHT = ("Submitted", "Running", "Cancelling")


def agent_health(last_queried: datetime | None, now: datetime) -> str:
    """``healthy``, ``late`` or ``unresponsive``, from the time of the agent's last poll."""
    if last_queried is None:
        return "unresponsive"
    silence = now - last_queried
    if silence <= HEALTHY_WITHIN:
        return "healthy"
    return "late" if silence <= LATE_WITHIN else "unresponsive"


@dataclass(frozen=True)
class AgentItem:
    id: str
    name: str
    type: str
    labels: tuple[str, ...]
    core_version: str | None
    last_queried: datetime | None
    health: str
    in_flight: int
    since: datetime | None


class AgentViews:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def agents(self) -> list[AgentItem]:
        """Every registered agent, the most recently seen first."""
        now = self._deps.clock.now()
        with self._deps.store.unit_of_work(write=False) as session:
            agents = session.select(Select("agent", order_by=(Order("last_queried", descending=True),)))
            busy: dict[str, int] = {}
            in_flight = Select(
                "flow_run", where=Compare("state", Op.IN, list(IN_FLIGHT)), columns=("agent_id",)
            )
            for run in session.select(in_flight):
                if run.get("agent_id"):
                    busy[str(run["agent_id"])] = busy.get(str(run["agent_id"]), 0) + 1
        items = []
        for agent in agents:
            last = when(agent.get("last_queried"))
            items.append(
                AgentItem(
                    id=str(agent["id"]),
                    name=str(agent.get("name") or "agent"),
                    type=str(agent.get("type") or ""),
                    labels=tuple(str(label) for label in agent.get("labels") or ()),
                    core_version=agent.get("core_version"),
                    last_queried=last,
                    health=agent_health(last, now),
                    in_flight=busy.get(str(agent["id"]), 0),
                    since=when(agent.get("created")),
                )
            )
        return items
