"""The runs list, one run in detail, and its logs a page at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.filters import Compare, Filter, Op, Order, Related, Row, Select, all_of, eq
from dockyard.domain.server.lookup import by_id
from dockyard.domain.server.timeline import StateSpan, run_duration, timeline
from dockyard.domain.server.views.items import (
    RUN_COLUMNS,
    RunItem,
    RunNamer,
    columns_of,
    rows_by_id,
    rows_where_in,
    when,
)
from dockyard.domain.states import FINISHED_STATES

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The agent (dockyard's and Prefect's) logs this line when it starts a run's container.
_CONTAINER_LOG = "Submitted for execution: Container ID: "
_CONTAINER_ID = re.compile(r"Container ID: ([0-9a-f]{12,64})")
LOG_COLUMNS = columns_of("log", ("id", "timestamp", "level", "name", "message", "task_run_id", "created"))


@dataclass(frozen=True)
class RunQuery:
    state: str | None = None
    label: str | None = None
    flow_group_id: str | None = None
    page: int = 1
    per_page: int = 25

    def where(self) -> Filter:
        parts: list[Filter] = []
        if self.state:
            parts.append(eq("state", self.state))
        if self.label:
            parts.append(Compare("labels", Op.CONTAINS, [self.label]))
        if self.flow_group_id:
            parts.append(Related("flow", eq("flow_group_id", self.flow_group_id)))
        return all_of(*parts)


@dataclass(frozen=True)
class FlowChoice:
    group_id: str
    name: str


@dataclass(frozen=True)
class RunPage:
    runs: tuple[RunItem, ...]
    page: int
    has_next: bool
    flows: tuple[FlowChoice, ...]


@dataclass(frozen=True)
class TaskRunItem:
    id: str
    name: str
    map_index: int
    state: str
    state_message: str | None
    retries: int
    max_retries: int
    start_time: datetime | None
    end_time: datetime | None
    duration: timedelta | None


@dataclass(frozen=True)
class RunDetail:
    run: RunItem
    flow_version: int | None
    parameters: Any
    run_config: Any
    context: Any
    timeline: tuple[StateSpan, ...]
    container_id: str | None
    task_runs: tuple[TaskRunItem, ...]


@dataclass(frozen=True)
class LogLine:
    id: str
    timestamp: datetime | None
    level: str
    name: str | None
    message: str
    task_run_id: str | None


@dataclass(frozen=True)
class LogCursor:
    """Where a reader of a run's logs stands: at ``created``, having seen ``seen`` of the
    lines stored at that instant. Lines are read in (created, insertion) order, so lines
    stored later always come after the cursor. A cursor belongs to the level filter it was
    read with."""

    created: str | None = None
    seen: int = 0


@dataclass(frozen=True)
class LogPage:
    lines: tuple[LogLine, ...]
    cursor: LogCursor
    run_state: str | None
    truncated: bool = False  # the first page: older lines were left out

    @property
    def finished(self) -> bool:
        return self.run_state in FINISHED_STATES


def levels_from(minimum: str | None) -> list[str]:
    """The levels at or above ``minimum`` (every level when it is unknown or empty)."""
    name = (minimum or "").upper()
    return list(LOG_LEVELS[LOG_LEVELS.index(name) :]) if name in LOG_LEVELS else list(LOG_LEVELS)


def container_id_in(message: str | None) -> str | None:
    found = _CONTAINER_ID.search(message or "")
    return found.group(1) if found else None


class RunViews:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def runs(self, query: RunQuery) -> RunPage:
        """Runs matching ``query``, newest first, one page of them."""
        page = max(query.page, 1)
        with self._deps.store.unit_of_work(write=False) as session:
            rows = session.select(
                Select(
                    "flow_run",
                    where=query.where(),
                    order_by=(Order("created", descending=True),),
                    limit=query.per_page + 1,
                    offset=(page - 1) * query.per_page,
                    columns=RUN_COLUMNS,
                )
            )
            namer = RunNamer(session, rows, self._deps.clock.now())
            flows = session.select(
                Select(
                    "flow",
                    where=eq("archived", False),
                    order_by=(Order("name"), Order("version")),
                    columns=("flow_group_id", "name"),
                )
            )
            choices = {
                str(f["flow_group_id"]): FlowChoice(str(f["flow_group_id"]), str(f["name"])) for f in flows
            }
            return RunPage(
                tuple(namer.item(r) for r in rows[: query.per_page]),
                page,
                len(rows) > query.per_page,
                tuple(sorted(choices.values(), key=lambda c: (c.name, c.group_id))),
            )

    def run(self, run_id: str) -> RunDetail | None:
        now = self._deps.clock.now()
        with self._deps.store.unit_of_work(write=False) as session:
            row = by_id(session, "flow_run", run_id)
            if row is None:
                return None
            flow = by_id(session, "flow", str(row["flow_id"])) or {}
            history = session.select(
                Select(
                    "flow_run_state",
                    where=eq("flow_run_id", run_id),
                    columns=("state", "message", "timestamp", "version"),
                )
            )
            return RunDetail(
                run=RunNamer(session, [row], now).item(row),
                flow_version=flow.get("version"),
                parameters=row.get("parameters"),
                run_config=row.get("run_config"),
                context=row.get("context"),
                timeline=tuple(timeline(history, now)),
                container_id=self._container_id(session, run_id),
                task_runs=tuple(self._task_runs(session, run_id, now)),
            )

    def _container_id(self, session: StoreSession, run_id: str) -> str | None:
        found = session.select(
            Select(
                "log",
                where=all_of(eq("flow_run_id", run_id), Compare("message", Op.LIKE, _CONTAINER_LOG + "%")),
                order_by=(Order("created", descending=True),),
                limit=1,
                columns=("message",),
            )
        )
        return container_id_in(found[0].get("message")) if found else None

    def _task_runs(self, session: StoreSession, run_id: str, now: datetime) -> list[TaskRunItem]:
        task_runs = session.select(
            Select(
                "task_run", where=eq("flow_run_id", run_id), order_by=(Order("created"), Order("map_index"))
            )
        )
        tasks = rows_by_id(session, "task", (t.get("task_id") for t in task_runs))
        retries: dict[str, int] = {}
        histories = rows_where_in(
            session, "task_run_state", "task_run_id", (t["id"] for t in task_runs), ("task_run_id", "state")
        )
        for state in histories:
            if state.get("state") == "Retrying":
                retries[str(state["task_run_id"])] = retries.get(str(state["task_run_id"]), 0) + 1
        items = []
        for task_run in task_runs:
            task = tasks.get(str(task_run.get("task_id")), {})
            items.append(
                TaskRunItem(
                    id=str(task_run["id"]),
                    name=str(task_run.get("name") or task.get("name") or task.get("slug") or "?"),
                    map_index=_int(task_run.get("map_index"), -1),
                    state=str(task_run.get("state") or "Pending"),
                    state_message=task_run.get("state_message"),
                    retries=retries.get(str(task_run["id"]), 0),
                    max_retries=int(task.get("max_retries") or 0),
                    start_time=when(task_run.get("start_time")),
                    end_time=when(task_run.get("end_time")),
                    duration=run_duration(task_run.get("start_time"), task_run.get("end_time"), now),
                )
            )
        return items

    def task_run_owner(self, task_run_id: str) -> str | None:
        """The flow run a task run belongs to (for links to a task run)."""
        with self._deps.store.unit_of_work(write=False) as session:
            task_run = by_id(session, "task_run", task_run_id)
            return None if task_run is None else str(task_run["flow_run_id"])

    def logs(
        self, run_id: str, *, after: LogCursor | None = None, min_level: str | None = None, limit: int = 500
    ) -> LogPage:
        """Lines after ``after`` (oldest first, at most ``limit``); without a cursor, the
        last ``limit`` lines. Only lines at ``min_level`` or above."""
        where = all_of(eq("flow_run_id", run_id), Compare("level", Op.IN, levels_from(min_level)))
        with self._deps.store.unit_of_work(write=False) as session:
            found = session.select(Select("flow_run", where=eq("id", run_id), columns=("state",)))
            state = found[0]["state"] if found else None
            if after is None:
                return self._tail(session, where, state, limit)
            since = all_of(where, Compare("created", Op.GTE, after.created)) if after.created else where
            rows = session.select(
                Select(
                    "log",
                    where=since,
                    order_by=(Order("created"),),
                    limit=limit,
                    offset=after.seen,
                    columns=LOG_COLUMNS,
                )
            )
            return LogPage(_lines(rows), _advance(after, rows), state)

    def _tail(self, session: StoreSession, where: Filter, state: str | None, limit: int) -> LogPage:
        # Lines stored in one instant come back in insertion order even when sorting by
        # time descending: find the oldest instant among the newest lines, then read forward.
        newest = session.select(
            Select(
                "log",
                where=where,
                order_by=(Order("created", descending=True),),
                limit=limit + 1,
                columns=("created",),
            )
        )
        if not newest:
            return LogPage((), LogCursor(), state)
        boundary = min(str(row["created"]) for row in newest)
        rows = session.select(
            Select(
                "log",
                where=all_of(where, Compare("created", Op.GTE, boundary)),
                order_by=(Order("created"),),
                columns=LOG_COLUMNS,
            )
        )
        kept = rows[-limit:]
        return LogPage(
            _lines(kept), _advance(LogCursor(), rows), state, len(rows) > limit or len(newest) > limit
        )


def _int(value: Any, default: int) -> int:
    return default if value is None else int(value)


def _lines(rows: list[Row]) -> tuple[LogLine, ...]:
    return tuple(
        LogLine(
            id=str(row["id"]),
            timestamp=when(row.get("timestamp")),
            level=str(row.get("level") or "INFO"),
            name=row.get("name"),
            message=str(row.get("message") or ""),
            task_run_id=row.get("task_run_id"),
        )
        for row in rows
    )


def _advance(cursor: LogCursor, rows: list[Row]) -> LogCursor:
    if not rows:
        return cursor
    last = str(rows[-1]["created"])
    at_last = sum(1 for row in rows if str(row["created"]) == last)
    if last == cursor.created:
        return LogCursor(last, cursor.seen + at_last)
    return LogCursor(last, at_last)
