"""Which flow runs an agent may take: the rules behind ``get_runs_in_queue``.

A run is due when its state is in the scheduled family with ``state_start_time <= before``,
or when it is Running with a task run due the same way (a task retry or resume). An agent
takes a run only if the run's labels are a subset of its own, and an agent with labels never
takes a run without any. Labels are filtered in the query itself over every due run, so
runs for other agents can never starve this one out of the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dockyard.domain.server.filters import (
    AnyOf,
    Compare,
    Filter,
    Negate,
    Op,
    Order,
    Related,
    Select,
    all_of,
    eq,
)
from dockyard.domain.states import SCHEDULED_STATES

RUNS_RETURNED_LIMIT = 25


def _due(before: str) -> Filter:
    return all_of(
        Compare("state", Op.IN, sorted(SCHEDULED_STATES)),
        Compare("state_start_time", Op.LTE, before),
    )


def serves(agent_labels: Iterable[str], run_labels: Iterable[str]) -> bool:
    """Whether an agent with ``agent_labels`` may take a run with ``run_labels``: the rule
    ``label_filter`` puts to the store, for one pair."""
    agent, run = set(agent_labels), set(run_labels)
    return run <= agent and bool(run) == bool(agent)


def label_filter(agent_labels: Sequence[str]) -> Filter:
    labels = sorted(set(agent_labels))
    if not labels:
        return eq("labels", [])
    return all_of(Compare("labels", Op.CONTAINED_IN, labels), Negate(eq("labels", [])))


def queue_query(tenant_id: str, before: str, agent_labels: Sequence[str]) -> Select:
    """The store query for runs this agent may take, oldest start first, at most 25."""
    due = AnyOf((_due(before), all_of(eq("state", "Running"), Related("task_runs", _due(before)))))
    return Select(
        "flow_run",
        where=all_of(eq("tenant_id", tenant_id), due, label_filter(agent_labels)),
        order_by=(Order("state_start_time"),),
        limit=RUNS_RETURNED_LIMIT,
    )
