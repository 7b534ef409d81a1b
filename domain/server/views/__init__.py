"""Read models for the dashboard: what its pages show, read in one snapshot per page."""

from __future__ import annotations

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.views.activity import ActivityViews
from dockyard.domain.server.views.agents import AgentViews
from dockyard.domain.server.views.counts import RunCounts
from dockyard.domain.server.views.flows import FlowViews
from dockyard.domain.server.views.runs import RunViews


class Views:
    def __init__(self, deps: Dependencies) -> None:
        self.runs = RunViews(deps)
        self.flows = FlowViews(deps)
        self.agents = AgentViews(deps)
        self.activity = ActivityViews(deps)
        self.counts = RunCounts(deps)  # the server's metrics
