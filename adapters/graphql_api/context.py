"""What every resolver gets as ``info.context``: the service, the caller, and the
request's budget (its deadline, the rows it may still read, the bytes its response may
still take).

Reads fetch whole rows, so rows are counted where they are fetched; the response is
counted by the values put in it (``account_value``, called for every leaf field).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from dockyard.adapters.graphql_api.deadlines import Deadline, RequestDeadlines
from dockyard.adapters.graphql_api.limits import LimitExceeded, QueryLimits
from dockyard.domain.server.context import Caller
from dockyard.domain.server.errors import ApiError
from dockyard.domain.server.filters import Filter, Measure, Row, Select
from dockyard.domain.server.service import ServerService
from dockyard.ports.run_store import StoreSession

_NO_TIME_LIMIT = RequestDeadlines(float("inf"))


@dataclass
class RequestContext:
    service: ServerService
    caller: Caller
    # Query documents read from one snapshot, opened by the first resolver that reads (a
    # long poll alone never holds one); mutations open their own units of work instead.
    reads_allowed: bool = False
    limits: QueryLimits = field(default_factory=QueryLimits)
    deadline: Deadline = field(default_factory=_NO_TIME_LIMIT.start)
    rows_read: int = 0
    response_bytes: int = 0
    refused: ApiError | None = None  # why the request stopped, once it has
    _stack: ExitStack = field(default_factory=ExitStack)
    _session: StoreSession | None = None

    def reader(self) -> StoreSession:
        if not self.reads_allowed:
            raise RuntimeError("reads inside a mutation document are not supported")
        if self._session is None:
            self.deadline.check()
            self._session = _MeteredSession(self._stack.enter_context(self.service.reading()), self)
        return self._session

    def close(self) -> None:
        """End the snapshot, if one was opened."""
        self._stack.close()

    def account_rows(self, table: str, rows: list[Row]) -> None:
        """Charge ``rows`` to the request's budget; refuse once it is spent."""
        limits = self.limits
        self.rows_read += len(rows)
        if self.rows_read > limits.max_rows:
            raise LimitExceeded(
                "max_rows",
                limits.max_rows,
                f"more than {limits.max_rows} rows",
                f"The request reads more than {limits.max_rows} rows (at {table}); ask for fewer with "
                "limit arguments or split it",
            )

    def account_value(self, value: Any) -> None:
        """Charge a text or JSON value put in the response; refuse once the response is too big."""
        self.response_bytes += _size(value)
        if self.response_bytes > self.limits.max_response_bytes:
            cap = self.limits.max_response_bytes
            raise LimitExceeded(
                "max_response_bytes",
                cap,
                f"more than {cap} bytes",
                f"The response would hold more than {cap} bytes of text and JSON; select fewer large "
                "fields or fewer rows",
            )


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict | list):
        return len(json.dumps(value))
    return 8


class _MeteredSession:
    """A reading session that checks the deadline before each fetch, caps the rows of one
    list and charges the rows it reads to the request."""

    def __init__(self, session: StoreSession, context: RequestContext) -> None:
        self._session, self._context = session, context

    def select(self, query: Select) -> list[Row]:
        context = self._context
        context.deadline.check()
        cap = context.limits.max_rows_per_field
        asked = query.limit
        fetch = cap + 1 if asked is None or asked > cap else asked
        rows = self._session.select(dataclasses.replace(query, limit=fetch))
        if len(rows) > cap:
            raise LimitExceeded(
                "max_rows_per_field",
                cap,
                f"more than {cap} rows of {query.table}",
                f"A list of {query.table} would have more than {cap} rows; page through it with "
                "limit and offset",
            )
        context.account_rows(query.table, rows)
        return rows

    def aggregate(self, query: Select, measures: Sequence[Measure]) -> list[Any]:
        # One row of figures; the statement itself is interrupted past the deadline.
        self._context.deadline.check()
        return self._session.aggregate(query, measures)

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        self._session.insert(table, row)

    def update(self, table: str, where: Filter, changes: Mapping[str, Any]) -> int:
        return self._session.update(table, where, changes)

    def delete(self, table: str, where: Filter) -> int:
        return self._session.delete(table, where)
