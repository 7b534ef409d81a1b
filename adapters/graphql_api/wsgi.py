"""The HTTP face of the API, as a WSGI application.

``POST /`` and ``POST /graphql`` (trailing slash or not) take ``{"query", "variables",
"operationName"}``; ``variables`` may be an object or a JSON-encoded string (Prefect 1.4.1
sends a string). ``GET /health`` answers ``{"status": "ok", "version": ...}`` without
authentication. Each request is counted and timed in the server's metrics, by its root
field and outcome. Every failure is answered with a GraphQL ``errors`` body and a 2xx/4xx
status: Prefect's client retries 5xx answers for a minute, so they are never used for a
client's mistake. A request that reaches a stopping server is answered 503 (clients retry),
as is ``/health``.

The body is the input boundary: any string in it that is not Unicode text (a lone
surrogate), any number the server cannot keep, is refused here as the client's error,
naming where it was (``variables.input.flow_run_name``).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from importlib.metadata import version
from typing import Any

from dockyard.adapters.graphql_api import strict_json
from dockyard.adapters.graphql_api.executor import GraphQLApi, error
from dockyard.adapters.graphql_api.strict_json import InvalidJsonValue
from dockyard.adapters.prometheus import PrometheusServerMetrics
from dockyard.domain.server.context import Caller

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
GRAPHQL_PATHS = frozenset({"", "/", "/graphql", "/graphql/"})
DEFAULT_MAX_BODY = 10 * 1024 * 1024


class _Refused(Exception):
    def __init__(self, status: str, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class GraphQLWsgiApp:
    def __init__(
        self,
        api: GraphQLApi,
        *,
        api_key: str | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        metrics: PrometheusServerMetrics | None = None,
    ) -> None:
        self._api = api
        self._metrics = metrics
        self._deadlines = api.deadlines
        self._api_key = api_key.encode() if api_key else None
        self.max_body = max_body
        self._version = version("dockyard")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self._metrics is None:
            return self._serve(environ, start_response)
        with self._metrics.in_flight.track_inprogress():
            return self._serve(environ, start_response)

    def _serve(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        operation = "-"
        about = "-"  # the metrics' operation: a root field of the schema, or health
        body: dict[str, Any]
        try:
            if self._deadlines.stopping:
                raise _Refused(
                    "503 Service Unavailable",
                    "The server is shutting down; retry shortly.",
                    "SERVICE_UNAVAILABLE",
                )
            if path in ("/health", "/health/") and method in ("GET", "HEAD"):
                about = "health"
                status, body = "200 OK", {"status": "ok", "version": self._version}
            elif path not in GRAPHQL_PATHS:
                raise _Refused(
                    "404 Not Found",
                    f"No such endpoint: {path}. GraphQL is served at / and /graphql.",
                    "NOT_FOUND",
                )
            elif method != "POST":
                raise _Refused(
                    "405 Method Not Allowed", "GraphQL requests must be sent with POST.", "METHOD_NOT_ALLOWED"
                )
            else:
                self._authenticate(environ)
                query, variables, operation_name = self._request(environ)
                operation = operation_name or _first_field(query)
                answer = self._api.answer(
                    query,
                    variables,
                    operation_name,
                    _caller(environ),
                    client_gone=environ.get("waitress.client_disconnected"),
                )
                status, body, about = "200 OK", answer.body, answer.root_field or "-"
        except _Refused as refused:
            status, body = refused.status, {"errors": [error(str(refused), refused.code)]}
        except Exception:  # a fault of ours: say so in GraphQL's shape, never a bare 500 page
            log.exception("unexpected error serving %s %s", method, path)
            status = "200 OK"
            body = {
                "errors": [
                    error("Internal server error; the server log has the details.", "INTERNAL_SERVER_ERROR")
                ]
            }
        payload = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        if status.startswith("405"):
            headers.append(("Allow", "POST"))
        elif status.startswith("503"):
            headers.append(("Retry-After", "5"))
        start_response(status, headers)
        seconds = time.perf_counter() - started
        if self._metrics is not None:
            self._metrics.request(about, _outcome(body), seconds)
        elapsed = seconds * 1000
        level = logging.WARNING if "errors" in body else logging.DEBUG
        if log.isEnabledFor(level):
            # ascii(): messages may quote client text that a UTF-8 log cannot hold
            detail = ascii("; ".join(str(e.get("message")) for e in body.get("errors", []))[:500])[1:-1]
            log.log(
                level,
                "%s %s %s %s %.1fms%s",
                method,
                path,
                operation,
                status[:3],
                elapsed,
                f" errors: {detail}" if detail else "",
            )
        return [payload]

    def _authenticate(self, environ: dict[str, Any]) -> None:
        if self._api_key is None:
            return
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self._api_key):
            raise _Refused(
                "200 OK",
                "UNAUTHENTICATED: a valid API key is required (Authorization: Bearer <key>).",
                "UNAUTHENTICATED",
            )

    def _request(self, environ: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
        raw = self._read_body(environ)
        try:
            request, suspect = strict_json.parse(raw)  # its parts are checked below, by name
        except RecursionError:
            raise _Refused(
                "400 Bad Request", "Malformed request: the body nests JSON too deeply.", "BAD_REQUEST"
            ) from None
        except ValueError:  # UnicodeDecodeError is a ValueError
            raise _Refused(
                "400 Bad Request", "Malformed request: the body is not valid JSON.", "BAD_REQUEST"
            ) from None
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            raise _Refused(
                "400 Bad Request",
                "Malformed request: expected a JSON object with a 'query' string.",
                "BAD_REQUEST",
            )
        variables = request.get("variables")
        if isinstance(variables, str):  # Prefect 1.x double-encodes its variables
            try:
                variables = strict_json.loads(variables, where="variables")
            except InvalidJsonValue as exc:
                raise _invalid_input(exc) from None
            except (ValueError, RecursionError):
                raise _Refused(
                    "400 Bad Request",
                    "Malformed request: 'variables' is a string that is not valid JSON.",
                    "BAD_REQUEST",
                ) from None
        if variables is not None and not isinstance(variables, dict):
            raise _Refused(
                "400 Bad Request",
                "Malformed request: 'variables' must be an object (or JSON text of one).",
                "BAD_REQUEST",
            )
        operation_name = request.get("operationName")
        if suspect:
            try:
                if not isinstance(request.get("variables"), str):  # else checked as it was parsed
                    strict_json.check(variables, "variables")
                strict_json.check(operation_name, "operationName")
            except InvalidJsonValue as exc:
                raise _invalid_input(exc) from None
        return request["query"], variables, operation_name if isinstance(operation_name, str) else None

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        too_large = _Refused(
            "413 Request Entity Too Large",
            f"Request body too large: the limit is {self.max_body} bytes.",
            "PAYLOAD_TOO_LARGE",
        )
        if length > self.max_body:
            raise too_large
        body: bytes = (
            environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read(self.max_body + 1)
        )
        if len(body) > self.max_body:
            raise too_large
        return body


def _outcome(body: dict[str, Any]) -> str:
    """``ok``, or the first error's code (``bad_user_input``, ``limit_exceeded``...)."""
    errors = body.get("errors")
    if not errors:
        return "ok"
    first = errors[0] if isinstance(errors[0], dict) else {}
    return str((first.get("extensions") or {}).get("code") or "error").lower()


def _invalid_input(exc: InvalidJsonValue) -> _Refused:
    # Well-formed JSON the server cannot keep: the client's error, answered like any other
    # invalid input (200 with BAD_USER_INPUT), naming the place.
    return _Refused("200 OK", f"Invalid input: {exc.where} {exc.problem}.", "BAD_USER_INPUT")


def _caller(environ: dict[str, Any]) -> Caller:
    agent_id = environ.get("HTTP_X_PREFECT_AGENT_ID")
    try:
        agent_id = str(uuid.UUID(agent_id)) if agent_id else None
    except ValueError:
        log.debug("ignoring a malformed X-PREFECT-AGENT-ID header: %r", agent_id)
        agent_id = None
    return Caller(agent_id=agent_id, core_version=environ.get("HTTP_X_PREFECT_CORE_VERSION"))


_FIRST_FIELD = re.compile(r"\{\s*([_A-Za-z][_0-9A-Za-z]*)")


def _first_field(query: str) -> str:
    # For the request log only: the first field name after the first brace.
    found = _FIRST_FIELD.search(query[:2000])
    return found.group(1) if found else "-"
