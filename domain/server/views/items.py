"""What the dashboard's pages show of a run, and the lookups that name its flow, tenant and
agent: one batch of reads per page, never one per row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dockyard.domain.server.catalog import table
from dockyard.domain.server.filters import Compare, Op, Row, Select
from dockyard.domain.server.timeline import run_duration
from dockyard.domain.server.timestamps import parse
from dockyard.domain.states import FINISHED_STATES, RUNNING_STATES

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

# Large IN lists are read in slices: SQLite caps the parameters of one statement.
_SLICE = 500


def columns_of(table_name: str, wanted: Iterable[str]) -> tuple[str, ...]:
    """The ``wanted`` columns the table has (a read model may show a column a newer
    catalog adds); reading only these spares decoding the large JSON columns."""
    present = table(table_name).columns
    return tuple(c for c in wanted if c in present)


# What a run list shows of each run.
RUN_COLUMNS = columns_of(
    "flow_run",
    ("id", "name", "state", "state_message", "labels", "tenant_id", "flow_id", "agent_id",
     "scheduled_start_time", "start_time", "end_time", "created", "auto_scheduled"),
)  # fmt: skip


def rows_by_id(
    session: StoreSession, table_name: str, ids: Iterable[Any], columns: tuple[str, ...] = ()
) -> dict[str, Row]:
    rows = rows_where_in(session, table_name, "id", ids, columns)
    return {str(row["id"]): row for row in rows}


def rows_where_in(
    session: StoreSession, table_name: str, column: str, values: Iterable[Any], columns: tuple[str, ...] = ()
) -> list[Row]:
    wanted = sorted({str(v) for v in values if v})
    rows: list[Row] = []
    for start in range(0, len(wanted), _SLICE):
        where = Compare(column, Op.IN, wanted[start : start + _SLICE])
        rows += session.select(Select(table_name, where=where, columns=columns))
    return rows


def when(value: str | None) -> datetime | None:
    return parse(value) if value else None


@dataclass(frozen=True)
class RunItem:
    id: str
    name: str
    state: str
    state_message: str | None
    labels: tuple[str, ...]
    tenant_slug: str
    flow_id: str
    flow_name: str
    flow_group_id: str
    scheduled_start_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    duration: timedelta | None
    agent_id: str | None
    agent_name: str | None
    auto_scheduled: bool
    created: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def cancellable(self) -> bool:
        return not self.finished and self.state != "Cancelling"

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


class RunNamer:
    """Builds ``RunItem``s for a set of run rows, reading their flows, tenants and agents once."""

    def __init__(self, session: StoreSession, runs: Iterable[Row], now: datetime) -> None:
        runs = list(runs)
        self._now = now
        flow_ids = (r.get("flow_id") for r in runs)
        self._flows = rows_by_id(session, "flow", flow_ids, ("id", "name", "flow_group_id"))
        self._agents = rows_by_id(session, "agent", (r.get("agent_id") for r in runs), ("id", "name"))
        self._tenants = tenant_slugs(session)

    def item(self, run: Mapping[str, Any]) -> RunItem:
        flow = self._flows.get(str(run.get("flow_id")), {})
        agent = self._agents.get(str(run.get("agent_id")))
        return RunItem(
            id=str(run["id"]),
            name=str(run.get("name") or ""),
            state=str(run.get("state") or "Pending"),
            state_message=run.get("state_message"),
            labels=tuple(str(label) for label in run.get("labels") or ()),
            tenant_slug=self._tenants.get(str(run.get("tenant_id")), "default"),
            flow_id=str(run.get("flow_id")),
            flow_name=str(flow.get("name") or "?"),
            flow_group_id=str(flow.get("flow_group_id") or run.get("flow_id")),
            scheduled_start_time=when(run.get("scheduled_start_time")),
            start_time=when(run.get("start_time")),
            end_time=when(run.get("end_time")),
            duration=run_duration(run.get("start_time"), run.get("end_time"), self._now),
            agent_id=run.get("agent_id"),
            agent_name=None if agent is None else str(agent.get("name")),
            auto_scheduled=bool(run.get("auto_scheduled")),
            created=when(run.get("created")),
        )


def tenant_slugs(session: StoreSession) -> dict[str, str]:
    return {str(t["id"]): str(t["slug"]) for t in session.select(Select("tenant", columns=("id", "slug")))}
