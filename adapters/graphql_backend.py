"""GraphQLBackend: the Backend port over a Prefect-1-compatible GraphQL API.

The documents and variable shapes are those a Prefect 1.4.1 agent sends, so the agent works
against Prefect Server 1.x as well as dockyard's own server. Reads that Prefect renders as
inline literals are sent with typed variables here: same meaning, no string building.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dockyard.adapters.graphql_transport import GraphQLTransport
from dockyard.domain.agent.model import FlowInfo, FlowRun, RunLog, RunStatus, StateUpdate, TaskRunInfo
from dockyard.domain.errors import BackendError, BackendUnavailable
from dockyard.domain.states import iso

REGISTER_AGENT = """
mutation($input: register_agent_input!) {
    register_agent(input: $input) { id }
}"""

TENANT = "query { tenant { id } }"

RUNS_IN_QUEUE = """
mutation($input: get_runs_in_queue_input!) {
    get_runs_in_queue(input: $input) { flow_run_ids }
}"""

_RUN_FIELDS = """
        id name version state serialized_state run_config labels state_timestamp
        flow { id name core_version storage }"""

FLOW_RUN_METADATA = (
    """
query($where: flow_run_bool_exp, $task_runs: task_run_bool_exp) {
    flow_run(where: $where) {"""
    + _RUN_FIELDS
    + """
        task_runs(where: $task_runs) { id version serialized_state }
    }
}"""
)

RUNS_OF_AGENT = (
    """
query($where: flow_run_bool_exp) {
    flow_run(where: $where) {"""
    + _RUN_FIELDS
    + """
    }
}"""
)

RUN_STATUSES = """
query($where: flow_run_bool_exp) {
    flow_run(where: $where) { id state version state_message }
}"""

SET_FLOW_RUN_STATES = """
mutation($input: set_flow_run_states_input!) {
    set_flow_run_states(input: $input) { states { id status message } }
}"""

SET_TASK_RUN_STATES = """
mutation($input: set_task_run_states_input!) {
    set_task_run_states(input: $input) { states { id status message } }
}"""

WRITE_RUN_LOGS = """
mutation($input: write_run_logs_input!) {
    write_run_logs(input: $input) { success }
}"""


RUNNING_TASK_RUNS = """
query($where: task_run_bool_exp) {
    task_run(where: $where) { id version serialized_state }
}"""

LAST_LOG = """
query($id: uuid!, $name: String) {
    flow_run_by_pk(id: $id) {
        logs(where: {name: {_eq: $name}}, order_by: {timestamp: desc}, limit: 1) { timestamp }
    }
}"""

QUEUE_VERSION = """
query($after: Int, $timeout: Float) {
    dockyard_queue_version(after: $after, timeout: $timeout)
}"""


class GraphQLBackend:
    def __init__(self, transport: GraphQLTransport, *, tenant_id: str | None = None) -> None:
        self._transport = transport
        self._tenant_id = tenant_id
        self._notifies: bool | None = None  # unknown until first asked

    def register_agent(
        self, *, name: str, labels: Sequence[str], agent_type: str, agent_config_id: str | None
    ) -> str:
        variables = {
            "input": {
                "type": agent_type,
                "name": name,
                "labels": list(labels),
                "tenant_id": self.tenant_id(),
                "agent_config_id": agent_config_id,
            }
        }
        data = self._transport.execute(REGISTER_AGENT, variables)
        agent_id = (data.get("register_agent") or {}).get("id")
        if not agent_id:
            raise BackendError("the API did not return an agent id when registering")
        self._transport.attach_header("X-PREFECT-AGENT-ID", str(agent_id))
        return str(agent_id)

    def hello(self) -> None:
        self._transport.execute("query { hello }")

    def tenant_id(self) -> str:
        if self._tenant_id is None:
            tenants = self._transport.execute(TENANT).get("tenant")
            if not tenants:
                raise BackendError("the API has no tenants; create one (Prefect Server: create-tenant)")
            self._tenant_id = str(tenants[0]["id"])
        return self._tenant_id

    def runs_in_queue(self, *, labels: Sequence[str], before: datetime) -> list[str]:
        variables = {"input": {"before": iso(before), "labels": list(labels), "tenant_id": self.tenant_id()}}
        data = self._transport.execute(RUNS_IN_QUEUE, variables)
        return [str(i) for i in (data.get("get_runs_in_queue") or {}).get("flow_run_ids") or []]

    def flow_runs(self, ids: Sequence[str], *, retry_buffer: datetime) -> list[FlowRun]:
        if not ids:
            return []
        buffer = {"state_start_time": {"_lte": iso(retry_buffer)}}
        where = {
            "id": {"_in": list(ids)},
            "_or": [{"state": {"_eq": "Scheduled"}}, {"state": {"_eq": "Running"}, "task_runs": buffer}],
        }
        data = self._transport.execute(FLOW_RUN_METADATA, {"where": where, "task_runs": buffer})
        return [_flow_run(item) for item in data.get("flow_run") or []]

    def set_flow_run_state(self, run_id: str, version: int | None, state: Mapping[str, Any]) -> None:
        states = [{"flow_run_id": run_id, "version": version, "state": dict(state)}]
        self._transport.execute(SET_FLOW_RUN_STATES, {"input": {"states": states}})

    def set_flow_run_states(self, updates: Sequence[StateUpdate]) -> None:
        if not updates:
            return
        states = [{"flow_run_id": u.run_id, "version": u.version, "state": dict(u.state)} for u in updates]
        self._transport.execute(SET_FLOW_RUN_STATES, {"input": {"states": states}})

    def set_task_run_state(self, task_run_id: str, version: int | None, state: Mapping[str, Any]) -> None:
        states = [{"task_run_id": task_run_id, "version": version, "state": dict(state)}]
        self._transport.execute(SET_TASK_RUN_STATES, {"input": {"states": states}})

    def write_run_logs(self, logs: Sequence[RunLog]) -> None:
        if not logs:
            return
        data = self._transport.execute(WRITE_RUN_LOGS, {"input": {"logs": [_log(item) for item in logs]}})
        if not (data.get("write_run_logs") or {}).get("success"):
            raise BackendError("the API did not accept the run logs")

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        # One request for all of them: one aliased update_flow_run_heartbeat per run.
        params = ", ".join(f"$r{i}: UUID!" for i in range(len(run_ids)))
        fields = " ".join(
            f"r{i}: update_flow_run_heartbeat(input: {{flow_run_id: $r{i}}}) {{ success }}"
            for i in range(len(run_ids))
        )
        self._transport.execute(
            f"mutation({params}) {{ {fields} }}", {f"r{i}": run_id for i, run_id in enumerate(run_ids)}
        )

    def running_task_runs(self, run_id: str) -> list[TaskRunInfo]:
        where = {"flow_run_id": {"_eq": run_id}, "state": {"_in": ["Running", "Cancelling"]}}
        data = self._transport.execute(RUNNING_TASK_RUNS, {"where": where})
        return [
            TaskRunInfo(
                id=str(tr["id"]),
                version=int(tr.get("version") or 0),
                serialized_state=tr.get("serialized_state") or {},
            )
            for tr in data.get("task_run") or []
        ]

    def run_statuses(self, ids: Sequence[str]) -> dict[str, RunStatus]:
        if not ids:
            return {}
        data = self._transport.execute(RUN_STATUSES, {"where": {"id": {"_in": list(ids)}}})
        return {
            str(item["id"]): RunStatus(
                id=str(item["id"]),
                state=str(item.get("state") or ""),
                version=int(item.get("version") or 0),
                message=item.get("state_message"),
            )
            for item in data.get("flow_run") or []
        }

    def runs_of_agent(self, agent_id: str, states: Sequence[str]) -> list[FlowRun]:
        where = {"agent_id": {"_eq": agent_id}, "state": {"_in": list(states)}}
        data = self._transport.execute(RUNS_OF_AGENT, {"where": where})
        return [_flow_run(item) for item in data.get("flow_run") or []]

    def last_log_time(self, run_id: str, name: str) -> datetime | None:
        data = self._transport.execute(LAST_LOG, {"id": run_id, "name": name})
        logs = (data.get("flow_run_by_pk") or {}).get("logs") or []
        return _parse_time(logs[0].get("timestamp")) if logs else None

    def wait_for_queue_change(self, after: int | None, timeout: float) -> int | None:
        # dockyard's server can tell agents when its queue changes; a Prefect Server has no
        # such field and says so once, after which the agent simply polls.
        if self._notifies is False:
            return None
        try:
            data = self._transport.execute(
                QUEUE_VERSION, {"after": after, "timeout": timeout}, timeout=timeout + 15
            )
        except BackendError as exc:
            if "dockyard_queue_version" in str(exc) and not isinstance(exc, BackendUnavailable):
                self._notifies = False
                return None
            raise
        self._notifies = True
        version = data.get("dockyard_queue_version")
        return int(version) if version is not None else None


def _flow_run(item: Mapping[str, Any]) -> FlowRun:
    flow = item.get("flow") or {}
    serialized = item.get("serialized_state") or {}
    return FlowRun(
        id=str(item["id"]),
        name=str(item.get("name") or ""),
        version=int(item.get("version") or 0),
        state=str(item.get("state") or serialized.get("type") or ""),
        serialized_state=serialized,
        run_config=item.get("run_config"),
        labels=tuple(item.get("labels") or ()),
        flow=FlowInfo(
            id=str(flow.get("id") or ""),
            name=str(flow.get("name") or ""),
            core_version=flow.get("core_version"),
            storage=flow.get("storage"),
        ),
        task_runs=tuple(
            TaskRunInfo(
                id=str(tr["id"]),
                version=int(tr.get("version") or 0),
                serialized_state=tr.get("serialized_state") or {},
            )
            for tr in item.get("task_runs") or []
        ),
        state_timestamp=_parse_time(item.get("state_timestamp")),
    )


def _log(entry: RunLog) -> dict[str, Any]:
    out: dict[str, Any] = {
        "flow_run_id": entry.flow_run_id,
        "name": entry.name,
        "message": entry.message,
        "level": entry.level,
    }
    if entry.timestamp is not None:
        out["timestamp"] = iso(entry.timestamp)
    if entry.task_run_id:
        out["task_run_id"] = entry.task_run_id
    if entry.info:
        out["info"] = dict(entry.info)
    return out


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
