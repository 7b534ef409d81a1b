"""RunClient: the ``dockyard run`` commands' operations on a Prefect-1-compatible API.

Flows and runs are made with the same mutations Prefect's own client uses
(``create_project``, ``create_flow``, ``create_flow_run``, ``cancel_flow_run``), so the
commands work against dockyard's server or a Prefect Server alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.adapters.graphql_transport import GraphQLTransport
from dockyard.domain.errors import BackendError
from dockyard.domain.states import CORE_VERSION

_RUN_FIELDS = "id name state state_message labels created start_time end_time flow { id name }"
_SHOW = (
    "query($id: uuid!) { flow_run_by_pk(id: $id) { "
    + _RUN_FIELDS
    + " run_config parameters agent_id scheduled_start_time state_timestamp"
    + " states(order_by: [{version: asc}]) { state message timestamp } } }"
)
_LOGS = """
query($id: uuid!, $since: timestamptz) {
  flow_run_by_pk(id: $id) {
    state
    logs(where: {timestamp: {_gte: $since}}, order_by: [{timestamp: asc}]) { id timestamp level name message }
  }
}"""


def serialized_flow(name: str) -> dict[str, Any]:
    """A flow with no tasks: a container run needs no flow code."""
    return {
        "name": name,
        "type": "prefect.core.flow.Flow",
        "schedule": None,
        "parameters": [],
        "tasks": [],
        "edges": [],
        "reference_tasks": [],
        "storage": None,
        "run_config": None,
        "__version__": CORE_VERSION,
    }


class RunClient:
    def __init__(self, transport: GraphQLTransport) -> None:
        self._api = transport

    @property
    def url(self) -> str:
        return self._api.url

    def tenant_id(self) -> str:
        tenants = self._api.execute("query { tenant(order_by: [{slug: asc}]) { id } }")["tenant"]
        if not tenants:
            raise BackendError("the API has no tenant")
        return str(tenants[0]["id"])

    def ensure_project(self, name: str) -> str:
        """The project's id, creating the project if it does not exist yet."""
        found = self._api.execute(
            "query($n: String!) { project(where: {name: {_eq: $n}}) { id } }", {"n": name}
        )
        if found["project"]:
            return str(found["project"][0]["id"])
        created = self._api.execute(
            "mutation($input: create_project_input!) { create_project(input: $input) { id } }",
            {"input": {"tenant_id": self.tenant_id(), "name": name}},
        )
        return str(created["create_project"]["id"])

    def ensure_flow(self, project_id: str, name: str) -> str:
        """The newest flow called ``name`` in the project, registered first if missing."""
        found = self._api.execute(
            "query($n: String!, $p: uuid!) { flow(where: {name: {_eq: $n}, project_id: {_eq: $p}, "
            "archived: {_eq: false}}, order_by: [{version: desc}], limit: 1) { id } }",
            {"n": name, "p": project_id},
        )
        if found["flow"]:
            return str(found["flow"][0]["id"])
        created = self._api.execute(
            "mutation($input: create_flow_input!) { create_flow(input: $input) { id } }",
            {
                "input": {
                    "project_id": project_id,
                    "serialized_flow": serialized_flow(name),
                    "set_schedule_active": False,
                }
            },
        )
        return str(created["create_flow"]["id"])

    def create_flow_run(
        self, flow_id: str, *, run_config: Mapping[str, Any], labels: Sequence[str], name: str | None
    ) -> str:
        run_input: dict[str, Any] = {
            "flow_id": flow_id,
            "run_config": dict(run_config),
            "labels": sorted(set(labels)),
            "idempotency_key": uuid.uuid4().hex,  # a retried request creates one run, not two
        }
        if name:
            run_input["flow_run_name"] = name
        created = self._api.execute(
            "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }",
            {"input": run_input},
        )
        return str(created["create_flow_run"]["id"])

    def list_runs(self, *, state: str | None, limit: int) -> list[dict[str, Any]]:
        where = {"state": {"_eq": state}} if state else {}
        query = (
            "query($where: flow_run_bool_exp, $limit: Int) { flow_run(where: $where, "
            f"order_by: [{{created: desc}}], limit: $limit) {{ {_RUN_FIELDS} }} }}"
        )
        return list(self._api.execute(query, {"where": where, "limit": limit})["flow_run"])

    def show_run(self, run_id: str) -> dict[str, Any] | None:
        run = self._api.execute(_SHOW, {"id": run_id})["flow_run_by_pk"]
        return dict(run) if run else None

    def logs_since(self, run_id: str, since: str | None) -> tuple[str | None, list[dict[str, Any]]] | None:
        """The run's state and its logs from ``since`` on (inclusive); None for no run."""
        run = self._api.execute(_LOGS, {"id": run_id, "since": since})["flow_run_by_pk"]
        if run is None:
            return None
        return run["state"], list(run["logs"])

    def cancel_run(self, run_id: str) -> str:
        result = self._api.execute(
            "mutation($input: cancel_flow_run_input!) { cancel_flow_run(input: $input) { state } }",
            {"input": {"flow_run_id": run_id}},
        )
        return str(result["cancel_flow_run"]["state"])
