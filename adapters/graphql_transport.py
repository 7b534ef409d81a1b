"""GraphQLTransport: one POST per GraphQL document to a Prefect-1-compatible API.

Shared by every dockyard client of the API (the agent's backend adapter and the ``run``
commands). It owns what is about HTTP: headers (``Authorization``, the agent id once
registered), timeouts, retries with backoff on connection errors and 5xx answers, and the
translation of GraphQL ``errors`` into dockyard's error classes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from dockyard.adapters.connection_errors import connection_problem
from dockyard.domain.errors import BackendError, BackendUnavailable, SubmissionConflict, Unauthenticated

log = logging.getLogger(__name__)

# The backend's Submitted lock answers with this; Prefect's own agent keys on the same words.
SUBMITTED_LOCK_WORDS = "State update failed"


class GraphQLTransport:
    def __init__(
        self,
        session: requests.Session,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 15.0,
        attempts: int = 5,
        backoff: float = 0.25,
        max_backoff: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/") or url
        self._session = session
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._headers: dict[str, str] = {"Content-Type": "application/json"}
        self._lock = threading.Lock()
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def attach_header(self, name: str, value: str) -> None:
        """Send ``name: value`` with every later request (e.g. ``X-PREFECT-AGENT-ID``)."""
        with self._lock:
            self._headers[name] = value

    def execute(
        self, query: str, variables: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Run one document; return its ``data``. Raises ``BackendUnavailable`` when the
        API cannot be reached after the retries, ``BackendError`` (or a subclass) when it
        answers with errors. ``timeout`` overrides the per-request timeout (long polls)."""
        with self._lock:
            headers = dict(self._headers)
        body = {"query": query, "variables": dict(variables) if variables is not None else None}
        response = self._post_with_retries(body, headers, timeout or self._timeout)
        return _data_or_raise(response)

    def _post_with_retries(
        self, body: Mapping[str, Any], headers: Mapping[str, str], timeout: float
    ) -> requests.Response:
        delay = self._backoff
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._session.post(self.url, json=body, headers=headers, timeout=timeout)
            except requests.exceptions.Timeout:
                problem = f"cannot reach the API at {self.url}: no answer within {timeout:g} s"
            except requests.exceptions.RequestException as exc:
                problem = f"cannot reach the API at {self.url}: {connection_problem(exc)}"
            else:
                if response.status_code < 500:
                    return response
                problem = f"the API at {self.url} answered HTTP {response.status_code}"
            if attempt == self._attempts:
                raise BackendUnavailable(problem)
            log.debug("%s (attempt %d of %d); retrying in %.2fs", problem, attempt, self._attempts, delay)
            self._sleep(delay * (0.5 + random.random() / 2))  # jitter: agents do not retry in step
            delay = min(delay * 2, self._max_backoff)
        raise AssertionError("unreachable")


def _data_or_raise(response: requests.Response) -> dict[str, Any]:
    if response.status_code in (401, 403):
        raise Unauthenticated(f"the API refused our credentials (HTTP {response.status_code})")
    try:
        payload = response.json()
    except ValueError as exc:
        raise BackendError(f"malformed response from the API (HTTP {response.status_code})") from exc
    if not isinstance(payload, dict):
        raise BackendError("malformed response from the API: not a JSON object")
    errors = payload.get("errors")
    if errors:
        raise _error_for(errors)
    if response.status_code >= 400:
        raise BackendError(f"the API answered HTTP {response.status_code}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BackendError("malformed response from the API: no data")
    return data


def _error_for(errors: Any) -> BackendError:
    messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
    codes = [str((e.get("extensions") or {}).get("code", "")) for e in errors if isinstance(e, dict)]
    text = "; ".join(messages)
    if "UNAUTHENTICATED" in codes or "UNAUTHENTICATED" in text or "Malformed Authorization header" in text:
        return Unauthenticated(text)
    if SUBMITTED_LOCK_WORDS in text:
        return SubmissionConflict(text)
    return BackendError(text)
