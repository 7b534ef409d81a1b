"""A schedule: clocks, then filters, then adjustments, as Prefect 1 evaluates them.

The clocks' events are merged in time order (the same event from two clocks counts once);
an event passes when every ``filters`` entry holds, at least one ``or_filters`` entry holds
(if there are any) and no ``not_filters`` entry does; adjustments then move its time. At
most ``MAX_CANDIDATES`` events are looked at, however few pass.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dockyard.domain.server.schedules.clocks import Clock, ClockEvent
from dockyard.domain.server.schedules.rules import Adjustment, Filter

MAX_CANDIDATES = 10_000


@dataclass(frozen=True)
class Schedule:
    clocks: Sequence[Clock]
    filters: Sequence[Filter] = ()
    or_filters: Sequence[Filter] = ()
    not_filters: Sequence[Filter] = ()
    adjustments: Sequence[Adjustment] = ()

    def next(self, n: int, after: datetime) -> list[ClockEvent]:
        """The next ``n`` events after ``after`` (a naive time is UTC)."""
        if after.tzinfo is None:
            after = after.replace(tzinfo=UTC)
        found: list[ClockEvent] = []
        if n <= 0:
            return found
        merged = heapq.merge(*(map(_InOrder, clock.events(after)) for clock in self.clocks))
        # An event equal to the one before is dropped. "The one before" is compared as it
        # was *adjusted*, as Prefect does (it adjusts its events in place): an event that
        # an adjustment moved onto the next one hides it.
        head: ClockEvent | None = None
        looked = 0
        for item in merged:
            event = item.event
            if head is not None and event.same_as(head):
                continue
            looked += 1
            if self._passes(event.start_time):
                moment = event.start_time
                for adjust in self.adjustments:
                    moment = adjust(moment)
                event = ClockEvent(moment, event.parameter_defaults, event.labels)
                found.append(event)
            head = event
            if len(found) == n or looked >= MAX_CANDIDATES:
                break
        return found

    def _passes(self, moment: datetime) -> bool:
        return (
            all(check(moment) for check in self.filters)
            and (not self.or_filters or any(check(moment) for check in self.or_filters))
            and not any(check(moment) for check in self.not_filters)
        )


class _InOrder:
    """An event as the merge sees it: ordered by start time, equal when ``same_as``. The
    merge compares its entries as lists (equality first, then order), so events at the same
    instant but with different parameters come out in the order Prefect's merge gives them."""

    __slots__ = ("event",)

    def __init__(self, event: ClockEvent) -> None:
        self.event = event

    def __lt__(self, other: _InOrder) -> bool:
        return self.event.start_time < other.event.start_time

    def __gt__(self, other: _InOrder) -> bool:
        return self.event.start_time > other.event.start_time

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _InOrder) and self.event.same_as(other.event)

    __hash__ = None  # type: ignore[assignment]
