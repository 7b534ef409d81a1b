"""Resolvers for the mutations: each one call into the domain's use cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema

from dockyard.adapters.graphql_api.compressed import decompress_flow
from dockyard.adapters.graphql_api.context import RequestContext
from dockyard.domain.server.agents import NewLog
from dockyard.domain.server.flow_groups import HEARTBEAT_ENABLED, LAZARUS_ENABLED
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.service import ServerService

Input = dict[str, Any]


def _states(ids: list[str]) -> dict[str, Any]:
    return {"states": [{"id": run_id, "status": "SUCCESS", "message": None} for run_id in ids]}


def _flow_options(i: Input) -> dict[str, Any]:
    return {
        "version_group_id": i.get("version_group_id"),
        "set_schedule_active": i.get("set_schedule_active", True),
        "description": i.get("description"),
        "idempotency_key": i.get("idempotency_key"),
    }


def _new_run(i: Input) -> NewFlowRun:
    return NewFlowRun(
        flow_id=i.get("flow_id"),
        version_group_id=i.get("version_group_id"),
        parameters=i.get("parameters"),
        labels=i.get("labels"),
        run_config=i.get("run_config"),
        context=i.get("context"),
        scheduled_start_time=i.get("scheduled_start_time"),
        idempotency_key=i.get("idempotency_key"),
        name=i.get("flow_run_name"),
    )


def _logs(i: Input) -> list[NewLog]:
    return [NewLog(**{k: v for k, v in log.items() if v is not None}) for log in i["logs"]]


def _task_run_info(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "version", "state", "serialized_state")}


Handler = Callable[[ServerService, Input, RequestContext], Any]


def report(action: Callable[[ServerService, Input], bool]) -> Handler:
    """A handler for an action that answers ``success_payload`` with its own verdict
    (Prefect Server's ``success: false`` for an id it does not know)."""

    def handle(service: ServerService, i: Input, _context: RequestContext) -> dict[str, Any]:
        return {"success": bool(action(service, i)), "error": None}

    return handle


def flow_setting(name: str, value: bool) -> Handler:
    return report(lambda s, i: s.flow_groups.set_flow_setting(i["flow_id"], name, value))


def succeed(action: Handler) -> Handler:
    """A handler for an action that answers ``success_payload``."""

    def handle(service: ServerService, i: Input, context: RequestContext) -> dict[str, Any]:
        action(service, i, context)
        return {"success": True, "error": None}

    return handle


HANDLERS: dict[str, Handler] = {
    "register_agent": lambda s, i, c: {
        "id": s.agents.register_agent(
            agent_type=i["type"],
            name=i.get("name"),
            labels=i.get("labels") or [],
            tenant_id=i.get("tenant_id"),
            agent_config_id=i.get("agent_config_id"),
            caller=c.caller,
        )
    },
    "get_runs_in_queue": lambda s, i, c: {
        "flow_run_ids": s.agents.runs_in_queue(
            i["tenant_id"], i.get("before"), i.get("labels") or [], c.caller
        )
    },
    "set_flow_run_states": lambda s, i, c: _states(
        s.flow_runs.set_flow_run_states([(x["flow_run_id"], x["state"]) for x in i["states"]], c.caller)
    ),
    "set_task_run_states": lambda s, i, c: _states(
        s.task_runs.set_states([(x["task_run_id"], x["state"]) for x in i["states"]])
    ),
    "cancel_flow_run": lambda s, i, c: {"state": s.flow_runs.cancel_flow_run(i["flow_run_id"])},
    "create_flow_run": lambda s, i, c: {"id": s.flow_runs.create_flow_run(_new_run(i))},
    "get_or_create_task_run_info": lambda s, i, c: _task_run_info(
        s.task_runs.get_or_create(i["flow_run_id"], i["task_id"], i.get("map_index"))
    ),
    "update_flow_run_heartbeat": succeed(lambda s, i, c: s.flow_runs.heartbeat("flow_run", i["flow_run_id"])),
    "update_task_run_heartbeat": succeed(lambda s, i, c: s.flow_runs.heartbeat("task_run", i["task_run_id"])),
    "set_flow_run_name": succeed(
        lambda s, i, c: s.flow_runs.set_name("flow_run", i["flow_run_id"], i["name"])
    ),
    "set_task_run_name": succeed(
        lambda s, i, c: s.flow_runs.set_name("task_run", i["task_run_id"], i["name"])
    ),
    "write_run_logs": succeed(lambda s, i, c: s.agents.write_logs(_logs(i))),
    "create_tenant": lambda s, i, c: {"id": s.tenancy.create_tenant(i["name"], i["slug"])},
    "create_project": lambda s, i, c: {
        "id": s.tenancy.create_project(i["tenant_id"], i["name"], i.get("description"))
    },
    "delete_project": succeed(lambda s, i, c: s.tenancy.delete_project(i["project_id"])),
    "create_flow": lambda s, i, c: {
        "id": s.flows.create_flow(i["project_id"], i["serialized_flow"], **_flow_options(i))
    },
    "create_flow_from_compressed_string": lambda s, i, c: {
        "id": s.flows.create_flow(i["project_id"], decompress_flow(i["serialized_flow"]), **_flow_options(i))
    },
    "register_tasks": succeed(lambda s, i, c: s.flows.register_tasks(i["flow_id"], i["serialized_tasks"])),
    "register_edges": succeed(lambda s, i, c: s.flows.register_edges(i["flow_id"], i["serialized_edges"])),
    "set_schedule_active": succeed(lambda s, i, c: s.flows.set_schedule_active(i["flow_id"], True)),
    "set_schedule_inactive": succeed(lambda s, i, c: s.flows.set_schedule_active(i["flow_id"], False)),
    "create_task_run_artifact": lambda s, i, c: {
        "id": s.task_runs.create_artifact(i["task_run_id"], i["kind"], i["data"])
    },
    "update_task_run_artifact": succeed(
        lambda s, i, c: s.task_runs.update_artifact(i["task_run_artifact_id"], i["data"])
    ),
    "delete_task_run_artifact": succeed(
        lambda s, i, c: s.task_runs.delete_artifact(i["task_run_artifact_id"])
    ),
    "archive_flow": report(lambda s, i: s.flows.archive_flow(i["flow_id"])),
    "delete_flow": report(lambda s, i: s.flows.delete_flow(i["flow_id"])),
    "update_flow_project": lambda s, i, c: {"id": s.flows.update_flow_project(i["flow_id"], i["project_id"])},
    "enable_flow_heartbeat": flow_setting(HEARTBEAT_ENABLED, True),
    "disable_flow_heartbeat": flow_setting(HEARTBEAT_ENABLED, False),
    "enable_flow_lazarus_process": flow_setting(LAZARUS_ENABLED, True),
    "disable_flow_lazarus_process": flow_setting(LAZARUS_ENABLED, False),
    "delete_flow_run": report(lambda s, i: s.flow_runs.delete_flow_run(i["flow_run_id"])),
    "set_flow_run_labels": report(lambda s, i: s.flow_runs.set_labels(i["flow_run_id"], i["labels"])),
    "delete_flow_group": report(lambda s, i: s.flow_groups.delete_flow_group(i["flow_group_id"])),
    "set_flow_group_labels": report(
        lambda s, i: s.flow_groups.set_labels(i["flow_group_id"], i.get("labels"))
    ),
    "set_flow_group_description": report(
        lambda s, i: s.flow_groups.set_description(i["flow_group_id"], i.get("description"))
    ),
    "set_flow_group_default_parameters": report(
        lambda s, i: s.flow_groups.set_default_parameters(i["flow_group_id"], i["parameters"])
    ),
    "set_flow_group_run_config": report(
        lambda s, i: s.flow_groups.set_run_config(i["flow_group_id"], i.get("run_config"))
    ),
}


def _resolver(handler: Handler) -> Any:
    def resolve(_root: Any, info: GraphQLResolveInfo[RequestContext], input: Input) -> Any:
        context = info.context
        assert isinstance(context, RequestContext)
        return handler(context.service, input, context)

    return resolve


def install(schema: GraphQLSchema) -> None:
    mutation = schema.mutation_type
    assert mutation is not None
    missing = set(mutation.fields) - set(HANDLERS)
    if missing:
        raise RuntimeError(f"mutations without a handler: {sorted(missing)}")
    for name, handler in HANDLERS.items():
        mutation.fields[name].resolve = _resolver(handler)
