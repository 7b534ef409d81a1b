"""Polling the backend for work, and handing runs to deployment workers.

The poll loop backs off while polls find nothing and comes back at once when woken: by
``poke`` (``/api/poke``), by a finished run freeing room, or by ``listen_for_work`` the
moment the backend's queue changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta

from dockyard.domain.agent.health import AgentHealth
from dockyard.domain.agent.model import FlowRun
from dockyard.domain.agent.selection import in_start_order, serves
from dockyard.domain.agent.tracker import Tracker
from dockyard.domain.errors import DockyardError
from dockyard.ports.backend import Backend
from dockyard.ports.clock import Clock

log = logging.getLogger("dockyard.agent")

# Waits between polls: doubling from 0.25 s to 10 s while polls find nothing, back to
# 0.25 s as soon as one does (Prefect 1's agent schedule; its users know it).
BACKOFF = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0)
# Ask for runs due this far ahead; their workers wait for the exact start time.
PREFETCH = timedelta(seconds=10)
# A Running run's task runs must be this old to be retried here, so a run retrying in its
# own container is not deployed a second time.
RETRY_BUFFER = timedelta(seconds=3)


# After a first failed poll the next one comes this soon: one failure may be a blip, a
# second in a row makes the agent unhealthy, and an idle agent must not wait out two full
# backoffs to say the backend is gone.
RECHECK_AFTER_FAILURE = 1.0
SATURATED_POLL_SECONDS = 10.0  # while every worker is busy, poll at least this often
LISTEN_SECONDS = 20.0  # one long poll for queue changes
LISTEN_COALESCE_SECONDS = 0.2


def next_backoff_index(index: int, found_work: bool) -> int:
    return 0 if found_work else min(index + 1, len(BACKOFF) - 1)


def wait_after_poll(index: int, failed_polls: int) -> float:
    """Seconds until the next poll, given the backoff index and the polls failed in a row."""
    if failed_polls == 1:
        return min(BACKOFF[index], RECHECK_AFTER_FAILURE)
    return BACKOFF[index]


class Poller:
    def __init__(
        self,
        *,
        backend: Backend,
        clock: Clock,
        tracker: Tracker,
        health: AgentHealth,
        labels: Sequence[str],
        limit: int | None,
        submit: Callable[[list[FlowRun]], None],
        can_deploy: Callable[[], bool] = lambda: True,
        saturated: Callable[[], bool] = lambda: False,  # every deployment worker has a run
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._tracker = tracker
        self._health = health
        self._labels = list(labels)
        self._limit = limit
        self._submit = submit
        self._can_deploy = can_deploy
        self._saturated = saturated

    def capacity(self) -> int | None:
        """How many more runs may be taken now (None: no limit)."""
        return None if self._limit is None else max(0, self._limit - len(self._tracker))

    def run(self, *, stopping: threading.Event, wake: threading.Event, max_polls: int | None) -> None:
        """Poll until ``stopping`` is set or ``max_polls`` polls are done; ``wake`` cuts a
        wait short."""
        index, polls = 0, 0
        last_poll = float("-inf")
        log.info("Waiting for flow runs...")
        while not stopping.is_set() and (max_polls is None or polls < max_polls):
            wake.clear()
            # A first failed poll is checked again soon even then: the health report waits on it.
            every = RECHECK_AFTER_FAILURE if self._health.failed_polls == 1 else SATURATED_POLL_SECONDS
            if self._saturated() and self._clock.monotonic() - last_poll < every:
                # Every worker has a run queued already: more claims would only wait in line,
                # while each poll costs the agent and the backend a request or two.
                self._clock.wait(wake, BACKOFF[0])
                continue
            found = self.poll_once()
            last_poll = self._clock.monotonic()
            polls += 1
            index = next_backoff_index(index, found > 0)
            if max_polls is not None and polls >= max_polls:
                break
            self._clock.wait(wake, wait_after_poll(index, self._health.failed_polls))

    def poll_once(self) -> int:
        """One poll: returns how many runs were handed to workers. Never raises for
        backend trouble: it is logged and reflected in health."""
        now = self._clock.now()
        try:
            ids = self._backend.runs_in_queue(labels=self._labels, before=now + PREFETCH)
        except DockyardError as exc:
            log.error("Failed to query for ready flow runs: %s", exc)
            self._health.poll_failed(str(exc))
            return 0
        self._health.poll_succeeded(self._clock.monotonic())
        capacity = self.capacity()
        if not self._can_deploy() or capacity == 0:
            if ids:
                log.debug("%d run(s) ready, but this agent cannot take more now", len(ids))
            return 0
        in_flight = self._tracker.ids()
        fresh = [run_id for run_id in ids if run_id not in in_flight]
        if not fresh:
            return 0
        try:
            runs = self._backend.flow_runs(fresh, retry_buffer=now - RETRY_BUFFER)
        except DockyardError as exc:
            log.error("Failed to query for flow run metadata: %s", exc)
            return 0
        taken: list[FlowRun] = []
        for run in in_start_order(runs, now):
            if capacity is not None and len(taken) >= capacity:
                break
            if run.labels and not serves(self._labels, run.labels):
                log.warning(
                    "Skipping flow run %s: its labels %s are not all this agent's", run.id, run.labels
                )
                continue
            if self._tracker.claim(run.id, run.name):
                taken.append(run)
        if taken:
            log.info("Found %d flow run(s) to deploy", len(taken))
            self._submit(taken)
        return len(taken)


def listen_for_work(backend: Backend, clock: Clock, stopping: threading.Event, wake: threading.Event) -> None:
    """Set ``wake`` the moment the backend's queue changes, so an idle agent starts new runs
    at once instead of when its backoff runs out. Ends quietly where the backend cannot
    notify, and when ``stopping`` is set."""
    version: int | None = None
    delay = 1.0
    while not stopping.is_set():
        try:
            current = backend.wait_for_queue_change(version, LISTEN_SECONDS)
        except DockyardError as exc:
            log.debug("Queue notifications unavailable for now: %s", exc)
            clock.wait(stopping, delay)
            delay = min(delay * 2, 30.0)
            continue
        if current is None:
            log.debug("The backend does not notify queue changes; polling on schedule")
            return
        delay = 1.0
        if version is not None and current != version:
            wake.set()
            # Runs often come in bursts: one wake-up for the lot, not one per run.
            clock.wait(stopping, LISTEN_COALESCE_SECONDS)
        version = current
