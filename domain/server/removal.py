"""Deleting flows and flow runs with everything that hangs off them.

A flow run takes its task runs, both state histories, its logs and its task runs'
artifacts along; a flow takes its runs, tasks and edges. The caller's unit of work makes
each deletion all-or-nothing. Children are found by id (``IN`` lists, in batches), which
the stores answer from their indexes, rather than by relationship filters that would scan
the large tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from dockyard.domain.server.filters import Compare, Filter, Op, Select

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

BATCH = 500  # ids per IN list, well under SQLite's limit on bound parameters


def _batches(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), BATCH):
        yield list(ids[start : start + BATCH])


def _ids(session: StoreSession, table: str, where: Filter) -> list[str]:
    return [str(row["id"]) for row in session.select(Select(table, where, columns=("id",)))]


def delete_flow_runs(session: StoreSession, where: Filter) -> int:
    """Delete the flow runs matching ``where`` and what belongs to them; return how many
    runs were deleted."""
    run_ids = _ids(session, "flow_run", where)
    for runs in _batches(run_ids):
        of_runs = Compare("flow_run_id", Op.IN, runs)
        for task_runs in _batches(_ids(session, "task_run", of_runs)):
            of_task_runs = Compare("task_run_id", Op.IN, task_runs)
            session.delete("task_run_artifact", of_task_runs)
            session.delete("task_run_state", of_task_runs)
        for table in ("log", "flow_run_state", "task_run"):
            session.delete(table, of_runs)
        session.delete("flow_run", Compare("id", Op.IN, runs))
    return len(run_ids)


def delete_flows(session: StoreSession, where: Filter) -> int:
    """Delete the flows matching ``where`` with their runs, tasks and edges; return how
    many flows were deleted."""
    flow_ids = _ids(session, "flow", where)
    for flows in _batches(flow_ids):
        of_flows = Compare("flow_id", Op.IN, flows)
        delete_flow_runs(session, of_flows)
        session.delete("edge", of_flows)
        session.delete("task", of_flows)
        session.delete("flow", Compare("id", Op.IN, flows))
    return len(flow_ids)
