"""Scheduler pass time of `dockyard server` with 1,000 scheduled flows.

Registers ``--flows`` flows (two tasks each) with active schedules on a temporary SQLite
database (durable, as the server runs it), then times the scheduler's passes, as the
server's loop runs them:

* the first pass, which creates every flow's next 10 runs (10,000 runs with their task runs
  and states);
* a steady pass right after, with nothing to create;
* a pass one minute later, when every run due in that minute has to be replaced.

Schedules are a mix (``--mix``): intervals of 1, 5 and 60 minutes, cron clocks (some in
America/New_York, some weekday-only) and a few with filters; or intervals or crons only.

    .venv/bin/python bench/bench_scheduler.py [--flows 1000] [--mix mixed|interval|cron]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.scheduler import SchedulerPass
from dockyard.domain.server.service import ServerService

TARGET_S = 1.0
MINUTE = 60_000_000  # the wire's intervals are microseconds
NEW_YORK = {"dt": "2026-01-01T00:00:00", "tz": "America/New_York"}


def interval(minutes: int) -> dict[str, Any]:
    return {"clocks": [{"type": "IntervalClock", "interval": minutes * MINUTE}]}


def cron(expression: str, **extra: Any) -> dict[str, Any]:
    return {"clocks": [{"type": "CronClock", "cron": expression, **extra}]}


SCHEDULES: dict[str, list[dict[str, Any]]] = {
    "interval": [interval(1), interval(5), interval(60)],
    "cron": [
        cron("* * * * *"),
        cron("*/5 * * * *", start_date=NEW_YORK),
        cron("0 9 * * 1-5", start_date=NEW_YORK),
    ],
}
SCHEDULES["mixed"] = [
    *SCHEDULES["interval"],
    *SCHEDULES["cron"],
    {
        **interval(15),
        "filters": [{"fn": "prefect.schedules.filters.is_weekday", "kwargs": {}}],
        "adjustments": [
            {"fn": "prefect.schedules.adjustments.add", "kwargs": {"interval": "//timedelta:30.0"}}
        ],
    },
]


class Clock:
    """Wall time that moves only when told. A Monday morning, half a minute past: the
    minute after it, only the every-minute schedules have runs to replace."""

    def __init__(self) -> None:
        self.moment = datetime(2030, 6, 3, 10, 2, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return time.monotonic()


def seed(store: SqliteRunStore, clock: Clock, flows: int, mix: str) -> ServerService:
    # Registering with the scheduler off stores the flags only: the first pass does it all.
    registrar = ServerService(Dependencies(store=store, clock=clock), scheduling=False)
    tenant = registrar.tenancy.ensure_default_tenant()
    project = registrar.tenancy.create_project(tenant, "bench", None)
    schedules = SCHEDULES[mix]
    for i in range(flows):
        registrar.flows.create_flow(
            project,
            {
                "name": f"flow-{i}",
                "__version__": "1.4.1",
                "schedule": schedules[i % len(schedules)],
                "tasks": [{"slug": "extract-1"}, {"slug": "load-1"}],
                "run_config": {"type": "DockerRun", "labels": ["docker"]},
            },
            set_schedule_active=True,
        )
    return ServerService(Dependencies(store=store, clock=clock))


def timed(service: ServerService) -> tuple[float, SchedulerPass]:
    started = time.perf_counter()
    done = service.scheduler.run_once()
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--mix", choices=sorted(SCHEDULES), default="mixed")
    parser.add_argument("--steady", type=int, default=5, help="steady passes to take the median of")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as directory:
        store = SqliteRunStore(Path(directory) / "bench.db")
        clock = Clock()
        try:
            service = seed(store, clock, options.flows, options.mix)
            first_s, first = timed(service)
            steady = [timed(service) for _ in range(options.steady)]
            clock.moment += timedelta(minutes=1)
            later_s, later = timed(service)
        finally:
            store.close()
    steady_s = statistics.median(t for t, _ in steady)
    print(
        f"scheduler passes: {options.flows} flows with active schedules ({options.mix} mix), SQLite, durable"
    )
    print(f"  {'pass':44}{'runs made':>10}{'dockyard':>10}{'target':>9}")
    rows = [
        ("first (every flow's next 10 runs)", first.created, first_s),
        (f"steady (nothing to do; median of {len(steady)})", steady[0][1].created, steady_s),
        ("one minute later (replace the runs now due)", later.created, later_s),
    ]
    for name, made, seconds in rows:
        verdict = "" if seconds < TARGET_S else "  MISSES"
        print(f"  {name:44}{made:>10}{seconds:>9.3f}s{TARGET_S:>8.1f}s{verdict}")
    print(f"  a steady pass {'meets' if steady_s < TARGET_S else 'MISSES'} the {TARGET_S:.0f} s target;")
    print(f"  the pass a minute later {'meets' if later_s < TARGET_S else 'MISSES'} it too")


if __name__ == "__main__":
    main()
