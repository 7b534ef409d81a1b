"""Resolvers for the Hasura-style reads, all derived from the domain catalog: the list,
``*_by_pk`` and ``*_aggregate`` root fields, every relationship field, and the aggregate
measures. Each read runs in the request's one read snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

from dockyard.adapters.graphql_api.context import RequestContext
from dockyard.adapters.graphql_api.tables_sdl import MEASURE_TYPES, measured_columns
from dockyard.adapters.graphql_api.where import to_filter, to_order
from dockyard.domain.server.catalog import TABLES, Relation, table
from dockyard.domain.server.filters import (
    MATCH_ALL,
    AnyOf,
    Filter,
    Fn,
    Measure,
    Row,
    Select,
    all_of,
    check_distinct_order,
    eq,
)
from dockyard.domain.states import CORE_VERSION

MATCH_NONE: Filter = AnyOf(())


def _context(info: GraphQLResolveInfo[RequestContext]) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context


def _written_order(info: GraphQLResolveInfo[RequestContext]) -> Any:
    """``order_by`` as the client wrote it. Hasura orders by an object's keys in the order
    given (``{name: asc, version: desc}``: name first), but GraphQL input coercion rebuilds
    objects in the type's field order, so the value is read from the document instead;
    an ``order_by`` passed as a variable keeps the coerced order (use a list there)."""
    # graphql-core 3.3 wraps the coerced values; 3.2 hands them over as they are.
    values: Any = info.variable_values
    variables = getattr(values, "coerced", values)
    for argument in info.field_nodes[0].arguments or ():
        if argument.name.value == "order_by":
            return value_from_ast_untyped(argument.value, variables)
    return None


def _select(
    table_name: str,
    info: GraphQLResolveInfo[RequestContext],
    arguments: dict[str, Any],
    condition: Filter = MATCH_ALL,
) -> Select:
    orders = to_order(_written_order(info))
    distinct_on = tuple(arguments.get("distinct_on") or ())
    check_distinct_order(distinct_on, orders)
    return Select(
        table_name,
        all_of(condition, to_filter(table_name, arguments.get("where"))),
        orders,
        arguments.get("limit"),
        arguments.get("offset"),
        distinct_on,
    )


@dataclass(frozen=True)
class Aggregated:
    """What ``<table>_aggregate`` resolves to: the select its measures run over."""

    query: Select


def _list(table_name: str) -> Any:
    def resolve(_root: Any, info: GraphQLResolveInfo[RequestContext], **arguments: Any) -> list[Row]:
        return _context(info).reader().select(_select(table_name, info, arguments))

    return resolve


def _aggregate(table_name: str) -> Any:
    def resolve(_root: Any, info: GraphQLResolveInfo[RequestContext], **arguments: Any) -> Aggregated:
        return Aggregated(_select(table_name, info, arguments))

    return resolve


def _by_pk(table_name: str) -> Any:
    def resolve(_root: Any, info: GraphQLResolveInfo[RequestContext], id: str) -> Row | None:
        rows = _context(info).reader().select(Select(table_name, eq("id", id), limit=1))
        return rows[0] if rows else None

    return resolve


def _parent_condition(relation: Relation, parent: Row) -> Filter:
    key = parent.get(relation.local)
    return MATCH_NONE if key is None else eq(relation.remote, key)


def _related(relation: Relation) -> Any:
    def resolve(parent: Row, info: GraphQLResolveInfo[RequestContext], **arguments: Any) -> Any:
        condition = _parent_condition(relation, parent)
        if not relation.many:
            if condition == MATCH_NONE:
                return None
            rows = _context(info).reader().select(Select(relation.target, condition, limit=1))
            return rows[0] if rows else None
        if condition == MATCH_NONE:
            return []
        return _context(info).reader().select(_select(relation.target, info, arguments, condition))

    return resolve


def _related_aggregate(relation: Relation) -> Any:
    def resolve(parent: Row, info: GraphQLResolveInfo[RequestContext], **arguments: Any) -> Aggregated:
        return Aggregated(_select(relation.target, info, arguments, _parent_condition(relation, parent)))

    return resolve


def _nodes(aggregated: Aggregated, info: GraphQLResolveInfo[RequestContext]) -> list[Row]:
    return _context(info).reader().select(aggregated.query)


def _count(
    aggregated: Aggregated,
    info: GraphQLResolveInfo[RequestContext],
    columns: list[str] | None = None,
    distinct: bool | None = None,
) -> int:
    measure = Measure(Fn.COUNT, tuple(columns or ()), bool(distinct))
    return int(_context(info).reader().aggregate(aggregated.query, [measure])[0])


def _selected_names(info: GraphQLResolveInfo[RequestContext]) -> set[str]:
    """Names of the fields selected under this one, through fragments too."""
    names: set[str] = set()

    def visit(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                visit(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                visit(info.fragments[selection.name.value].selection_set)

    for node in info.field_nodes:
        visit(node.selection_set)
    return names


def _measures(table_name: str, measure: str) -> Any:
    """``max`` / ``min`` / ``sum`` / ``avg``: every column selected below, in one read."""
    fn = Fn(measure)
    known = measured_columns(table(table_name), measure)

    def resolve(aggregated: Aggregated, info: GraphQLResolveInfo[RequestContext]) -> dict[str, Any]:
        columns = [c for c in known if c in _selected_names(info)]
        values = _context(info).reader().aggregate(aggregated.query, [Measure(fn, (c,)) for c in columns])
        return dict(zip(columns, values, strict=True))

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


def _object(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    object_type = schema.type_map[name]
    assert isinstance(object_type, GraphQLObjectType)
    return object_type


def install(schema: GraphQLSchema) -> None:
    query = schema.query_type
    assert query is not None
    query.fields["hello"].resolve = lambda _root, _info: "👋"
    query.fields["api"].resolve = _api
    query.fields["get_task_run_info"].resolve = _task_run_info
    query.fields["dockyard_queue_version"].resolve = _queue_version
    for name, source in TABLES.items():
        query.fields[name].resolve = _list(name)
        query.fields[f"{name}_by_pk"].resolve = _by_pk(name)
        query.fields[f"{name}_aggregate"].resolve = _aggregate(name)
        object_type = _object(schema, name)
        for field_name, relation in source.relations.items():
            object_type.fields[field_name].resolve = _related(relation)
            if relation.many:
                object_type.fields[f"{field_name}_aggregate"].resolve = _related_aggregate(relation)
        aggregate = _object(schema, f"{name}_aggregate")
        aggregate.fields["aggregate"].resolve = lambda aggregated, _info: aggregated
        aggregate.fields["nodes"].resolve = _nodes
        fields = _object(schema, f"{name}_aggregate_fields").fields
        fields["count"].resolve = _count
        for measure in MEASURE_TYPES:
            if measure in fields:
                fields[measure].resolve = _measures(name, measure)
