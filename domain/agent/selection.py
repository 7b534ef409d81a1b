"""Which runs an agent takes.

The backend filters by labels already; the agent checks again, so a misbehaving or foreign
backend can never hand it a run it does not serve.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from dockyard.domain.agent.model import FlowRun


def serves(agent_labels: Iterable[str], run_labels: Iterable[str]) -> bool:
    """A run's labels must all be the agent's; a labelled agent does not take unlabelled runs."""
    agent, run = set(agent_labels), set(run_labels)
    if not run:
        return not agent
    return run <= agent


def start_time(run: FlowRun, now: datetime) -> datetime:
    """When the run may start: its state's ``start_time``, or now if it has none (or an
    unreadable one)."""
    value = run.start_time
    if not value:
        return now
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return now
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def in_start_order(runs: Sequence[FlowRun], now: datetime) -> list[FlowRun]:
    """Runs ordered by when they may start (as instants, not as ISO strings)."""
    return sorted(runs, key=lambda run: start_time(run, now))
