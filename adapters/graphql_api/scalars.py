"""The API's scalars, normalising values where they enter.

UUIDs become lowercase hyphenated text and instants canonical UTC text before any resolver
sees them, so filters compare like with like; a malformed value is a GraphQL error naming
it. JSON scalars take any JSON value, also as an inline literal; a literal's numbers must be
ones the server can keep, as in variables (``strict_json``).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from graphql import (
    FloatValueNode,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    value_from_ast_untyped,
)

from dockyard.adapters.graphql_api.strict_json import INT_RANGE, InvalidJsonValue
from dockyard.domain.server.errors import InvalidInput
from dockyard.domain.server.timestamps import normalise


def parse_uuid(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"Invalid UUID: {value!r} (expected a string)")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"Invalid UUID: {value!r}") from None


def _parse_instant(value: Any) -> str:
    try:
        return normalise(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


def _string_literal(parse: Any) -> Any:
    def parse_literal(node: ValueNode, _variables: Any = None) -> Any:
        if not isinstance(node, StringValueNode):
            raise ValueError("expected a string literal")
        return parse(node.value)

    return parse_literal


def _json_literal(node: ValueNode, variables: Any = None) -> Any:
    _check_numbers(node, "")
    return value_from_ast_untyped(node, variables)


def _check_numbers(node: ValueNode, where: str) -> None:
    problem = None
    if isinstance(node, IntValueNode):
        digits = node.value.lstrip("-")
        if len(digits) > 19 or not INT_RANGE[0] <= int(node.value) <= INT_RANGE[1]:
            problem = f"is an integer outside the 64-bit range: {node.value[:40]}"
    elif isinstance(node, FloatValueNode):
        if not math.isfinite(float(node.value)):
            problem = f"is a number too large for a double: {node.value[:40]}"
    elif isinstance(node, ListValueNode):
        for i, item in enumerate(node.values):
            _check_numbers(item, f"{where}[{i}]")
    elif isinstance(node, ObjectValueNode):
        for entry in node.fields:
            _check_numbers(entry.value, f"{where}.{entry.name.value}" if where else entry.name.value)
    if problem:
        raise InvalidJsonValue(where or "the value", problem)


def _identity(value: Any) -> Any:
    return value


def install(schema: GraphQLSchema) -> None:
    """Give the SDL's scalars their behaviour."""
    behaviours: dict[str, tuple[Any, Any, Any]] = {
        "UUID": (str, parse_uuid, _string_literal(parse_uuid)),
        "uuid": (str, parse_uuid, _string_literal(parse_uuid)),
        "DateTime": (str, _parse_instant, _string_literal(_parse_instant)),
        "timestamptz": (str, _parse_instant, _string_literal(_parse_instant)),
        "JSON": (_identity, _identity, _json_literal),
        "jsonb": (_identity, _identity, _json_literal),
    }
    for name, (serialize, parse_value, parse_literal) in behaviours.items():
        scalar = schema.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)
        scalar.serialize = serialize  # type: ignore[method-assign]
        scalar.parse_value = parse_value  # type: ignore[method-assign]
        scalar.parse_literal = parse_literal  # type: ignore[method-assign]
        # graphql-core 3.3 reads these, copied from the above when the type was built.
        if hasattr(scalar, "coerce_input_value"):
            scalar.coerce_output_value = serialize
            scalar.coerce_input_value = parse_value
