"""The schema and the domain catalog describe the same tables: the Hasura-style part is
generated from the catalog, so every column and relationship a store knows is one a
client may select, filter, order, pick distinct rows and aggregate by, and nothing else."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)

from dockyard.adapters.graphql_api.executor import load_schema
from dockyard.adapters.graphql_api.tables_sdl import SCALARS
from dockyard.domain.server.catalog import TABLES, Kind


def _named(kind: object) -> object:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def test_object_types_expose_exactly_the_catalog() -> None:
    schema = load_schema()
    for name, table in TABLES.items():
        object_type = schema.type_map[name]
        assert isinstance(object_type, GraphQLObjectType)
        expected = set(table.columns) | set(table.relations)
        expected |= {f"{r}_aggregate" for r, relation in table.relations.items() if relation.many}
        assert set(object_type.fields) == expected, name
        for column, kind in table.columns.items():
            scalar = _named(object_type.fields[column].type)
            assert isinstance(scalar, GraphQLScalarType) and scalar.name == SCALARS[kind], f"{name}.{column}"
        for field_name, relation in table.relations.items():
            target = _named(object_type.fields[field_name].type)
            assert isinstance(target, GraphQLObjectType) and target.name == relation.target
            if relation.many:
                arguments = set(object_type.fields[field_name].args)
                assert arguments == {"where", "order_by", "distinct_on", "limit", "offset"}
                aggregate = _named(object_type.fields[f"{field_name}_aggregate"].type)
                assert isinstance(aggregate, GraphQLObjectType)
                assert aggregate.name == f"{relation.target}_aggregate"


def test_inputs_cover_every_column_and_relationship() -> None:
    schema = load_schema()
    for name, table in TABLES.items():
        where = schema.type_map[f"{name}_bool_exp"]
        assert isinstance(where, GraphQLInputObjectType)
        assert set(where.fields) == {"_and", "_or", "_not", *table.columns, *table.relations}
        order = schema.type_map[f"{name}_order_by"]
        assert isinstance(order, GraphQLInputObjectType) and set(order.fields) == set(table.columns)
        columns = schema.type_map[f"{name}_select_column"]
        assert isinstance(columns, GraphQLEnumType) and set(columns.values) == set(table.columns)


def test_root_fields_for_every_table() -> None:
    schema = load_schema()
    assert schema.query_type is not None
    fields = schema.query_type.fields
    for name in TABLES:
        assert set(fields[name].args) == {"where", "order_by", "distinct_on", "limit", "offset"}
        assert set(fields[f"{name}_by_pk"].args) == {"id"}
        assert _named(fields[f"{name}_aggregate"].type).name == f"{name}_aggregate"  # type: ignore[attr-defined]


def test_aggregate_measures_follow_the_column_kinds() -> None:
    schema = load_schema()
    task_run = TABLES["task_run"]
    fields = schema.type_map["task_run_aggregate_fields"]
    assert isinstance(fields, GraphQLObjectType)
    assert set(fields.fields) == {"count", "max", "min", "sum", "avg"}
    assert set(fields.fields["count"].args) == {"columns", "distinct"}
    maxima = schema.type_map["task_run_max_fields"]
    assert isinstance(maxima, GraphQLObjectType)
    ordered = {c for c, k in task_run.columns.items() if k in (Kind.UUID, Kind.TEXT, Kind.INT, Kind.TIME)}
    assert set(maxima.fields) == ordered and "serialized_state" not in maxima.fields
    sums = schema.type_map["task_run_sum_fields"]
    assert isinstance(sums, GraphQLObjectType)
    assert set(sums.fields) == {"version", "map_index", "run_count"}
    assert "tenant_sum_fields" not in schema.type_map  # no integer columns: no sum/avg


def test_every_mutation_has_a_resolver() -> None:
    schema = load_schema()
    assert schema.mutation_type is not None
    assert all(field.resolve is not None for field in schema.mutation_type.fields.values())
