"""Flow runs: creating them, writing their states, cancelling, naming, relabelling and
deleting them.

Creating a run inserts the run, one Pending task run per task of its flow (the flow runner
finds each task's backend id only through these) and the Scheduled state, in one unit of
work so no poller ever sees half a run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.domain.server.context import ANONYMOUS, Caller, Dependencies
from dockyard.domain.server.coverage import (
    AGENT_SEEN_WITHIN,
    AgentSighting,
    is_waiting,
    live_agents,
    unserved,
)
from dockyard.domain.server.errors import InvalidInput, NotFound
from dockyard.domain.server.filters import Compare, Op, Order, Row, Select, all_of, eq
from dockyard.domain.server.lookup import by_id, first, require
from dockyard.domain.server.names import unique_run_name
from dockyard.domain.server.removal import delete_flow_runs
from dockyard.domain.server.resolution import (
    check_requested_run_config,
    run_config,
    run_labels,
    run_parameters,
)
from dockyard.domain.server.timestamps import normalise, parse
from dockyard.domain.server.transitions import derived_columns, flow_run_write, history_row
from dockyard.domain.states import FINISHED_STATES, RUNNING_STATES, SCHEDULED_STATES, state_document

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

log = logging.getLogger("dockyard.server")

TASK_RUN_CREATED = {"type": "Pending", "message": "Task run created"}


def new_task_run(task_run_id: str, run: Row, task: Row, *, map_index: int, version: int, now: str) -> Row:
    """A task run as it is created: Pending, "Task run created"."""
    return {
        "id": task_run_id,
        "tenant_id": run["tenant_id"],
        "flow_run_id": run["id"],
        "task_id": task["id"],
        "map_index": map_index,
        "cache_key": task.get("cache_key"),
        "run_count": 0,
        "version": version,
        "state": "Pending",
        "serialized_state": dict(TASK_RUN_CREATED),
        "state_message": TASK_RUN_CREATED["message"],
        "state_timestamp": now,
        "created": now,
        "updated": now,
    }


@dataclass(frozen=True)
class NewFlowRun:
    flow_id: str | None = None
    version_group_id: str | None = None
    parameters: Any = None
    labels: Sequence[str] | None = None
    run_config: Any = None
    context: Any = None
    scheduled_start_time: str | None = None
    idempotency_key: str | None = None
    name: str | None = None
    auto_scheduled: bool = False  # created by a schedule, not on request


class FlowRuns:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def create_flow_run(self, request: NewFlowRun) -> str:
        check_requested_run_config(request.run_config)
        run_id, created = self._create(request)
        if created:  # committed: waiting agents may look now
            self._deps.queue_signal.bump()
            self._warn_if_unserved(run_id)
        return run_id

    def _warn_if_unserved(self, run_id: str) -> None:
        """One log line for a new run that no agent seen lately would take."""
        with self._deps.store.unit_of_work(write=False) as session:
            run = by_id(session, "flow_run", run_id)
            if run is None or not is_waiting(run.get("state")):
                return
            agents = session.select(
                Select("agent", where=eq("tenant_id", run["tenant_id"]), columns=("labels", "last_queried"))
            )
        sightings = [
            AgentSighting(
                tuple(agent.get("labels") or ()),
                parse(agent["last_queried"]) if agent.get("last_queried") else None,
            )
            for agent in agents
        ]
        labels = list(run.get("labels") or [])
        if unserved(run["state"], labels, live_agents(sightings, self._deps.clock.now())):
            log.warning(
                "Flow run %s (%s) has labels %s, which no agent seen in the last %d s serves: "
                "it waits until one with these labels (or more) asks for work",
                run_id,
                run.get("name"),
                labels,
                AGENT_SEEN_WITHIN.total_seconds(),
            )

    def _create(self, request: NewFlowRun) -> tuple[str, bool]:
        with self._deps.store.unit_of_work(write=True) as session:
            flow = self._flow_for(session, request)
            if request.idempotency_key is not None:
                same = self.with_key(session, flow["id"], request.idempotency_key)
                if same is not None:
                    return str(same["id"]), False
            group = by_id(session, "flow_group", flow["flow_group_id"]) or {}
            tasks = session.select(Select("task", where=eq("flow_id", flow["id"])))
            return self.insert(session, flow, group, tasks, request=request, now=self._deps.now()), True

    @staticmethod
    def with_key(session: StoreSession, flow_id: str, idempotency_key: str) -> Row | None:
        """The flow's run created with this idempotency key, if there is one."""
        return first(
            session, "flow_run", all_of(eq("flow_id", flow_id), eq("idempotency_key", idempotency_key))
        )

    def insert(
        self,
        session: StoreSession,
        flow: Row,
        group: Row,
        tasks: Sequence[Row],
        *,
        request: NewFlowRun,
        now: str,
    ) -> str:
        """Add one run of ``flow`` (with its Pending task runs and its Scheduled state) in
        the caller's unit of work. Idempotency keys are the caller's to check."""
        if request.context is not None and not isinstance(request.context, Mapping):
            raise InvalidInput("Flow run context must be a JSON object.")
        start = normalise(request.scheduled_start_time) if request.scheduled_start_time else now
        run_id = self._deps.new_id()
        run: Row = {
            "id": run_id,
            "tenant_id": flow["tenant_id"],
            "flow_id": flow["id"],
            "name": request.name or self._generated_name(session, flow["tenant_id"], run_id),
            "labels": run_labels(
                list(request.labels) if request.labels is not None else None,
                request.run_config,
                group,
                flow,
            ),
            "parameters": run_parameters(request.parameters, group, flow),
            "run_config": run_config(request.run_config, group, flow),
            "context": dict(request.context or {}),
            "idempotency_key": request.idempotency_key,
            "scheduled_start_time": start,
            "version": 0,
            "times_resurrected": 0,
            "auto_scheduled": request.auto_scheduled,
            "created": now,
            "updated": now,
        }
        scheduled = state_document("Scheduled", "Flow run scheduled.", start_time=parse(start))
        # The run is inserted with its first state already written: one row, one history entry.
        changes = flow_run_write(run, scheduled, now, None)
        session.insert("flow_run", {**run, **changes})
        self._history(session, run, changes)
        for task in tasks:
            session.insert(
                "task_run", new_task_run(self._deps.new_id(), run, task, map_index=-1, version=1, now=now)
            )
        return str(run["id"])

    def _generated_name(self, session: StoreSession, tenant_id: str, run_id: str) -> str:
        def taken(names: Sequence[str]) -> set[str]:
            same = all_of(eq("tenant_id", tenant_id), Compare("name", Op.IN, list(names)))
            return {
                str(row["name"]) for row in session.select(Select("flow_run", where=same, columns=("name",)))
            }

        return unique_run_name(self._deps.run_name, taken, run_id)

    def _flow_for(self, session: StoreSession, request: NewFlowRun) -> Row:
        if request.flow_id is not None:
            flow = require(session, "flow", request.flow_id, f"Flow {request.flow_id} not found.")
        elif request.version_group_id is not None:
            found = first(
                session,
                "flow",
                all_of(eq("version_group_id", request.version_group_id), eq("archived", False)),
                Order("version", descending=True),
            )
            if found is None:
                raise NotFound(f"No unarchived flow found in version group {request.version_group_id}.")
            flow = found
        else:
            raise InvalidInput("A flow_id or a version_group_id is required to create a flow run.")
        if flow["archived"]:
            raise InvalidInput(f"Flow {flow['id']} is archived.")
        return flow

    def write_state(
        self, session: StoreSession, run: Row, doc: Mapping[str, Any], caller: Caller, now: str
    ) -> None:
        """Write a new state onto ``run`` in the caller's unit of work, by the state rules:
        version, derived columns, a history row; a Cancelled run cancels its task runs."""
        changes = flow_run_write(run, doc, now, caller.agent_id)
        session.update("flow_run", eq("id", run["id"]), changes)
        self._history(session, run, changes)
        run.update(changes)
        if changes["state"] == "Cancelled":
            self._cancel_task_runs(session, run, now)

    def _history(self, session: StoreSession, run: Row, changes: Mapping[str, Any]) -> None:
        session.insert(
            "flow_run_state",
            {
                **history_row("flow_run_id", run["id"], changes, self._deps.new_id()),
                "tenant_id": run["tenant_id"],
            },
        )

    def _cancel_task_runs(self, session: StoreSession, run: Row, now: str) -> None:
        unfinished = all_of(eq("flow_run_id", run["id"]), Compare("state", Op.NIN, sorted(FINISHED_STATES)))
        cancelled = state_document("Cancelled", "Flow run is cancelled")
        for task_run in session.select(Select("task_run", where=unfinished)):
            changes = derived_columns(task_run, cancelled, now)
            session.update("task_run", eq("id", task_run["id"]), changes)
            session.insert(
                "task_run_state",
                {
                    **history_row("task_run_id", task_run["id"], changes, self._deps.new_id()),
                    "tenant_id": task_run["tenant_id"],
                },
            )

    def set_flow_run_states(
        self, states: Sequence[tuple[str, Mapping[str, Any]]], caller: Caller
    ) -> list[str]:
        """Write each ``(flow_run_id, state)``; all or none. Returns the run ids."""
        with self._deps.store.unit_of_work(write=True) as session:
            now = self._deps.now()
            for run_id, doc in states:
                run = by_id(session, "flow_run", run_id)
                if run is None:
                    raise NotFound(f"State update failed for flow run ID {run_id}: flow run not found.")
                self.write_state(session, run, doc, caller, now)
        if any(doc.get("type") in SCHEDULED_STATES for _, doc in states):
            self._deps.queue_signal.bump()  # rescheduled: back in the queue
        return [run_id for run_id, _ in states]

    def cancel_flow_run(self, run_id: str) -> str:
        """Finished: nothing changes. Running: Cancelling (the flow runner stops itself).
        Otherwise: Cancelled at once, with every unfinished task run."""
        with self._deps.store.unit_of_work(write=True) as session:
            run = require(session, "flow_run", run_id, f"Flow run {run_id} not found.")
            return self.cancel_in(session, run)

    def cancel_in(self, session: StoreSession, run: Row, message: str | None = None) -> str:
        """``cancel_flow_run`` inside the caller's unit of work; returns the run's state."""
        state = run.get("state")
        if state in FINISHED_STATES:
            return str(state)
        if state in RUNNING_STATES:
            doc = state_document("Cancelling", message or "Flow run is cancelling")
        else:
            doc = state_document("Cancelled", message or "Flow run is cancelled")
        self.write_state(session, run, doc, ANONYMOUS, self._deps.now())
        return str(doc["type"])

    def delete_flow_run(self, run_id: str) -> bool:
        """Delete the run with its task runs, states, logs and artifacts; False when there
        is no such run (Prefect Server answers ``success: false`` then)."""
        with self._deps.store.unit_of_work(write=True) as session:
            return delete_flow_runs(session, eq("id", run_id)) > 0

    def set_labels(self, run_id: str, labels: Sequence[str]) -> bool:
        """Replace the run's labels (sorted, without duplicates): the agents that may take
        it change, so waiting agents are told."""
        with self._deps.store.unit_of_work(write=True) as session:
            changed = session.update(
                "flow_run", eq("id", run_id), {"labels": sorted(set(labels)), "updated": self._deps.now()}
            )
        if changed:
            self._deps.queue_signal.bump()
        return changed > 0

    def set_name(self, table: str, run_id: str, name: str) -> None:
        if not name or not name.strip():
            raise InvalidInput("A run name must not be empty.")
        with self._deps.store.unit_of_work(write=True) as session:
            require(session, table, run_id, f"{table.replace('_', ' ').capitalize()} {run_id} not found.")
            session.update(table, eq("id", run_id), {"name": name, "updated": self._deps.now()})

    def heartbeat(self, table: str, run_id: str) -> None:
        with self._deps.store.unit_of_work(write=True) as session:
            now = self._deps.now()
            if session.update(table, eq("id", run_id), {"heartbeat": now, "updated": now}) == 0:
                raise NotFound(f"{table.replace('_', ' ').capitalize()} {run_id} not found.")
