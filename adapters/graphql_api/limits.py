"""How much one request may ask of the server, and the error that says which limit it hit.

Documents are refused before they run when their shape is too big (tokens, depth, fields,
estimated cost, all counted through fragments and aliases); what still runs is bounded by
rows per field, rows per request, the size of the response, and a time limit. The defaults
leave room for every document Prefect 1.4.1's clients and dockyard's own agent send: their
lists ask for at most 100 rows, or for all rows of one run (its task runs, states or
logs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.domain.server.errors import ApiError


@dataclass(frozen=True)
class QueryLimits:
    max_tokens: int = 5_000  # the biggest client document has fewer than 100
    max_depth: int = 12  # relationship chains resolve row by row; clients nest 4 deep at most
    max_fields: int = 200  # fields after fragments are expanded; clients select 21 at most
    max_cost: int = 200_000  # estimated values resolved (see query_cost); clients: 41,601 at most
    max_rows_per_field: int = 10_000  # one list field's rows; page with limit/offset for more
    max_rows: int = 50_000  # rows read by one request, all fields together
    max_response_bytes: int = 32 * 1024 * 1024  # text and JSON values in one response
    time_limit: float = 10.0  # seconds of work per request; long polls wait outside it
    # A list field without a literal ``limit`` is costed as this many rows.
    assumed_list_size: int = 100


# The option each limit is set with, as errors name them.
OPTION_NAMES = {
    "max_tokens": "--max-query-tokens",
    "max_depth": "--max-query-depth",
    "max_fields": "--max-query-fields",
    "max_cost": "--max-query-cost",
    "max_rows_per_field": "--max-rows-per-field",
    "max_rows": "--max-rows-per-request",
    "max_response_bytes": "--max-response-bytes",
    "time_limit": "--request-time-limit",
}


class LimitExceeded(ApiError):
    """A request asked for more than a limit allows. The message names the limit, its
    value and what was asked; ``extensions`` carries the same for programs."""

    code = "LIMIT_EXCEEDED"

    def __init__(self, limit: str, value: float, requested: str, message: str) -> None:
        super().__init__(f"{message} (limit {limit} = {value}, set with {OPTION_NAMES[limit]}).")
        self.limit, self.value, self.requested = limit, value, requested

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "limit": self.limit, "value": self.value, "requested": self.requested}
