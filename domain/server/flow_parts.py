"""Tasks and edges of a registered flow, from their serialized form.

The server assigns task ids; a task is known by its slug, unique within its flow, and an
edge names its ends by slug. Registering a task or edge twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.filters import Compare, Op, Row, Select, all_of, eq

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession


def _objects(items: Any, what: str) -> list[Mapping[str, Any]]:
    if items is None:
        return []
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise InvalidInput(f"Serialized {what} must be a list of objects.")
    if not all(isinstance(item, Mapping) for item in items):
        raise InvalidInput(f"Serialized {what} must be a list of objects.")
    return list(items)


def _slug_of(ref: Any, what: str) -> str:
    slug = ref.get("slug") if isinstance(ref, Mapping) else None
    if not isinstance(slug, str) or not slug:
        raise InvalidInput(f"Every serialized {what} needs a 'slug'.")
    return slug


def insert_tasks(
    session: StoreSession, flow: Row, tasks: Any, new_id: Callable[[], str], now: str
) -> list[Mapping[str, Any]]:
    """Insert the tasks not yet registered (by slug); return the serialized tasks added."""
    serialized = _objects(tasks, "tasks")
    known = {t["slug"] for t in session.select(Select("task", where=eq("flow_id", flow["id"])))}
    added = []
    for task in serialized:
        slug = _slug_of(task, "task")
        if slug in known:
            continue
        known.add(slug)
        trigger = task.get("trigger")
        retry_delay = task.get("retry_delay")
        session.insert(
            "task",
            {
                "id": new_id(),
                "tenant_id": flow["tenant_id"],
                "flow_id": flow["id"],
                "slug": slug,
                "name": task.get("name"),
                "description": task.get("description"),
                "type": task.get("type"),
                "tags": list(task.get("tags") or []),
                "cache_key": task.get("cache_key"),
                "max_retries": int(task.get("max_retries") or 0),
                "retry_delay": None if retry_delay is None else str(retry_delay),
                "trigger": trigger.get("fn") if isinstance(trigger, Mapping) else None,
                "mapped": False,
                "auto_generated": bool(task.get("auto_generated")),
                "created": now,
                "updated": now,
            },
        )
        added.append(task)
    return added


def insert_edges(
    session: StoreSession, flow: Row, edges: Any, new_id: Callable[[], str], now: str
) -> list[Mapping[str, Any]]:
    """Insert the edges not yet registered; mark the downstream ends of mapped edges as
    mapped tasks. Unknown slugs refuse the whole batch."""
    serialized = _objects(edges, "edges")
    ids = {t["slug"]: t["id"] for t in session.select(Select("task", where=eq("flow_id", flow["id"])))}
    wanted = [
        (_slug_of(e.get("upstream_task"), "edge end"), _slug_of(e.get("downstream_task"), "edge end"), e)
        for e in serialized
    ]
    unknown = sorted({s for up, down, _ in wanted for s in (up, down) if s not in ids})
    if unknown:
        raise InvalidInput(f"Edges could not be registered: unknown task slugs {unknown}.")
    added = []
    for up, down, edge in wanted:
        key = edge.get("key")
        same = all_of(
            eq("flow_id", flow["id"]),
            eq("upstream_task_id", ids[up]),
            eq("downstream_task_id", ids[down]),
            Compare("key", Op.IS_NULL, True) if key is None else eq("key", key),
        )
        if session.select(Select("edge", where=same, limit=1)):
            continue
        session.insert(
            "edge",
            {
                "id": new_id(),
                "tenant_id": flow["tenant_id"],
                "flow_id": flow["id"],
                "upstream_task_id": ids[up],
                "downstream_task_id": ids[down],
                "key": key,
                "mapped": bool(edge.get("mapped")),
                "flattened": bool(edge.get("flattened")),
                "created": now,
                "updated": now,
            },
        )
        if edge.get("mapped"):
            session.update("task", eq("id", ids[down]), {"mapped": True, "updated": now})
        added.append(edge)
    return added
