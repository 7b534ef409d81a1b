"""The backend's data model: tables, column kinds, unique keys and relationships.

One description serves every layer: the GraphQL adapter resolves relationship fields from
it, the SQLite adapter whitelists column names against it and decodes values by kind, and
the in-memory store of the tests enforces the same unique keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class Kind(Enum):
    UUID = "uuid"
    TEXT = "text"
    INT = "int"
    BOOL = "bool"
    JSON = "json"
    TIME = "time"  # canonical UTC text, see timestamps.py


@dataclass(frozen=True)
class Relation:
    """``parent.local == target.remote``; ``many`` for array relationships."""

    target: str
    local: str
    remote: str
    many: bool


@dataclass(frozen=True)
class Table:
    name: str
    columns: Mapping[str, Kind]
    unique: tuple[tuple[str, ...], ...] = ()
    relations: Mapping[str, Relation] = field(default_factory=dict)


U, T, N, B, J, TS = Kind.UUID, Kind.TEXT, Kind.INT, Kind.BOOL, Kind.JSON, Kind.TIME
_STAMPS = {"created": TS, "updated": TS}


def _many(target: str, remote: str) -> Relation:
    return Relation(target, "id", remote, many=True)


def _one(target: str, local: str) -> Relation:
    return Relation(target, local, "id", many=False)


_RUN_STATE_COLUMNS = {
    "version": N,
    "state": T,
    "serialized_state": J,
    "state_message": T,
    "state_start_time": TS,
    "state_timestamp": TS,
    "start_time": TS,
    "end_time": TS,
    "heartbeat": TS,
}
_HISTORY_COLUMNS = {
    "id": U,
    "tenant_id": U,
    "version": N,
    "state": T,
    "message": T,
    "serialized_state": J,
    "start_time": TS,
    "timestamp": TS,
    "created": TS,
}

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("tenant", {"id": U, "name": T, "slug": T, "settings": J, **_STAMPS}, unique=(("slug",),)),
        Table(
            "project",
            {"id": U, "tenant_id": U, "name": T, "description": T, **_STAMPS},
            unique=(("tenant_id", "name"),),
            relations={"flows": _many("flow", "project_id"), "tenant": _one("tenant", "tenant_id")},
        ),
        Table(
            "flow_group",
            {
                "id": U,
                "tenant_id": U,
                "name": T,
                "description": T,
                "labels": J,
                "settings": J,
                "run_config": J,
                "default_parameters": J,
                "schedule": J,
                "idempotency_key": T,
                **_STAMPS,
            },
            unique=(("tenant_id", "name"),),
            relations={"flows": _many("flow", "flow_group_id")},
        ),
        Table(
            "flow",
            {
                "id": U,
                "tenant_id": U,
                "project_id": U,
                "flow_group_id": U,
                "version_group_id": T,
                "version": N,
                "name": T,
                "description": T,
                "core_version": T,
                "storage": J,
                "run_config": J,
                "environment": J,
                "parameters": J,
                "settings": J,
                "serialized_flow": J,
                "schedule": J,
                "is_schedule_active": B,
                "archived": B,
                **_STAMPS,
            },
            relations={
                "project": _one("project", "project_id"),
                "flow_group": _one("flow_group", "flow_group_id"),
                "tasks": _many("task", "flow_id"),
                "flow_runs": _many("flow_run", "flow_id"),
            },
        ),
        Table(
            "task",
            {
                "id": U,
                "tenant_id": U,
                "flow_id": U,
                "name": T,
                "slug": T,
                "description": T,
                "type": T,
                "tags": J,
                "cache_key": T,
                "max_retries": N,
                "retry_delay": T,
                "trigger": T,
                "mapped": B,
                "auto_generated": B,
                **_STAMPS,
            },
            unique=(("flow_id", "slug"),),
            relations={"flow": _one("flow", "flow_id"), "task_runs": _many("task_run", "task_id")},
        ),
        Table(
            "edge",
            {
                "id": U,
                "tenant_id": U,
                "flow_id": U,
                "upstream_task_id": U,
                "downstream_task_id": U,
                "key": T,
                "mapped": B,
                "flattened": B,
                **_STAMPS,
            },
            relations={"flow": _one("flow", "flow_id")},
        ),
        Table(
            "flow_run",
            {
                "id": U,
                "tenant_id": U,
                "flow_id": U,
                "agent_id": U,
                "name": T,
                "labels": J,
                "parameters": J,
                "context": J,
                "run_config": J,
                "idempotency_key": T,
                "scheduled_start_time": TS,
                "times_resurrected": N,
                "auto_scheduled": B,  # created by the scheduler from the flow's schedule
                **_RUN_STATE_COLUMNS,
                **_STAMPS,
            },
            unique=(("flow_id", "idempotency_key"),),
            relations={
                "flow": _one("flow", "flow_id"),
                "task_runs": _many("task_run", "flow_run_id"),
                "states": _many("flow_run_state", "flow_run_id"),
                "logs": _many("log", "flow_run_id"),
                "agent": _one("agent", "agent_id"),
            },
        ),
        Table(
            "task_run",
            {
                "id": U,
                "tenant_id": U,
                "flow_run_id": U,
                "task_id": U,
                "map_index": N,
                "name": T,
                "cache_key": T,
                **_RUN_STATE_COLUMNS,
                **_STAMPS,
            },
            unique=(("flow_run_id", "task_id", "map_index"),),
            relations={
                "flow_run": _one("flow_run", "flow_run_id"),
                "task": _one("task", "task_id"),
                "states": _many("task_run_state", "task_run_id"),
                "logs": _many("log", "task_run_id"),
            },
        ),
        Table(
            "flow_run_state",
            {"flow_run_id": U, **_HISTORY_COLUMNS},
            relations={"flow_run": _one("flow_run", "flow_run_id")},
        ),
        Table(
            "task_run_state",
            {"task_run_id": U, **_HISTORY_COLUMNS},
            relations={"task_run": _one("task_run", "task_run_id")},
        ),
        Table(
            "log",
            {
                "id": U,
                "tenant_id": U,
                "flow_run_id": U,
                "task_run_id": U,
                "timestamp": TS,
                "name": T,
                "level": T,
                "message": T,
                "info": J,
                "created": TS,
            },
            relations={
                "flow_run": _one("flow_run", "flow_run_id"),
                "task_run": _one("task_run", "task_run_id"),
            },
        ),
        Table(
            "agent",
            {
                "id": U,
                "tenant_id": U,
                "agent_config_id": U,
                "name": T,
                "type": T,
                "core_version": T,
                "labels": J,
                "last_queried": TS,
                **_STAMPS,
            },
            relations={"flow_runs": _many("flow_run", "agent_id")},
        ),
        Table("agent_config", {"id": U, "tenant_id": U, "name": T, "settings": J, **_STAMPS}),
        Table(
            "task_run_artifact",
            {"id": U, "tenant_id": U, "task_run_id": U, "kind": T, "data": J, **_STAMPS},
            relations={"task_run": _one("task_run", "task_run_id")},
        ),
    )
}


def table(name: str) -> Table:
    """The table called ``name``; ``KeyError`` names the unknown table."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}") from None
