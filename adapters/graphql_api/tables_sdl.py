"""The Hasura-style part of the schema, generated from the domain catalog.

Prefect Server serves its tables through Hasura, which derives one uniform surface from
them; dockyard derives the same surface from its catalog, so every table, column and
relationship is readable, filterable and orderable the same way. Per table ``t``:

- ``type t``: its columns, its object relationships, and for each array relationship
  ``r`` the list field ``r(where, order_by, distinct_on, limit, offset)`` and
  ``r_aggregate(...)``;
- root fields ``t(...)``, ``t_by_pk(id)`` and ``t_aggregate(...)``;
- ``t_bool_exp`` (columns, relationships, ``_and``/``_or``/``_not``), ``t_order_by``,
  ``t_select_column``, and ``t_aggregate { aggregate { count(columns, distinct) max min
  sum avg } nodes }`` with ``max``/``min`` over ordered columns and ``sum``/``avg`` over
  integer ones, as Hasura offers them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from dockyard.domain.server.catalog import TABLES, Kind, Table

SCALARS = {
    Kind.UUID: "uuid",
    Kind.TEXT: "String",
    Kind.INT: "Int",
    Kind.BOOL: "Boolean",
    Kind.JSON: "jsonb",
    Kind.TIME: "timestamptz",
}
ORDERED_KINDS = frozenset({Kind.UUID, Kind.TEXT, Kind.INT, Kind.TIME})  # max / min
NUMERIC_KINDS = frozenset({Kind.INT})  # sum / avg
MEASURE_TYPES = {"max": "max_fields", "min": "min_fields", "sum": "sum_fields", "avg": "avg_fields"}


def list_arguments(name: str) -> str:
    return (
        f"where: {name}_bool_exp, order_by: [{name}_order_by!], "
        f"distinct_on: [{name}_select_column!], limit: Int, offset: Int"
    )


def measured_columns(source: Table, measure: str) -> list[str]:
    """The columns ``max``/``min`` (ordered kinds) or ``sum``/``avg`` (numbers) cover."""
    kinds = ORDERED_KINDS if measure in ("max", "min") else NUMERIC_KINDS
    return [name for name, kind in source.columns.items() if kind in kinds]


def _object_type(source: Table) -> str:
    fields = [
        f"  {name}: {SCALARS[kind]}{'!' if name == 'id' else ''}" for name, kind in source.columns.items()
    ]
    for name, relation in source.relations.items():
        target = relation.target
        if relation.many:
            fields.append(f"  {name}({list_arguments(target)}): [{target}!]!")
            fields.append(f"  {name}_aggregate({list_arguments(target)}): {target}_aggregate!")
        else:
            fields.append(f"  {name}: {target}")
    return f"type {source.name} {{\n" + "\n".join(fields) + "\n}"


def _inputs(source: Table) -> list[str]:
    name = source.name
    conditions = [f"_and: [{name}_bool_exp!]", f"_or: [{name}_bool_exp!]", f"_not: {name}_bool_exp"]
    conditions += [f"{column}: {SCALARS[kind]}_comparison_exp" for column, kind in source.columns.items()]
    conditions += [f"{relation}: {r.target}_bool_exp" for relation, r in source.relations.items()]
    orders = [f"{column}: order_by" for column in source.columns]
    return [
        f"input {name}_bool_exp {{ {', '.join(conditions)} }}",
        f"input {name}_order_by {{ {', '.join(orders)} }}",
        f"enum {name}_select_column {{ {' '.join(source.columns)} }}",
    ]


def _aggregate_types(source: Table) -> list[str]:
    name = source.name
    fields = [f"count(columns: [{name}_select_column!], distinct: Boolean): Int!"]
    types = []
    for measure, suffix in MEASURE_TYPES.items():
        columns = measured_columns(source, measure)
        if not columns:
            continue
        fields.append(f"{measure}: {name}_{suffix}")
        typed = [f"{c}: {'Float' if measure == 'avg' else SCALARS[source.columns[c]]}" for c in columns]
        types.append(f"type {name}_{suffix} {{ {', '.join(typed)} }}")
    return [
        f"type {name}_aggregate {{ aggregate: {name}_aggregate_fields, nodes: [{name}!]! }}",
        f"type {name}_aggregate_fields {{ {', '.join(fields)} }}",
        *types,
    ]


def _root_fields(source: Table) -> list[str]:
    name = source.name
    return [
        f"  {name}({list_arguments(name)}): [{name}!]!",
        f"  {name}_by_pk(id: uuid!): {name}",
        f"  {name}_aggregate({list_arguments(name)}): {name}_aggregate!",
    ]


def tables_sdl() -> str:
    parts = []
    roots = []
    for source in TABLES.values():
        parts.append(_object_type(source))
        parts += _inputs(source)
        parts += _aggregate_types(source)
        roots += _root_fields(source)
    parts.append("extend type Query {\n" + "\n".join(roots) + "\n}")
    return "\n\n".join(parts) + "\n"


@cache
def schema_sdl() -> str:
    """The whole schema: the hand-written schema.graphql plus the tables' part."""
    written = files("dockyard.adapters.graphql_api").joinpath("schema.graphql").read_text(encoding="utf-8")
    return written + "\n" + tables_sdl()
