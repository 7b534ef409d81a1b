"""RunStore: where the embedded backend keeps tenants, flows, runs, states and logs.

Rows are plain dicts keyed by the column names of ``dockyard.domain.server.catalog``: JSON
columns hold decoded values, timestamps the canonical UTC text of
``dockyard.domain.server.timestamps``, booleans ``bool``. Everything happens inside a unit
of work, so a rule's read-check-write is atomic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from dockyard.domain.server.filters import Filter, Measure, Row, Select


class StoreSession(Protocol):
    """One unit of work. Raises ``UniqueViolation`` when a write breaks a unique key of the
    catalog, and ``StoreUnavailable`` when the store cannot serve the request now."""

    def select(self, query: Select) -> list[Row]:
        """Rows of ``query.table`` matching ``query.where``, ordered (ties in insertion
        order), the first of each ``distinct_on`` group, then offset and limited; with
        ``query.columns``, only those columns."""

    def aggregate(self, query: Select, measures: Sequence[Measure]) -> list[Any]:
        """Each measure over the rows ``select(query)`` would return, in one read."""

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        """Add one row; columns left out are NULL."""

    def update(self, table: str, where: Filter, changes: Mapping[str, Any]) -> int:
        """Set ``changes`` on every matching row; return how many matched."""

    def delete(self, table: str, where: Filter) -> int:
        """Remove every matching row; return how many."""


@runtime_checkable
class RunStore(Protocol):
    def unit_of_work(self, *, write: bool) -> AbstractContextManager[StoreSession]:
        """A session that commits when the block ends normally and rolls back when it
        raises. Writing sessions are serialised (one at a time across every process using
        the database, taken before the first read), so what a writer reads stays true until
        it commits; reading sessions see one consistent snapshot and never wait."""

    def close(self) -> None:
        """Release the store's resources; idempotent."""
