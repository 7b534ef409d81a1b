"""RunClient: the ``dockyard run`` commands' operations on a Prefect-1-compatible API.

Flows and runs are made with the same mutations Prefect's own client uses
(``create_project``, ``create_flow``, ``create_flow_run``, ``cancel_flow_run``), so the
commands work against dockyard's server or a Prefect Server alike.

The commands check what they send, so the API refusing a variable means a value slipped
through: its GraphQL text (``Variable '$id' has invalid value...``) is put in the user's
terms, naming the value, never passed on as it came.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.adapters.graphql_transport import GraphQLTransport
from dockyard.domain.errors import BackendError
from dockyard.domain.states import CORE_VERSION

_RUN_FIELDS = (
    "id name state state_message labels created start_time end_time agent_id agent { name } flow { id name }"
)
_SHOW = (
    "query($id: uuid!) { flow_run_by_pk(id: $id) { "
    + _RUN_FIELDS
    + " run_config parameters scheduled_start_time state_timestamp"
    + " states(order_by: [{version: asc}]) { state message timestamp } } }"
)
_LOGS = """
query($id: uuid!, $since: timestamptz) {
  flow_run_by_pk(id: $id) {
    state
    state_message
    logs(where: {timestamp: {_gte: $since}}, order_by: [{timestamp: asc}]) { id timestamp level name message }
  }
}"""
_STATES = """
query($ids: [uuid!]) {
  flow_run(where: {id: {_in: $ids}}) { id name state state_message end_time }
}"""
_AGENTS = "query { agent { id name labels last_queried } }"
_FLOWS_NAMED = """
query($name: String!) {
  flow(where: {name: {_eq: $name}}, order_by: [{version: desc}], limit: 500) {
    id name version archived parameters project { name } flow_group { default_parameters }
  }
}"""
# graphql-core's words for a variable it could not coerce, e.g. "Variable '$input' has
# invalid value at .flow_run_id: Expected value of type 'UUID', but encountered error ...".
_VARIABLE_REFUSED = re.compile(
    r"Variable '\$(?P<name>\w+)' (?:has|got) invalid value(?: at (?P<path>\S+?))?: "
    r"Expected value of type '(?P<type>[^']+)'.*?found: (?P<value>.+?)\.?$",
    re.DOTALL,
)


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
        tenants = self._execute("query { tenant(order_by: [{slug: asc}]) { id } }")["tenant"]
        if not tenants:
            raise BackendError("the API has no tenant")
        return str(tenants[0]["id"])

    def ensure_project(self, name: str) -> str:
        """The project's id, creating the project if it does not exist yet."""
        found = self._execute("query($n: String!) { project(where: {name: {_eq: $n}}) { id } }", {"n": name})
        if found["project"]:
            return str(found["project"][0]["id"])
        created = self._execute(
            "mutation($input: create_project_input!) { create_project(input: $input) { id } }",
            {"input": {"tenant_id": self.tenant_id(), "name": name}},
        )
        return str(created["create_project"]["id"])

    def ensure_flow(self, project_id: str, name: str) -> str:
        """The newest flow called ``name`` in the project, registered first if missing."""
        found = self._execute(
            "query($n: String!, $p: uuid!) { flow(where: {name: {_eq: $n}, project_id: {_eq: $p}, "
            "archived: {_eq: false}}, order_by: [{version: desc}], limit: 1) { id } }",
            {"n": name, "p": project_id},
        )
        if found["flow"]:
            return str(found["flow"][0]["id"])
        created = self._execute(
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

    def flows_named(self, name: str) -> list[dict[str, Any]]:
        """Every version of every flow called ``name``, in every project, newest first."""
        return list(self._execute(_FLOWS_NAMED, {"name": name})["flow"])

    def create_flow_run(
        self,
        flow_id: str,
        *,
        run_config: Mapping[str, Any] | None = None,
        labels: Sequence[str] | None = None,
        name: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> str:
        """A new run of the flow; what is None comes from the flow (its group's settings,
        its run config, its labels), as the server resolves it."""
        run_input: dict[str, Any] = {
            "flow_id": flow_id,
            "idempotency_key": uuid.uuid4().hex,  # a retried request creates one run, not two
        }
        if run_config is not None:
            run_input["run_config"] = dict(run_config)
        if labels is not None:
            run_input["labels"] = sorted(set(labels))
        if parameters:
            run_input["parameters"] = dict(parameters)
        if name:
            run_input["flow_run_name"] = name
        created = self._execute(
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
        return list(self._execute(query, {"where": where, "limit": limit})["flow_run"])

    def agents(self) -> list[dict[str, Any]]:
        """Every registered agent: its name, labels and when it last asked for work."""
        return list(self._execute(_AGENTS)["agent"])

    def show_run(self, run_id: str) -> dict[str, Any] | None:
        run = self._execute(_SHOW, {"id": run_id})["flow_run_by_pk"]
        return dict(run) if run else None

    def run_states(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The runs among ``run_ids`` that exist, by id: name, state, message, end time."""
        runs = self._execute(_STATES, {"ids": list(run_ids)})["flow_run"]
        return {str(run["id"]): dict(run) for run in runs}

    def logs_since(
        self, run_id: str, since: str | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The run (``state``, ``state_message``) and its logs from ``since`` on (inclusive);
        None for no run."""
        run = self._execute(_LOGS, {"id": run_id, "since": since})["flow_run_by_pk"]
        if run is None:
            return None
        return {"state": run["state"], "state_message": run.get("state_message")}, list(run["logs"])

    def cancel_run(self, run_id: str) -> str:
        result = self._execute(
            "mutation($input: cancel_flow_run_input!) { cancel_flow_run(input: $input) { state } }",
            {"input": {"flow_run_id": run_id}},
        )
        return str(result["cancel_flow_run"]["state"])

    def _execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        try:
            return self._api.execute(query, variables)
        except BackendError as exc:
            plain = refused_variable(str(exc))
            if plain is None:
                raise
            raise type(exc)(plain) from exc


def refused_variable(text: str) -> str | None:
    """GraphQL's text for a variable the API could not read, in a user's words
    (``the API does not take 'x' as flow_run_id: not a valid UUID``); None for other text."""
    found = _VARIABLE_REFUSED.search(text)
    if found is None:
        return None
    where = (found["path"] or "").lstrip(".") or found["name"]
    value = found["value"].strip()
    return f"the API does not take {value} as {where}: not a valid {found['type']}"
