"""Reading the last day's activity for the chart (the figures: ``domain.server.activity``)."""

from __future__ import annotations

from datetime import datetime

from dockyard.domain.server.activity import Activity, Deploy, activity, deploys, hour_starts
from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.filters import Compare, Op, Row, Select, all_of, eq
from dockyard.domain.server.timestamps import canonical, parse
from dockyard.domain.server.views.items import rows_where_in
from dockyard.domain.states import FINISHED_STATES


class ActivityViews:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def last_day(self, hours: int = 24) -> Activity:
        now = self._deps.clock.now()
        since = canonical(hour_starts(now, hours)[0])
        with self._deps.store.unit_of_work(write=False) as session:
            finished = session.select(
                Select(
                    "flow_run",
                    where=all_of(
                        Compare("state", Op.IN, sorted(FINISHED_STATES)),
                        Compare("state_timestamp", Op.GTE, since),
                    ),
                    columns=("state", "state_timestamp"),
                )
            )
            started = session.select(
                Select(
                    "flow_run_state",
                    where=all_of(eq("state", "Running"), Compare("timestamp", Op.GTE, since)),
                    columns=("flow_run_id",),
                )
            )
            histories: dict[str, list[Row]] = {}
            ran = (s["flow_run_id"] for s in started)
            columns = ("flow_run_id", "state", "timestamp", "version", "start_time")
            for row in rows_where_in(session, "flow_run_state", "flow_run_id", ran, columns):
                histories.setdefault(str(row["flow_run_id"]), []).append(row)
        deployed: list[Deploy] = [d for history in histories.values() for d in deploys(history)]
        ends: list[tuple[str, datetime]] = [(str(r["state"]), parse(r["state_timestamp"])) for r in finished]
        return activity(ends, deployed, now, hours)
