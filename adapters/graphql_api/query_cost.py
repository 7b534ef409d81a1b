"""The size of a document before it runs: depth, fields and an estimated cost.

Everything is counted as execution would see it: a fragment spread counts its fragment's
selections each time it is spread, an alias is a field of its own, and a list field's
selections count once per row it may return — its literal ``limit`` (at most the row cap),
or ``assumed_list_size`` rows without one. So ``flow_run { flow { flow_runs { id } } }``
costs about 100 x 100 and each further level of lists multiplies by 100 again, which is
what makes nested fragments a bomb. Each fragment is measured once (memoised), so
measuring is linear in the document's size however large the counts grow.

This runs as a graphql-core validation rule, before (and instead of, when it refuses) the
specification's rules: some of those are quadratic in the fields of a selection set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    ValidationRule,
    get_named_type,
    get_nullable_type,
)
from graphql.language.visitor import SKIP

from dockyard.adapters.graphql_api.limits import LimitExceeded, QueryLimits


@dataclass(frozen=True)
class Shape:
    cost: int  # values resolved, lists counted at their (assumed) size
    fields: int  # field selections once fragments are expanded
    depth: int  # levels of nested selections


_NOTHING = Shape(0, 0, 0)


class _Measure:
    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], limits: QueryLimits
    ) -> None:
        self._schema, self._fragments, self._limits = schema, fragments, limits
        self._measured: dict[str, Shape] = {}
        self._open: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> Shape:
        roots = {
            OperationType.QUERY: self._schema.query_type,
            OperationType.MUTATION: self._schema.mutation_type,
            OperationType.SUBSCRIPTION: self._schema.subscription_type,
        }
        return self._selections(operation.selection_set.selections, roots.get(operation.operation))

    def _selections(self, selections: Any, parent: GraphQLNamedType | None) -> Shape:
        cost = fields = depth = 0
        for selection in selections:
            shape = self._selection(selection, parent)
            cost, fields, depth = cost + shape.cost, fields + shape.fields, max(depth, shape.depth)
        return Shape(cost, fields, depth)

    def _selection(self, selection: SelectionNode, parent: GraphQLNamedType | None) -> Shape:
        if isinstance(selection, FieldNode):
            return self._field(selection, parent)
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            inner = self._schema.get_type(condition.name.value) if condition else parent
            return self._selections(selection.selection_set.selections, inner)
        if isinstance(selection, FragmentSpreadNode):
            return self._fragment(selection.name.value)
        return _NOTHING

    def _fragment(self, name: str) -> Shape:
        if name in self._measured:
            return self._measured[name]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._open:
            return _NOTHING  # unknown fragments and cycles are the specification rules' to report
        self._open.add(name)
        try:
            parent = self._schema.get_type(fragment.type_condition.name.value)
            shape = self._selections(fragment.selection_set.selections, parent)
        finally:
            self._open.discard(name)
        self._measured[name] = shape
        return shape

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Shape:
        if node.selection_set is None:
            return Shape(1, 1, 1)
        fields = (
            getattr(parent, "fields", None)
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        definition = fields.get(node.name.value) if fields else None
        inner_type = get_named_type(definition.type) if definition is not None else None
        inner = self._selections(node.selection_set.selections, inner_type)
        rows = 1
        if definition is not None and isinstance(get_nullable_type(definition.type), GraphQLList):
            rows = self._list_size(node)
        return Shape(1 + rows * inner.cost, 1 + inner.fields, 1 + inner.depth)

    def _list_size(self, node: FieldNode) -> int:
        cap = self._limits.max_rows_per_field
        for argument in node.arguments or ():
            if argument.name.value == "limit" and isinstance(argument.value, IntValueNode):
                return max(0, min(int(argument.value.value), cap))
        return min(self._limits.assumed_list_size, cap)


def measure(
    schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits
) -> dict[OperationDefinitionNode, Shape]:
    """The shape of each operation in ``document``."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    measure = _Measure(schema, fragments, limits)
    return {d: measure.operation(d) for d in document.definitions if isinstance(d, OperationDefinitionNode)}


def refusal(shape: Shape, limits: QueryLimits) -> LimitExceeded | None:
    """The first limit ``shape`` goes past, if any."""
    if shape.depth > limits.max_depth:
        return LimitExceeded(
            "max_depth",
            limits.max_depth,
            f"{shape.depth} levels",
            f"Query refused: its selections nest {shape.depth} levels deep (counted through "
            "fragments), deeper than allowed",
        )
    if shape.fields > limits.max_fields:
        return LimitExceeded(
            "max_fields",
            limits.max_fields,
            f"{shape.fields} fields",
            f"Query refused: it selects {shape.fields} fields once fragments and aliases are expanded",
        )
    if shape.cost > limits.max_cost:
        return LimitExceeded(
            "max_cost",
            limits.max_cost,
            f"cost {shape.cost}",
            f"Query refused: it could resolve about {shape.cost} values (each list counted at its "
            f"limit argument, or {limits.assumed_list_size} rows without one); "
            "give nested lists a smaller limit",
        )
    return None


def cost_rule(limits: QueryLimits) -> type[ValidationRule]:
    """A validation rule refusing documents past ``limits`` (depth, fields, cost)."""

    class QueryCostRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> Any:
            for operation, shape in measure(self.context.schema, node, limits).items():
                refused = refusal(shape, limits)
                if refused is not None:
                    self.report_error(
                        GraphQLError(
                            str(refused), operation, original_error=refused, extensions=refused.extensions
                        )
                    )
            return SKIP

    return QueryCostRule
