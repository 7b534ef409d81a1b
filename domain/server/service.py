"""ServerService: every use case of the embedded backend behind one object.

The GraphQL adapter holds one of these; reads go through ``reading()``, a consistent
snapshot for a whole query document.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from dockyard.domain.server.agents import Agents
from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.flow_groups import FlowGroups
from dockyard.domain.server.flows import Flows
from dockyard.domain.server.runs import FlowRuns
from dockyard.domain.server.scheduler import Scheduler
from dockyard.domain.server.task_runs import TaskRuns
from dockyard.domain.server.tenancy import Tenancy
from dockyard.domain.server.views import Views

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession


class ServerService:
    def __init__(self, deps: Dependencies, *, scheduling: bool = True) -> None:
        """``scheduling``: turning a schedule on creates its runs at once (the scheduler
        service is running); off, the flag is only stored."""
        self.deps = deps
        self.tenancy = Tenancy(deps)
        self.flow_groups = FlowGroups(deps)
        self.flow_runs = FlowRuns(deps)
        self.scheduler = Scheduler(deps, self.flow_runs)
        self.flows = Flows(deps, on_activated=self.scheduler.schedule_flow if scheduling else None)
        self.task_runs = TaskRuns(deps)
        self.agents = Agents(deps)
        self.views = Views(deps)  # what the dashboard's pages read

    def reading(self) -> AbstractContextManager[StoreSession]:
        return self.deps.store.unit_of_work(write=False)
