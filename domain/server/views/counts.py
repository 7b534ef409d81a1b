"""Flow runs by state, for the server's metrics (read when Prometheus scrapes).

One count per state Prefect 1 knows, each over the store's (state, start time) index,
plus the runs in any other state: a bounded number of cheap reads in one snapshot, however
many runs the store holds.
"""

from __future__ import annotations

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.filters import Fn, Measure, Select, eq
from dockyard.domain.states import KNOWN_STATES

OTHER = "other"
_COUNT = (Measure(Fn.COUNT),)


class RunCounts:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def by_state(self) -> dict[str, int]:
        """Every known state (zeros too, so a series never vanishes) and ``other``."""
        counts: dict[str, int] = {}
        with self._deps.store.unit_of_work(write=False) as session:
            for state in sorted(KNOWN_STATES):
                counts[state] = int(
                    session.aggregate(Select("flow_run", where=eq("state", state)), _COUNT)[0]
                )
            total = int(session.aggregate(Select("flow_run"), _COUNT)[0])
        counts[OTHER] = max(0, total - sum(counts.values()))
        return counts
