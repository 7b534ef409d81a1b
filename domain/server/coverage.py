"""Whether any live agent would take a waiting run: the "no agent" warning.

A run waits in the queue until an agent whose labels cover the run's asks for work
(``queue.serves``). An agent that has not asked for a while may be gone: dockyard's agent
asks at least every 20 s (its long poll) and Prefect 1's every 10 s, so one silent for
``AGENT_SEEN_WITHIN`` has missed several turns in a row and is not counted. A run nobody
counted serves is flagged by ``dockyard run list``/``show`` and logged by the server when
it is created, so a typo in a label is seen at once rather than after a long wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.domain.server.queue import serves
from dockyard.domain.states import SCHEDULED_STATES

AGENT_SEEN_WITHIN = timedelta(minutes=2)


@dataclass(frozen=True)
class AgentSighting:
    """An agent as the backend last saw it: its labels and when it last asked for work."""

    labels: tuple[str, ...]
    last_queried: datetime | None


def is_waiting(state: str | None) -> bool:
    """A run in the queue, for an agent to take (the scheduled family of states)."""
    return state in SCHEDULED_STATES


def live_agents(agents: Iterable[AgentSighting], now: datetime) -> list[AgentSighting]:
    """The agents seen within ``AGENT_SEEN_WITHIN`` of ``now``."""
    return [
        agent
        for agent in agents
        if agent.last_queried is not None and now - agent.last_queried <= AGENT_SEEN_WITHIN
    ]


def unserved(state: str | None, run_labels: Sequence[str], live: Iterable[AgentSighting]) -> bool:
    """True for a waiting run that none of the ``live`` agents would take."""
    return is_waiting(state) and not any(serves(agent.labels, run_labels) for agent in live)
