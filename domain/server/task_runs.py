"""Task runs: the flow runner's ``get_or_create_task_run_info`` and state writes, plus the
artifacts tasks publish."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.errors import InvalidInput, NotFound
from dockyard.domain.server.filters import Row, all_of, eq
from dockyard.domain.server.lookup import by_id, first, require
from dockyard.domain.server.runs import new_task_run
from dockyard.domain.server.transitions import history_row, task_run_write
from dockyard.domain.states import SCHEDULED_STATES

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession


class TaskRuns:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def get_or_create(self, flow_run_id: str, task_id: str, map_index: int | None) -> Row:
        """The task run for ``(flow_run_id, task_id, map_index)`` (-1 when not mapped),
        created Pending (version 0) when it does not exist yet: mapped children."""
        index = -1 if map_index is None else map_index
        with self._deps.store.unit_of_work(write=True) as session:
            key = all_of(eq("flow_run_id", flow_run_id), eq("task_id", task_id), eq("map_index", index))
            existing = first(session, "task_run", key)
            if existing is not None:
                return existing
            run = require(session, "flow_run", flow_run_id, f"Invalid flow run ID: {flow_run_id}")
            task = by_id(session, "task", task_id)
            if task is None or task["flow_id"] != run["flow_id"]:
                raise InvalidInput(f"Invalid task ID: {task_id}")
            # A mapped child reports version 0, as Prefect Server's does.
            task_run = new_task_run(
                self._deps.new_id(), run, task, map_index=index, version=0, now=self._deps.now()
            )
            session.insert("task_run", task_run)
            return task_run

    def info(self, task_run_id: str) -> Row | None:
        with self._deps.store.unit_of_work(write=False) as session:
            return by_id(session, "task_run", task_run_id)

    def set_states(self, states: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
        """Write each ``(task_run_id, state)``; all or none."""
        with self._deps.store.unit_of_work(write=True) as session:
            now = self._deps.now()
            for task_run_id, doc in states:
                task_run = by_id(session, "task_run", task_run_id)
                if task_run is None:
                    raise NotFound(f"State update failed for task run ID {task_run_id}: task run not found.")
                flow_run = by_id(session, "flow_run", task_run["flow_run_id"]) or {}
                self.write_state(session, task_run, flow_run.get("state"), doc, now)
        if any(doc.get("type") in SCHEDULED_STATES for _, doc in states):
            self._deps.queue_signal.bump()  # a retry or resume: the run needs an agent again
        return [task_run_id for task_run_id, _ in states]

    def write_state(
        self,
        session: StoreSession,
        task_run: Row,
        flow_run_state: str | None,
        doc: Mapping[str, Any],
        now: str,
    ) -> None:
        """Write a new state onto ``task_run`` in the caller's unit of work, by the state
        rules (a running state needs a Running flow run; a history row is kept)."""
        changes = task_run_write(task_run, flow_run_state, doc, now)
        session.update("task_run", eq("id", task_run["id"]), changes)
        history = history_row("task_run_id", task_run["id"], changes, self._deps.new_id())
        session.insert("task_run_state", {**history, "tenant_id": task_run["tenant_id"]})
        task_run.update(changes)

    def create_artifact(self, task_run_id: str, kind: str, data: Any) -> str:
        with self._deps.store.unit_of_work(write=True) as session:
            task_run = require(session, "task_run", task_run_id, f"Task run {task_run_id} not found.")
            artifact_id, now = self._deps.new_id(), self._deps.now()
            session.insert(
                "task_run_artifact",
                {
                    "id": artifact_id,
                    "tenant_id": task_run["tenant_id"],
                    "task_run_id": task_run_id,
                    "kind": kind,
                    "data": data,
                    "created": now,
                    "updated": now,
                },
            )
            return artifact_id

    def update_artifact(self, artifact_id: str, data: Any) -> None:
        with self._deps.store.unit_of_work(write=True) as session:
            if not session.update(
                "task_run_artifact", eq("id", artifact_id), {"data": data, "updated": self._deps.now()}
            ):
                raise NotFound(f"Task run artifact {artifact_id} not found.")

    def delete_artifact(self, artifact_id: str) -> None:
        with self._deps.store.unit_of_work(write=True) as session:
            if not session.delete("task_run_artifact", eq("id", artifact_id)):
                raise NotFound(f"Task run artifact {artifact_id} not found.")
