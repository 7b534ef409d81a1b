"""Flows as the dashboard shows them: one entry per flow group (all versions of a flow),
with its schedule, its next runs and the states of its last runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.filters import Compare, Op, Order, Related, Row, Select, all_of, eq
from dockyard.domain.server.lookup import by_id
from dockyard.domain.server.views.items import (
    RUN_COLUMNS,
    RunItem,
    RunNamer,
    columns_of,
    rows_by_id,
    tenant_slugs,
    when,
)
from dockyard.domain.states import SCHEDULED_STATES

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

RECENT_RUNS = 10
NEXT_RUNS = 3
# Everything the pages show of a flow: not its serialized form, which can be large.
FLOW_COLUMNS = columns_of(
    "flow",
    ("id", "tenant_id", "project_id", "flow_group_id", "name", "description", "version", "core_version",
     "parameters", "run_config", "schedule", "is_schedule_active", "archived", "created"),
)  # fmt: skip


@dataclass(frozen=True)
class Parameter:
    name: str
    required: bool
    default: Any


@dataclass(frozen=True)
class FlowVersion:
    id: str
    version: int
    archived: bool
    created: datetime | None
    core_version: str | None


@dataclass(frozen=True)
class FlowItem:
    group_id: str
    flow_id: str  # the newest version: where runs started here go
    name: str
    project_name: str
    version: int
    versions: int
    tenant_slug: str
    schedule: Any
    schedule_active: bool
    next_runs: tuple[RunItem, ...]
    recent_runs: tuple[RunItem, ...]  # newest first

    @property
    def has_schedule(self) -> bool:
        return self.schedule is not None


@dataclass(frozen=True)
class FlowDetail:
    flow: FlowItem
    versions: tuple[FlowVersion, ...]  # newest first
    parameters: tuple[Parameter, ...]
    run_config: Any
    description: str | None


def parameters_of(flow: Mapping[str, Any]) -> tuple[Parameter, ...]:
    """The declared parameters of a flow row (Prefect serializes them as a list of objects)."""
    declared = flow.get("parameters") or []
    found = []
    for parameter in declared if isinstance(declared, list) else []:
        if isinstance(parameter, Mapping) and isinstance(parameter.get("name"), str):
            found.append(
                Parameter(parameter["name"], bool(parameter.get("required")), parameter.get("default"))
            )
    return tuple(found)


class FlowViews:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def flows(self) -> list[FlowItem]:
        """Every flow group with an unarchived version, by name."""
        with self._deps.store.unit_of_work(write=False) as session:
            current = session.select(
                Select(
                    "flow",
                    where=eq("archived", False),
                    order_by=(Order("name"), Order("version", descending=True)),
                    columns=FLOW_COLUMNS,
                )
            )
            newest: dict[str, Row] = {}
            for flow in current:
                newest.setdefault(str(flow["flow_group_id"]), flow)
            return [self._item(session, flow) for flow in newest.values()]

    def flow(self, flow_or_group_id: str) -> FlowDetail | None:
        """A flow group by its id (the id Prefect's clients link to), or by the id of one
        of its versions."""
        with self._deps.store.unit_of_work(write=False) as session:
            group_id = self._group_of(session, flow_or_group_id)
            if group_id is None:
                return None
            versions = session.select(
                Select(
                    "flow",
                    where=eq("flow_group_id", group_id),
                    order_by=(Order("version", descending=True),),
                    columns=FLOW_COLUMNS,
                )
            )
            newest = next((v for v in versions if not v.get("archived")), versions[0])
            return FlowDetail(
                flow=self._item(session, newest),
                versions=tuple(
                    FlowVersion(
                        str(v["id"]),
                        int(v.get("version") or 0),
                        bool(v.get("archived")),
                        when(v.get("created")),
                        v.get("core_version"),
                    )
                    for v in versions
                ),
                parameters=parameters_of(newest),
                run_config=newest.get("run_config"),
                description=newest.get("description"),
            )

    def _group_of(self, session: StoreSession, flow_or_group_id: str) -> str | None:
        if by_id(session, "flow_group", flow_or_group_id) is not None:
            return flow_or_group_id
        flow = by_id(session, "flow", flow_or_group_id)
        return None if flow is None else str(flow["flow_group_id"])

    def _item(self, session: StoreSession, flow: Row) -> FlowItem:
        group_id = str(flow["flow_group_id"])
        of_group = Related("flow", eq("flow_group_id", group_id))
        recent = session.select(
            Select(
                "flow_run",
                where=of_group,
                order_by=(Order("created", descending=True),),
                limit=RECENT_RUNS,
                columns=RUN_COLUMNS,
            )
        )
        upcoming = session.select(
            Select(
                "flow_run",
                where=all_of(of_group, Compare("state", Op.IN, sorted(SCHEDULED_STATES))),
                order_by=(Order("scheduled_start_time"),),
                limit=NEXT_RUNS,
                columns=RUN_COLUMNS,
            )
        )
        namer = RunNamer(session, [*recent, *upcoming], self._deps.clock.now())
        project_id = str(flow.get("project_id"))
        project = rows_by_id(session, "project", [project_id], ("id", "name")).get(project_id, {})
        versions = session.select(Select("flow", where=eq("flow_group_id", group_id), columns=("id",)))
        groups = session.select(Select("flow_group", where=eq("id", group_id), columns=("schedule",)))
        group = groups[0] if groups else {}
        return FlowItem(
            group_id=group_id,
            flow_id=str(flow["id"]),
            name=str(flow.get("name")),
            project_name=str(project.get("name") or ""),
            version=int(flow.get("version") or 0),
            versions=len(versions),
            tenant_slug=tenant_slugs(session).get(str(flow.get("tenant_id")), "default"),
            schedule=flow.get("schedule") if flow.get("schedule") is not None else group.get("schedule"),
            schedule_active=bool(flow.get("is_schedule_active")),
            next_runs=tuple(namer.item(r) for r in upcoming),
            recent_runs=tuple(namer.item(r) for r in recent),
        )
