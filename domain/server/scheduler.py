"""The scheduler: the next runs of every flow with an active schedule, created ahead.

Prefect Server's rules, kept:

* A flow is scheduled while its schedule is active and it is not archived; its schedule is
  its flow group's if the group has one, else its own.
* A pass creates the flow's next ``RUNS_AHEAD`` (10) events after now, except those no later
  than the latest auto-scheduled run the flow already has (a run someone deleted is not
  brought back); events of clocks with parameter defaults or labels are always tried, since
  several of them may share a start time. Nothing is ever created in the past.
* A scheduled run is an ordinary run (``create_flow_run``'s rules: the clock's
  ``parameter_defaults`` over the flow's and its group's defaults, the clock's ``labels``
  instead of the run's), marked ``auto_scheduled``.
* Deactivating a schedule, or archiving the flow, deletes its auto-scheduled runs that are
  still Scheduled.

A run per (flow, start time) is created once only, across passes, restarts and servers
sharing a database: its idempotency key, ``auto-scheduled:<UTC start>`` (plus a digest of
the clock's parameters and labels), is looked up in the same write transaction that inserts
it, and the store serialises writers across processes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dockyard.domain.errors import DockyardError
from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.errors import ApiError
from dockyard.domain.server.filters import (
    AnyOf,
    Compare,
    Filter,
    Op,
    Related,
    Row,
    Select,
    all_of,
    eq,
    json_text,
)
from dockyard.domain.server.lookup import by_id
from dockyard.domain.server.removal import delete_flow_runs
from dockyard.domain.server.runs import FlowRuns, NewFlowRun
from dockyard.domain.server.schedules import ClockEvent, Schedule, UnsupportedSchedule, load_schedule
from dockyard.domain.server.timestamps import canonical, parse

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

log = logging.getLogger("dockyard.server.scheduler")

RUNS_AHEAD = 10
# Runs created per write transaction: short enough that API writes never wait long.
WRITE_BATCH = 200
# Only what scheduling reads of a flow: never its (possibly large) serialized form.
FLOW_COLUMNS = (
    "id",
    "tenant_id",
    "flow_group_id",
    "schedule",
    "parameters",
    "run_config",
    "environment",
    "archived",
    "is_schedule_active",
)

ACTIVE: Filter = all_of(eq("is_schedule_active", True), eq("archived", False))
# Runs the scheduler made that have not started: deleted when their schedule stops.
WAITING = all_of(eq("auto_scheduled", True), eq("state", "Scheduled"))


@dataclass(frozen=True)
class SchedulerPass:
    """What one pass did."""

    flows: int = 0  # flows with an active schedule
    created: int = 0  # runs created
    removed: int = 0  # runs of stopped schedules deleted
    unsupported: int = 0  # flows whose schedule could not be evaluated

    def actions(self) -> dict[str, int]:
        """What the pass did, by kind (the services' metrics)."""
        return {"created": self.created, "removed": self.removed}


@dataclass
class _Plan:
    flow_id: str
    events: list[ClockEvent] = field(default_factory=list)


def idempotency_key(event: ClockEvent) -> str:
    key = f"auto-scheduled:{canonical(event.start_time)}"
    if event.parameter_defaults or event.labels is not None:
        detail = json_text({"parameters": dict(event.parameter_defaults), "labels": event.labels})
        key += ":" + hashlib.sha256(detail.encode()).hexdigest()[:16]
    return key


def effective_schedule(flow: Row, group: Mapping[str, Any] | None) -> Any:
    """The schedule a flow runs on: its flow group's, if set, else its own."""
    group_schedule = (group or {}).get("schedule")
    return group_schedule if group_schedule is not None else flow.get("schedule")


def unschedule(session: StoreSession, where: Filter) -> int:
    """Delete the waiting auto-scheduled runs of the flows matching ``where``."""
    return delete_flow_runs(session, all_of(WAITING, Related("flow", where)))


class Scheduler:
    def __init__(self, deps: Dependencies, runs: FlowRuns, *, runs_ahead: int = RUNS_AHEAD) -> None:
        self._deps = deps
        self._runs = runs
        self._runs_ahead = runs_ahead
        self._parsed: dict[str, Schedule | UnsupportedSchedule] = {}
        self._reported: set[tuple[str, str]] = set()  # (flow, problem) already logged

    # -- passes ---------------------------------------------------------------------------

    def run_once(self) -> SchedulerPass:
        """One pass over every flow: remove the runs of stopped schedules, create the
        missing runs of active ones."""
        removed = self._remove_stopped()
        now = self._deps.clock.now()
        with self._deps.store.unit_of_work(write=False) as session:
            flows = session.select(Select("flow", where=ACTIVE, columns=FLOW_COLUMNS))
            groups = {
                str(g["id"]): g for g in session.select(Select("flow_group", where=Related("flows", ACTIVE)))
            }
            future = self._future_runs(session, now)
        plans, unsupported = [], 0
        for flow in flows:
            plan = self._plan(flow, groups.get(str(flow["flow_group_id"])), future.get(str(flow["id"])), now)
            if plan is None:
                unsupported += 1
            elif plan.events:
                plans.append(plan)
        created = self._create(plans, now)
        return SchedulerPass(flows=len(flows), created=created, removed=removed, unsupported=unsupported)

    def schedule_flow(self, flow_id: str) -> int:
        """Create one flow's missing runs now (its schedule was just turned on)."""
        now = self._deps.clock.now()
        with self._deps.store.unit_of_work(write=False) as session:
            flow = self._active_flow(session, flow_id)
            if flow is None:
                return 0
            group = by_id(session, "flow_group", str(flow["flow_group_id"]))
            future = self._future_runs(session, now, flow_id).get(flow_id)
        plan = self._plan(flow, group, future, now)
        return self._create([plan], now) if plan is not None and plan.events else 0

    def _remove_stopped(self) -> int:
        stopped = AnyOf((eq("archived", True), eq("is_schedule_active", False)))
        with self._deps.store.unit_of_work(write=True) as session:
            removed = unschedule(session, stopped)
        if removed:
            log.info("Removed %d scheduled run(s) of flows whose schedule stopped", removed)
        return removed

    # -- planning (outside any write) -----------------------------------------------------

    def _future_runs(
        self, session: StoreSession, now: datetime, flow_id: str | None = None
    ) -> dict[str, list[str]]:
        """Start times of each flow's auto-scheduled runs after ``now``."""
        where = all_of(eq("auto_scheduled", True), Compare("scheduled_start_time", Op.GT, canonical(now)))
        if flow_id is not None:
            where = all_of(where, eq("flow_id", flow_id))
        found: dict[str, list[str]] = {}
        for row in session.select(
            Select("flow_run", where=where, columns=("flow_id", "scheduled_start_time"))
        ):
            found.setdefault(str(row["flow_id"]), []).append(str(row["scheduled_start_time"]))
        return found

    def _plan(
        self, flow: Row, group: Mapping[str, Any] | None, future: Sequence[str] | None, now: datetime
    ) -> _Plan | None:
        """The events of ``flow`` that need a run; None when its schedule cannot be read."""
        plan = _Plan(str(flow["id"]))
        doc = effective_schedule(flow, group)
        if doc is None:
            return plan
        future = future or ()
        # Runs already created for the next events: with a schedule that has not changed
        # they are exactly the next ones, so there is nothing to compute (the common case).
        if len(future) >= self._runs_ahead:
            return plan
        schedule = self._schedule(plan.flow_id, doc)
        if schedule is None:
            return None
        latest = max(future, default=None)
        after, wanted = now, self._runs_ahead
        if latest is not None and not schedule.adjustments:
            # The runs made are the first events after now: only the ones after the latest
            # are missing, and computing just those spares walking the schedule again.
            # (Adjustments move times, so an adjusted latest says nothing of the clocks.)
            after, wanted = parse(latest), self._runs_ahead - len(future)
        try:
            events = schedule.next(wanted, after=after)
        except Exception as exc:  # a schedule must never stop the scheduler
            self._report(plan.flow_id, f"evaluating the schedule failed: {exc!r}")
            return None
        for event in events:
            start = canonical(event.start_time)
            if start <= canonical(now):
                continue  # never a run in the past
            shared = event.parameter_defaults or event.labels is not None
            if not shared and latest is not None and start <= latest:
                continue
            plan.events.append(event)
        return plan

    def _schedule(self, flow_id: str, doc: Any) -> Schedule | None:
        text = json_text(doc)
        parsed = self._parsed.get(text)
        if parsed is None:
            try:
                parsed = load_schedule(doc)
            except UnsupportedSchedule as exc:
                parsed = exc
            if len(self._parsed) > 10_000:
                self._parsed.clear()
            self._parsed[text] = parsed
        if isinstance(parsed, UnsupportedSchedule):
            self._report(flow_id, f"unsupported schedule: {parsed}")
            return None
        return parsed

    def _report(self, flow_id: str, problem: str) -> None:
        if (flow_id, problem) not in self._reported:
            self._reported.add((flow_id, problem))
            log.warning("Flow %s gets no scheduled runs: %s", flow_id, problem)

    # -- writing --------------------------------------------------------------------------

    def _create(self, plans: Sequence[_Plan], now: datetime) -> int:
        created = 0
        batch: list[_Plan] = []
        size = 0
        for plan in plans:
            batch.append(plan)
            size += len(plan.events)
            if size >= WRITE_BATCH:
                created += self._write(batch)
                batch, size = [], 0
        if batch:
            created += self._write(batch)
        if created:
            self._deps.queue_signal.bump()
            log.info("Scheduled %d flow run(s)", created)
        return created

    def _write(self, plans: Sequence[_Plan]) -> int:
        """Insert the planned runs in one transaction, checking again that each flow is
        still scheduled and each run not yet created (another pass or server may have)."""
        created = 0
        try:
            with self._deps.store.unit_of_work(write=True) as session:
                now = self._deps.now()
                for plan in plans:
                    created += self._write_flow(session, plan, now)
        except DockyardError as exc:
            log.warning("Could not create scheduled runs now (next pass retries): %s", exc)
            return 0
        return created

    def _write_flow(self, session: StoreSession, plan: _Plan, now: str) -> int:
        flow = self._active_flow(session, plan.flow_id)
        if flow is None:
            return 0
        group = by_id(session, "flow_group", str(flow["flow_group_id"])) or {}
        tasks = session.select(Select("task", where=eq("flow_id", plan.flow_id), columns=("id", "cache_key")))
        keys = [idempotency_key(event) for event in plan.events]
        made = all_of(eq("flow_id", plan.flow_id), Compare("idempotency_key", Op.IN, keys))
        exists = {
            row["idempotency_key"]
            for row in session.select(Select("flow_run", where=made, columns=("idempotency_key",)))
        }
        created = 0
        for event, key in zip(plan.events, keys, strict=True):
            if key in exists:
                continue
            exists.add(key)
            request = NewFlowRun(
                flow_id=plan.flow_id,
                parameters=dict(event.parameter_defaults),
                labels=None if event.labels is None else list(event.labels),
                scheduled_start_time=canonical(event.start_time),
                idempotency_key=key,
                auto_scheduled=True,
            )
            try:
                self._runs.insert(session, flow, group, tasks, request=request, now=now)
            except ApiError as exc:  # e.g. a required parameter no clock provides
                self._report(plan.flow_id, str(exc))
                return created
            created += 1
        return created

    @staticmethod
    def _active_flow(session: StoreSession, flow_id: str) -> Row | None:
        rows = session.select(Select("flow", where=all_of(eq("id", flow_id), ACTIVE), columns=FLOW_COLUMNS))
        return rows[0] if rows else None
