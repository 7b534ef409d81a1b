"""Backend: the Prefect-1-compatible API the agent takes its work from.

The contract is Prefect 1.4.1 agent's: the same GraphQL operations, variables and headers
(``X-PREFECT-AGENT-ID`` after registration), so any Prefect Server 1.x, or dockyard's own
server, can sit behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from dockyard.domain.agent.model import FlowRun, RunLog, RunStatus, StateUpdate, TaskRunInfo


@runtime_checkable
class Backend(Protocol):
    """Every method raises ``BackendUnavailable`` when the API cannot be reached (after the
    adapter's own retries) and ``BackendError`` when it answers with an error."""

    def register_agent(
        self, *, name: str, labels: Sequence[str], agent_type: str, agent_config_id: str | None
    ) -> str:
        """Register (or re-register) this agent; return its id. Later requests carry it."""

    def hello(self) -> None:
        """A cheap round trip proving the API answers."""

    def runs_in_queue(self, *, labels: Sequence[str], before: datetime) -> list[str]:
        """Ids of runs ready before ``before`` whose labels this agent serves."""

    def flow_runs(self, ids: Sequence[str], *, retry_buffer: datetime) -> list[FlowRun]:
        """Metadata of the given runs that are still Scheduled (or Running with task runs
        due before ``retry_buffer``): the agent's metadata query."""

    def set_flow_run_state(self, run_id: str, version: int | None, state: Mapping[str, Any]) -> None:
        """Write a new state. Raises ``SubmissionConflict`` when the backend's Submitted
        lock says another agent has the run."""

    def set_flow_run_states(self, updates: Sequence[StateUpdate]) -> None:
        """Write states for several runs in one request (none are written if it fails)."""

    def set_task_run_state(self, task_run_id: str, version: int | None, state: Mapping[str, Any]) -> None:
        """Write a new task-run state."""

    def write_run_logs(self, logs: Sequence[RunLog]) -> None:
        """Append run logs."""

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        """Tell the backend these flow runs are alive (``update_flow_run_heartbeat``): for
        runs with no flow runner inside to say so, whose silence would read as death."""

    def running_task_runs(self, run_id: str) -> list[TaskRunInfo]:
        """The flow run's task runs still in a running state (Running, Cancelling)."""

    def run_statuses(self, ids: Sequence[str]) -> dict[str, RunStatus]:
        """Current state of each given run; runs the backend does not know are left out."""

    def runs_of_agent(self, agent_id: str, states: Sequence[str]) -> list[FlowRun]:
        """Runs this agent submitted that are in one of ``states`` (restart recovery)."""

    def last_log_time(self, run_id: str, name: str) -> datetime | None:
        """When the newest run log called ``name`` was written for this run, if any: where a
        restarted agent resumes shipping a container's output."""

    def wait_for_queue_change(self, after: int | None, timeout: float) -> int | None:
        """Block until the backend's queue changes (a run was created or put back in the
        queue) after version ``after``, or ``timeout`` passes; return the current version.
        None: the backend cannot notify (the agent then just polls on its schedule)."""
