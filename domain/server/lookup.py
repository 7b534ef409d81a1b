"""Small reads the use cases share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.domain.server.errors import NotFound
from dockyard.domain.server.filters import MATCH_ALL, Filter, Order, Row, Select, eq

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession


def first(session: StoreSession, table: str, where: Filter, *order: Order) -> Row | None:
    rows = session.select(Select(table, where=where, order_by=order, limit=1))
    return rows[0] if rows else None


def by_id(session: StoreSession, table: str, row_id: str) -> Row | None:
    return first(session, table, eq("id", row_id))


def require(session: StoreSession, table: str, row_id: str, message: str) -> Row:
    row = by_id(session, table, row_id)
    if row is None:
        raise NotFound(message)
    return row


def default_tenant(session: StoreSession) -> Row | None:
    """The first tenant by slug: the one a client that names no tenant works in."""
    return first(session, "tenant", MATCH_ALL, Order("slug"))
