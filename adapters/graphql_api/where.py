"""Hasura-style ``where`` and ``order_by`` arguments, as the domain's query language.

Sibling keys are AND-ed; ``_and``/``_or`` take lists (a single object arrives as a list
after GraphQL coercion), ``_not`` one expression; a key naming a relationship filters on
the related rows (EXISTS for arrays). An operator given ``null`` adds no condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.domain.server.catalog import table
from dockyard.domain.server.filters import (
    MATCH_ALL,
    AllOf,
    AnyOf,
    Compare,
    Filter,
    Negate,
    Op,
    Order,
    Related,
    all_of,
)

_OPS = {op.value: op for op in Op}


def to_filter(table_name: str, where: Mapping[str, Any] | None) -> Filter:
    if not where:
        return MATCH_ALL
    source = table(table_name)
    parts: list[Filter] = []
    for key, value in where.items():
        if value is None:
            continue
        if key == "_and":
            parts.append(AllOf(tuple(to_filter(table_name, item) for item in value)))
        elif key == "_or":
            parts.append(AnyOf(tuple(to_filter(table_name, item) for item in value)))
        elif key == "_not":
            parts.append(Negate(to_filter(table_name, value)))
        elif key in source.relations:
            parts.append(Related(key, to_filter(source.relations[key].target, value)))
        elif key in source.columns:
            parts.extend(
                Compare(key, _OPS[op], operand) for op, operand in value.items() if operand is not None
            )
        else:
            raise ValueError(f"{table_name} has no field {key!r}")
    return all_of(*parts)


def to_order(
    order_by: Sequence[Mapping[str, str | None]] | Mapping[str, str | None] | None,
) -> tuple[Order, ...]:
    """Orders from a list of ``{column: direction}`` objects (or one object), keys in the
    order given; a ``null`` direction adds nothing."""
    items = [order_by] if isinstance(order_by, Mapping) else list(order_by or ())
    orders = []
    for item in items:
        for column, direction in (item or {}).items():
            if direction is None:
                continue
            nulls = None
            if direction.endswith("_nulls_first"):
                nulls = True
            elif direction.endswith("_nulls_last"):
                nulls = False
            orders.append(Order(column, descending=direction.startswith("desc"), nulls_first=nulls))
    return tuple(orders)
