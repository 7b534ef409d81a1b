"""Keeping the agent's API key out of what the agent writes.

The key goes into flow containers (the flow runner authenticates with it), so a flow can
print it. Whatever the agent passes on from a container, and whatever it writes itself,
goes through a ``Redactor`` first: run logs and state messages through ``RedactingBackend``,
``--show-flow-logs`` lines through ``RedactingOutput``. What a flow runner sends to the
backend on its own (its Prefect logs) never passes through the agent and is not covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from dockyard.domain.agent.model import FlowRun, RunLog, RunStatus, StateUpdate, TaskRunInfo
from dockyard.domain.agent.plan import REDACTED
from dockyard.ports.backend import Backend
from dockyard.ports.output import FlowOutput

# A shorter "secret" would be replaced inside ordinary words and numbers.
MIN_SECRET_LENGTH = 8


class Redactor:
    def __init__(self, secrets: Iterable[str | None]) -> None:
        usable = {secret for secret in secrets if secret and len(secret) >= MIN_SECRET_LENGTH}
        self._secrets = sorted(usable, key=len, reverse=True)  # a longer one may contain a shorter

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        return value

    def data(self, value: Any) -> Any:
        """Every string in JSON-like data redacted (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(key): self.data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item) for item in value]
        return value


class RedactingBackend:
    """A ``Backend`` that redacts the run logs and states it writes."""

    def __init__(self, backend: Backend, redactor: Redactor) -> None:
        self._backend = backend
        self._redactor = redactor

    def register_agent(
        self, *, name: str, labels: Sequence[str], agent_type: str, agent_config_id: str | None
    ) -> str:
        return self._backend.register_agent(
            name=name, labels=labels, agent_type=agent_type, agent_config_id=agent_config_id
        )

    def hello(self) -> None:
        self._backend.hello()

    def runs_in_queue(self, *, labels: Sequence[str], before: datetime) -> list[str]:
        return self._backend.runs_in_queue(labels=labels, before=before)

    def flow_runs(self, ids: Sequence[str], *, retry_buffer: datetime) -> list[FlowRun]:
        return self._backend.flow_runs(ids, retry_buffer=retry_buffer)

    def set_flow_run_state(self, run_id: str, version: int | None, state: Mapping[str, Any]) -> None:
        self._backend.set_flow_run_state(run_id, version, self._redactor.data(state))

    def set_flow_run_states(self, updates: Sequence[StateUpdate]) -> None:
        self._backend.set_flow_run_states([replace(u, state=self._redactor.data(u.state)) for u in updates])

    def set_task_run_state(self, task_run_id: str, version: int | None, state: Mapping[str, Any]) -> None:
        self._backend.set_task_run_state(task_run_id, version, self._redactor.data(state))

    def write_run_logs(self, logs: Sequence[RunLog]) -> None:
        self._backend.write_run_logs([replace(log, message=self._redactor.text(log.message)) for log in logs])

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        self._backend.heartbeat(run_ids)

    def running_task_runs(self, run_id: str) -> list[TaskRunInfo]:
        return self._backend.running_task_runs(run_id)

    def run_statuses(self, ids: Sequence[str]) -> dict[str, RunStatus]:
        return self._backend.run_statuses(ids)

    def runs_of_agent(self, agent_id: str, states: Sequence[str]) -> list[FlowRun]:
        return self._backend.runs_of_agent(agent_id, states)

    def last_log_time(self, run_id: str, name: str) -> datetime | None:
        return self._backend.last_log_time(run_id, name)

    def wait_for_queue_change(self, after: int | None, timeout: float) -> int | None:
        return self._backend.wait_for_queue_change(after, timeout)


def _as_backend(backend: RedactingBackend) -> Backend:
    return backend  # mypy checks here that RedactingBackend keeps up with the port


class RedactingOutput:
    """A ``FlowOutput`` that redacts each line before showing it."""

    def __init__(self, output: FlowOutput, redactor: Redactor) -> None:
        self._output = output
        self._redactor = redactor

    def line(self, run_name: str, text: str) -> None:
        self._output.line(run_name, self._redactor.text(text))
