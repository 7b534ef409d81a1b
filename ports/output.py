"""FlowOutput: where ``show_flow_logs`` sends container output (the agent's stdout)."""

from __future__ import annotations

from typing import Protocol


class FlowOutput(Protocol):
    def line(self, run_name: str, text: str) -> None:
        """Show one line of a run's output, marked with the run's name. Thread-safe."""
