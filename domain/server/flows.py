"""Flows: registering them (``create_flow`` and its compressed twin, tasks, edges,
schedules), archiving, moving and deleting them.

A flow belongs to a version group (flows of one name in one project, unless the client
names the group) and to that group's flow group, which carries settings runs inherit.
A new version archives the others; an idempotency key equal to the one the group last
saw returns the current flow instead of creating a version (``prefect register`` prints
"Skipped"). An archived flow takes no new runs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.filters import Order, Row, Select, all_of, eq
from dockyard.domain.server.flow_parts import insert_edges, insert_tasks
from dockyard.domain.server.lookup import by_id, first, require
from dockyard.domain.server.removal import delete_flow_runs, delete_flows
from dockyard.domain.server.runs import FlowRuns
from dockyard.domain.server.scheduler import effective_schedule, unschedule

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

log = logging.getLogger("dockyard.server")

FLOW_GROUP_SETTINGS = {"heartbeat_enabled": True, "lazarus_enabled": True, "version_locking_enabled": False}
_OLDEST_CORE = (0, 6, 1)


def _check_core_version(version: Any) -> str | None:
    if version is None:
        return None
    numbers = tuple(int(n) for n in re.findall(r"\d+", str(version))[:3])
    if numbers and numbers < _OLDEST_CORE:
        raise InvalidInput(f"Prefect core version {version} is too old; 0.6.1 or later is required.")
    return str(version)


def unscheduled_required_parameters(flow: Row, group: Mapping[str, Any] | None) -> set[str]:
    """Required parameters some clock of the flow's schedule would leave without a value
    (the flow group's defaults count for every clock)."""
    schedule = effective_schedule(flow, group)
    required = {
        str(p.get("name"))
        for p in flow.get("parameters") or []
        if isinstance(p, Mapping) and p.get("required")
    }
    if schedule is None or not required:
        return set()
    missing = required - set((group or {}).get("default_parameters") or {})
    clocks = schedule.get("clocks") if isinstance(schedule, Mapping) else None
    unmet: set[str] = set()
    for clock in clocks if isinstance(clocks, list) else []:
        given = clock.get("parameter_defaults") if isinstance(clock, Mapping) else None
        unmet |= missing - set(given if isinstance(given, Mapping) else {})
    return unmet


class Flows:
    def __init__(self, deps: Dependencies, *, on_activated: Callable[[str], object] | None = None) -> None:
        self._deps = deps
        self._runs = FlowRuns(deps)
        # Called once a flow's schedule is active and committed: the scheduler creates
        # its runs at once instead of at its next pass.
        self._on_activated = on_activated

    def create_flow(
        self,
        project_id: str,
        serialized_flow: Any,
        *,
        version_group_id: str | None = None,
        set_schedule_active: bool | None = True,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        if not isinstance(serialized_flow, Mapping) or not isinstance(serialized_flow.get("name"), str):
            raise InvalidInput("serialized_flow must be a serialized flow object with a 'name'.")
        core_version = _check_core_version(serialized_flow.get("__version__"))
        with self._deps.store.unit_of_work(write=True) as session:
            project = require(session, "project", project_id, f"Project {project_id} not found.")
            name = serialized_flow["name"]
            group_name = version_group_id or self._version_group_of(session, project_id, name)
            group = self._flow_group(session, project["tenant_id"], group_name)
            if idempotency_key is not None and group.get("idempotency_key") == idempotency_key:
                current = first(
                    session,
                    "flow",
                    all_of(eq("flow_group_id", group["id"]), eq("archived", False)),
                    Order("version", descending=True),
                )
                if current is not None:
                    return str(current["id"])
            flow = self._insert_flow(
                session,
                project,
                group,
                dict(serialized_flow),
                core_version=core_version,
                schedule_active=bool(set_schedule_active),
                description=description,
                key=idempotency_key,
            )
        if flow["is_schedule_active"]:
            self._activated(str(flow["id"]))
        return str(flow["id"])

    def _version_group_of(self, session: StoreSession, project_id: str, name: str) -> str:
        newest = first(
            session,
            "flow",
            all_of(eq("project_id", project_id), eq("name", name)),
            Order("created", descending=True),
        )
        return str(newest["version_group_id"]) if newest else self._deps.new_id()

    def _flow_group(self, session: StoreSession, tenant_id: str, name: str) -> Row:
        group = first(session, "flow_group", all_of(eq("tenant_id", tenant_id), eq("name", name)))
        if group is not None:
            return group
        now = self._deps.now()
        group = {
            "id": self._deps.new_id(),
            "tenant_id": tenant_id,
            "name": name,
            "settings": dict(FLOW_GROUP_SETTINGS),
            "default_parameters": {},
            "created": now,
            "updated": now,
        }
        session.insert("flow_group", group)
        return group

    def _insert_flow(
        self,
        session: StoreSession,
        project: Row,
        group: Row,
        serialized: dict[str, Any],
        *,
        core_version: str | None,
        schedule_active: bool,
        description: str | None,
        key: str | None,
    ) -> Row:
        now, flow_id = self._deps.now(), self._deps.new_id()
        siblings = session.select(Select("flow", where=eq("flow_group_id", group["id"])))
        tasks, edges = serialized.pop("tasks", None), serialized.pop("edges", None)
        flow: Row = {
            "id": flow_id,
            "tenant_id": project["tenant_id"],
            "project_id": project["id"],
            "flow_group_id": group["id"],
            "version_group_id": group["name"],
            "version": max((int(f["version"] or 0) for f in siblings), default=0) + 1,
            "name": serialized["name"],
            "description": description,
            "core_version": core_version,
            "storage": serialized.get("storage"),
            "run_config": serialized.get("run_config"),
            "environment": serialized.get("environment"),
            "parameters": serialized.get("parameters") or [],
            "settings": {},
            "schedule": serialized.get("schedule"),
            "is_schedule_active": False,
            "archived": False,
            "created": now,
            "updated": now,
            "serialized_flow": {**serialized, "tasks": [], "edges": []},
        }
        # As in Prefect Server, a schedule that cannot be turned on (a required parameter no
        # clock gives) leaves the new flow inactive rather than failing its registration.
        if schedule_active and effective_schedule(flow, group) is not None:
            flow["is_schedule_active"] = not unscheduled_required_parameters(flow, group)
        session.insert("flow", flow)
        self._append(session, flow, tasks, edges, now)
        for sibling in siblings:
            if not sibling["archived"]:
                session.update("flow", eq("id", sibling["id"]), {"archived": True, "updated": now})
                unschedule(session, eq("id", sibling["id"]))  # an archived version runs no more
        session.update("flow_group", eq("id", group["id"]), {"idempotency_key": key, "updated": now})
        return flow

    def _append(self, session: StoreSession, flow: Row, tasks: Any, edges: Any, now: str) -> None:
        added_tasks = insert_tasks(session, flow, tasks, self._deps.new_id, now)
        added_edges = insert_edges(session, flow, edges, self._deps.new_id, now)
        if added_tasks or added_edges:
            current = dict(flow["serialized_flow"])
            current["tasks"] = [*current.get("tasks", []), *added_tasks]
            current["edges"] = [*current.get("edges", []), *added_edges]
            flow["serialized_flow"] = current
            session.update("flow", eq("id", flow["id"]), {"serialized_flow": current, "updated": now})

    def register_tasks(self, flow_id: str, serialized_tasks: Any) -> None:
        with self._deps.store.unit_of_work(write=True) as session:
            flow = require(session, "flow", flow_id, f"Flow {flow_id} not found.")
            self._append(session, flow, serialized_tasks, None, self._deps.now())

    def register_edges(self, flow_id: str, serialized_edges: Any) -> None:
        with self._deps.store.unit_of_work(write=True) as session:
            flow = require(session, "flow", flow_id, f"Flow {flow_id} not found.")
            self._append(session, flow, None, serialized_edges, self._deps.now())

    def set_schedule_active(self, flow_id: str, active: bool) -> None:
        """Turn a flow's schedule on (its runs are created at once) or off (its scheduled
        runs that have not started are deleted). A flow without a schedule stays off; one
        whose schedule leaves a required parameter without a value cannot be turned on."""
        with self._deps.store.unit_of_work(write=True) as session:
            flow = require(session, "flow", flow_id, f"Flow {flow_id} not found.")
            group = by_id(session, "flow_group", str(flow["flow_group_id"]))
            is_active = active and effective_schedule(flow, group) is not None
            if is_active and unscheduled_required_parameters(flow, group):
                raise InvalidInput("Can not schedule a flow that has required parameters.")
            session.update(
                "flow", eq("id", flow_id), {"is_schedule_active": is_active, "updated": self._deps.now()}
            )
            if not is_active:
                unschedule(session, eq("id", flow_id))
        if is_active:
            self._activated(flow_id)

    def archive_flow(self, flow_id: str) -> bool:
        """Archive the flow, as Prefect Server does: its Scheduled runs leave the queue -
        those a schedule created are deleted, those created on request are cancelled
        ("Flow … was archived."). False when there is no such flow."""
        with self._deps.store.unit_of_work(write=True) as session:
            if (
                session.update("flow", eq("id", flow_id), {"archived": True, "updated": self._deps.now()})
                == 0
            ):
                return False
            scheduled = all_of(eq("flow_id", flow_id), eq("state", "Scheduled"))
            delete_flow_runs(session, all_of(scheduled, eq("auto_scheduled", True)))
            message = f"Flow {flow_id} was archived."
            for run in session.select(Select("flow_run", where=scheduled)):
                self._runs.cancel_in(session, run, message)
            return True

    def delete_flow(self, flow_id: str) -> bool:
        """Delete the flow with its runs (their task runs, states, logs, artifacts), tasks
        and edges; False when there is no such flow."""
        with self._deps.store.unit_of_work(write=True) as session:
            return delete_flows(session, eq("id", flow_id)) > 0

    def update_flow_project(self, flow_id: str, project_id: str) -> str:
        """Move the flow to another project of its tenant."""
        with self._deps.store.unit_of_work(write=True) as session:
            flow, project = by_id(session, "flow", flow_id), by_id(session, "project", project_id)
            if flow is None or project is None or flow["tenant_id"] != project["tenant_id"]:
                raise InvalidInput("Invalid flow or project ID.")
            session.update("flow", eq("id", flow_id), {"project_id": project_id, "updated": self._deps.now()})
            return flow_id

    def _activated(self, flow_id: str) -> None:
        if self._on_activated is None:
            return
        try:
            self._on_activated(flow_id)
        except Exception:  # the flag is set; the scheduler's next pass creates the runs
            log.warning("Could not schedule the runs of flow %s now", flow_id, exc_info=True)
