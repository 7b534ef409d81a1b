"""Resolvers for the Hasura-style reads: list and ``*_by_pk`` root fields, and every
relationship field, all derived from the domain catalog."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from dockyard.adapters.graphql_api.context import RequestContext
from dockyard.adapters.graphql_api.where import to_filter, to_order
from dockyard.domain.server.catalog import TABLES, Relation
from dockyard.domain.server.filters import Row, Select, all_of, eq
from dockyard.domain.states import CORE_VERSION


def _context(info: GraphQLResolveInfo[RequestContext]) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context


def _list(table_name: str) -> Any:
    def resolve(
        _root: Any,
        info: GraphQLResolveInfo[RequestContext],
        *,
        where: Any = None,
        order_by: Any = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Row]:
        query = Select(table_name, to_filter(table_name, where), to_order(order_by), limit, offset)
        return _context(info).reader().select(query)

    return resolve


def _by_pk(table_name: str) -> Any:
    def resolve(_root: Any, info: GraphQLResolveInfo[RequestContext], id: str) -> Row | None:
        rows = _context(info).reader().select(Select(table_name, eq("id", id), limit=1))
        return rows[0] if rows else None

    return resolve


def _related(relation: Relation) -> Any:
    def resolve(
        parent: Row,
        info: GraphQLResolveInfo[RequestContext],
        *,
        where: Any = None,
        order_by: Any = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Any:
        key = parent.get(relation.local)
        if key is None:
            return [] if relation.many else None
        condition = all_of(eq(relation.remote, key), to_filter(relation.target, where))
        if not relation.many:
            rows = _context(info).reader().select(Select(relation.target, condition, limit=1))
            return rows[0] if rows else None
        query = Select(relation.target, condition, to_order(order_by), limit, offset)
        return _context(info).reader().select(query)

    return resolve


def _task_run_info(_root: Any, info: GraphQLResolveInfo[RequestContext], task_run_id: str) -> Row | None:
    rows = _context(info).reader().select(Select("task_run", eq("id", task_run_id), limit=1))
    return rows[0] if rows else None


def _queue_version(
    _root: Any,
    info: GraphQLResolveInfo[RequestContext],
    after: int | None = None,
    timeout: float | None = None,
) -> int:
    return _context(info).service.deps.queue_signal.wait(after, timeout or 0.0)


def _api(_root: Any, _info: GraphQLResolveInfo[RequestContext]) -> dict[str, Any]:
    return {
        "backend": "SERVER",
        "mode": "normal",
        "version": version("dockyard"),
        "core_version": CORE_VERSION,
        "release_timestamp": None,
    }


def install(schema: GraphQLSchema) -> None:
    query = schema.query_type
    assert query is not None
    query.fields["hello"].resolve = lambda _root, _info: "👋"
    query.fields["api"].resolve = _api
    query.fields["get_task_run_info"].resolve = _task_run_info
    query.fields["dockyard_queue_version"].resolve = _queue_version
    for name, field in query.fields.items():
        if name in TABLES:
            field.resolve = _list(name)
        elif name.endswith("_by_pk") and name.removesuffix("_by_pk") in TABLES:
            field.resolve = _by_pk(name.removesuffix("_by_pk"))
    for name, source in TABLES.items():
        object_type = schema.type_map.get(name)
        if not isinstance(object_type, GraphQLObjectType):
            continue
        for field_name, relation in source.relations.items():
            if field_name in object_type.fields:
                object_type.fields[field_name].resolve = _related(relation)
