"""GraphQLApi: the schema (schema.graphql plus the tables' part) wired to the domain, and
execution.

Clients send the same few documents over and over, so parsed and validated documents are
kept in an LRU cache keyed by their text. A query document runs inside one read snapshot;
each mutation runs in its own write unit of work. Errors leave here in GraphQL's shape,
with ``extensions.code``; a fault of the server itself is logged and reported without its
internals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from dockyard.adapters.graphql_api import mutations, reads, scalars
from dockyard.adapters.graphql_api.context import RequestContext
from dockyard.adapters.graphql_api.tables_sdl import schema_sdl
from dockyard.domain.server.context import Caller
from dockyard.domain.server.errors import ApiError, StoreUnavailable
from dockyard.domain.server.service import ServerService

log = logging.getLogger(__name__)

MAX_TOKENS = 100_000  # a parser bound: no document a client sends comes near it
MAX_DEPTH = 12  # relationship chains resolve row by row; clients nest 4 deep at most


def _depth(document: DocumentNode) -> int:
    """The deepest nesting of selection sets in the document."""

    def nested(selections: Any) -> int:
        deepest = 0
        for selection in selections or ():
            inner = getattr(selection, "selection_set", None)
            if inner is not None:
                deepest = max(deepest, nested(inner.selections))
        return deepest + 1

    return max(
        (nested(d.selection_set.selections) for d in document.definitions if hasattr(d, "selection_set")),
        default=0,
    )


def load_schema() -> GraphQLSchema:
    """The executable schema: SDL plus scalar behaviour and resolvers."""
    schema = build_schema(schema_sdl())
    scalars.install(schema)
    reads.install(schema)
    mutations.install(schema)
    return schema


@dataclass(frozen=True)
class _Prepared:
    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]


def error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


class GraphQLApi:
    def __init__(self, service: ServerService, *, cache_size: int = 512) -> None:
        self.service = service
        self.schema = load_schema()
        self._prepare = lru_cache(maxsize=cache_size)(self._prepare_uncached)

    def _prepare_uncached(self, query: str) -> _Prepared:
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
            problems = validate(self.schema, document)
        except GraphQLError as exc:
            return _Prepared(None, (_format(exc, "GRAPHQL_PARSE_FAILED"),))
        except RecursionError:
            return _Prepared(None, (error("The document is nested too deeply.", "GRAPHQL_PARSE_FAILED"),))
        if problems:
            return _Prepared(None, tuple(_format(p, "GRAPHQL_VALIDATION_FAILED") for p in problems))
        if _depth(document) > MAX_DEPTH:
            message = f"The document nests selections deeper than {MAX_DEPTH} levels."
            return _Prepared(None, (error(message, "GRAPHQL_VALIDATION_FAILED"),))
        return _Prepared(document, ())

    def execute(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, caller: Caller
    ) -> dict[str, Any]:
        """Run one document; return the response body (``data`` and/or ``errors``)."""
        prepared = self._prepare(query)
        if prepared.document is None:
            return {"errors": list(prepared.errors)}
        operation = get_operation_ast(prepared.document, operation_name)
        is_query = operation is not None and operation.operation is OperationType.QUERY
        context = RequestContext(self.service, caller, reads_allowed=is_query)
        try:
            result = execute(
                self.schema,
                prepared.document,
                context_value=context,
                variable_values=variables,
                operation_name=operation_name,
            )
        finally:
            context.close()
        assert not hasattr(result, "__await__"), "resolvers are synchronous"
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [_format(e, "BAD_USER_INPUT") for e in result.errors]
        if result.data is not None or not result.errors:
            body["data"] = result.data
        return body

    def cache_info(self) -> Any:
        return self._prepare.cache_info()


def _format(exc: GraphQLError, default_code: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(exc.formatted)
    original = exc.original_error
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
    formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": code}
    return formatted
