"""GraphQLApi: the schema (schema.graphql plus the tables' part) wired to the domain, and
execution.

Documents are prepared (limits checked, parsed, validated) and cached by ``documents``. A
query document runs inside one read snapshot; each mutation runs in its own write unit of
work. Every request works against a deadline: every resolver checks it before it runs (a
graphql-core middleware), every row fetch too, and the store interrupts a long statement
once it has passed. Errors leave here in GraphQL's shape, with ``extensions.code``; a fault
of the server itself is logged and reported without its internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute,
    get_named_type,
    get_operation_ast,
)

from dockyard.adapters.graphql_api import mutations, reads, scalars
from dockyard.adapters.graphql_api.context import RequestContext
from dockyard.adapters.graphql_api.deadlines import ClientGone, RequestDeadlines, ShuttingDown
from dockyard.adapters.graphql_api.documents import CacheInfo, DocumentCache, error
from dockyard.adapters.graphql_api.limits import LimitExceeded, QueryLimits
from dockyard.adapters.graphql_api.tables_sdl import schema_sdl
from dockyard.domain.server.context import Caller
from dockyard.domain.server.errors import ApiError, StoreUnavailable
from dockyard.domain.server.service import ServerService

__all__ = ["GraphQLApi", "error", "load_schema"]

log = logging.getLogger(__name__)

# Fields that wait rather than work: their waiting does not count against the time limit.
WAITING_FIELDS = frozenset({"dockyard_queue_version"})


def load_schema() -> GraphQLSchema:
    """The executable schema: SDL plus scalar behaviour and resolvers."""
    schema = build_schema(schema_sdl())
    scalars.install(schema)
    reads.install(schema)
    mutations.install(schema)
    return schema


def _on_the_clock(resolve: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    """Middleware around every resolver: no field starts after the request's deadline, and
    every text or JSON value is charged to the response's size. Once the request is refused
    (a budget spent, out of time), the fields left are not worked out at all."""
    context = info.context
    assert isinstance(context, RequestContext)
    if context.refused is not None:
        return None
    try:
        context.deadline.check()
        if info.field_name in WAITING_FIELDS:
            with context.deadline.paused():
                return resolve(root, info, **args)
        value = resolve(root, info, **args)
        if isinstance(value, str | dict | list) and isinstance(
            get_named_type(info.return_type), GraphQLScalarType
        ):
            context.account_value(value)
        return value
    except Exception as exc:
        refusal = _refusal(exc, context)
        if refusal is None:
            raise
        context.refused = refusal
        if refusal is exc:
            raise
        raise refusal from exc


def _refusal(exc: Exception, context: RequestContext) -> ApiError | None:
    """The reason the whole request must stop, if ``exc`` is (or was caused by) one."""
    if isinstance(exc, LimitExceeded | ShuttingDown | ClientGone):
        return exc
    if isinstance(exc, ApiError):
        return None  # the domain's own answer (a refused state change, a unique key): no limit
    if context.deadline.expired():  # an interrupted statement, most likely: the deadline is why
        return context.deadline.error()
    return None


class GraphQLApi:
    def __init__(
        self,
        service: ServerService,
        *,
        limits: QueryLimits | None = None,
        deadlines: RequestDeadlines | None = None,
        cache_size: int = 512,
    ) -> None:
        self.service = service
        self.schema = load_schema()
        self.limits = limits or QueryLimits()
        self.deadlines = deadlines or RequestDeadlines(self.limits.time_limit)
        self._documents = DocumentCache(self.schema, self.limits, entries=cache_size)

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        caller: Caller,
        *,
        client_gone: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """Run one document; return the response body (``data`` and/or ``errors``)."""
        return self.answer(query, variables, operation_name, caller, client_gone=client_gone).body

    def answer(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        caller: Caller,
        *,
        client_gone: Callable[[], bool] | None = None,
    ) -> Answer:
        """Run one document; return the response body and what the request was about."""
        deadline = self.deadlines.start(client_gone)
        prepared = self._documents.get(query)
        if prepared.document is None:
            return Answer({"errors": list(prepared.errors)})
        operation = get_operation_ast(prepared.document, operation_name)
        root = _root_field(operation)
        is_query = operation is not None and operation.operation is OperationType.QUERY
        context = RequestContext(
            self.service, caller, reads_allowed=is_query, limits=self.limits, deadline=deadline
        )
        try:
            with self.deadlines.running(deadline):
                result = execute(
                    self.schema,
                    prepared.document,
                    context_value=context,
                    variable_values=variables,
                    operation_name=operation_name,
                    middleware=[_on_the_clock],
                )
        finally:
            context.close()
        assert not hasattr(result, "__await__"), "resolvers are synchronous"
        if context.refused is not None:
            return Answer(_refused(context.refused, result, keep_data=not is_query), root)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [_format(e, "BAD_USER_INPUT") for e in result.errors]
        if result.data is not None or not result.errors:
            body["data"] = result.data
        return Answer(body, root)

    def cache_info(self) -> CacheInfo:
        return self._documents.info()


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    # The first root field the operation selects (its name, not an alias): what the request
    # was about, for the metrics. None for a document that did not run.
    root_field: str | None = None


def _root_field(operation: OperationDefinitionNode | None) -> str | None:
    if operation is not None:
        for selection in operation.selection_set.selections:
            if isinstance(selection, FieldNode):
                return selection.name.value
    return None


def _refused(refusal: ApiError, result: ExecutionResult, *, keep_data: bool) -> dict[str, Any]:
    """One error for a refused request, where it happened. A query's partial data is
    dropped (it would mislead); a mutation's is kept (what came before it committed)."""
    located = next((e for e in result.errors or () if e.original_error is refusal), None)
    found = (
        _format(located, refusal.code)
        if located is not None
        else error(str(refusal), refusal.code, **_extensions(refusal))
    )
    body: dict[str, Any] = {"errors": [found]}
    if keep_data and result.data is not None:
        body["data"] = result.data
    return body


def _extensions(original: BaseException | None) -> dict[str, Any]:
    return (
        {k: v for k, v in original.extensions.items() if k != "code"}
        if isinstance(original, LimitExceeded)
        else {}
    )


def _format(exc: GraphQLError, default_code: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(exc.formatted)
    original = exc.original_error
    extensions = _extensions(original)
    if isinstance(original, ApiError):
        code = original.code
    elif isinstance(original, StoreUnavailable):
        log.warning("store unavailable: %s", original)
        formatted["message"] = f"API_ERROR: the server's database is unavailable ({original})"
        code = "API_ERROR"
    elif original is not None and exc.path is not None and not isinstance(original, GraphQLError):
        log.error("internal error resolving %s", ".".join(map(str, exc.path)), exc_info=original)
        formatted["message"] = "Internal server error; the server log has the details."
        code = "INTERNAL_SERVER_ERROR"
    else:
        code = default_code
    formatted["extensions"] = {**(formatted.get("extensions") or {}), **extensions, "code": code}
    return formatted
