"""schema.graphql and the domain catalog describe the same tables, so every field a client
may select or filter on is one the stores know."""

from __future__ import annotations

from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType

from dockyard.adapters.graphql_api.executor import load_schema
from dockyard.domain.server.catalog import TABLES


def _named(kind: object) -> object:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def test_object_fields_are_catalog_columns_or_relationships() -> None:
    schema = load_schema()
    for name, table in TABLES.items():
        object_type = schema.type_map.get(name)
        if not isinstance(object_type, GraphQLObjectType):
            continue
        for field_name, field in object_type.fields.items():
            if isinstance(_named(field.type), GraphQLObjectType):
                assert field_name in table.relations, f"{name}.{field_name}"
                assert _named(field.type).name == table.relations[field_name].target  # type: ignore[attr-defined]
            else:
                assert field_name in table.columns, f"{name}.{field_name}"


def test_filters_and_orderings_name_catalog_columns() -> None:
    schema = load_schema()
    for name, table in TABLES.items():
        where = schema.type_map.get(f"{name}_bool_exp")
        if isinstance(where, GraphQLInputObjectType):
            for field_name in where.fields:
                known = field_name in table.columns or field_name in table.relations
                assert known or field_name in ("_and", "_or", "_not"), f"{name}_bool_exp.{field_name}"
        order = schema.type_map.get(f"{name}_order_by")
        if isinstance(order, GraphQLInputObjectType):
            assert set(order.fields) <= set(table.columns), f"{name}_order_by"


def test_every_mutation_has_a_resolver() -> None:
    schema = load_schema()
    assert schema.mutation_type is not None
    assert all(field.resolve is not None for field in schema.mutation_type.fields.values())
