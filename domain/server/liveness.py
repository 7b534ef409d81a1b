"""Runs whose process went away: the zombie killer and Lazarus, as in Prefect Server.

A flow run's process proves it is alive with heartbeats: ``update_flow_run_heartbeat``
(Prefect 1.4.1's flow runner sends one every ``PREFECT__CLOUD__HEARTBEAT_INTERVAL``, 30 s by
default; dockyard's agent sends them for runs with no flow runner inside), and every
Running or Submitted state write. Prefect 1.4.1 sends no task-run heartbeats, so a task
run is judged by its flow run's heartbeat (and its own, if a client sends one).

* **Zombie killer.** A Running task run with no heartbeat for ``threshold`` is put in
  ``Retrying`` if its task has retries left and its flow run is still Running (an agent then
  runs the flow run again), else ``Failed`` with a message saying no heartbeat came. A flow
  run stuck in ``Cancelling`` without a heartbeat for ``threshold`` is ``Failed``. Prefect
  Server's zombie killer does not touch Running flow runs: that is Lazarus's job.
* **Lazarus.** A Submitted or Running flow run without a heartbeat for ``threshold`` and
  with no task run scheduled or running (its process died between or after tasks, or the
  zombie killer failed the one it was in) is put back to ``Scheduled`` so an agent picks it
  up again, at most ``attempts`` times; after that it is ``Failed``.

Both skip flows whose flow group turns heartbeats (or Lazarus) off in its settings. Every
change is an ordinary state write (version, history, run log), so agents and clients see it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dockyard.domain.server.agents import NewLog, log_row
from dockyard.domain.server.context import ANONYMOUS, Dependencies
from dockyard.domain.server.filters import AnyOf, Compare, Negate, Op, Order, Related, Row, Select, all_of, eq
from dockyard.domain.server.lookup import by_id
from dockyard.domain.server.runs import FlowRuns
from dockyard.domain.server.task_runs import TaskRuns
from dockyard.domain.server.timestamps import canonical
from dockyard.domain.states import state_document

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

log = logging.getLogger("dockyard.server.liveness")

DEFAULT_THRESHOLD = 600.0  # Prefect Server's: ten minutes without a heartbeat
DEFAULT_RESURRECTIONS = 3
BATCH = 5000  # runs handled per pass at most, as in Prefect Server
# Task-run states that mean the flow run still has work under way (Prefect's Scheduled and
# Running families): Lazarus leaves such a flow run alone.
BUSY_TASK_STATES = ("Scheduled", "Retrying", "Paused", "Resume", "Running", "Cancelling")


@dataclass(frozen=True)
class ZombiePass:
    task_runs_failed: int = 0
    task_runs_retried: int = 0
    flow_runs_failed: int = 0

    def actions(self) -> dict[str, int]:
        """What the pass did, by kind (the services' metrics)."""
        return {
            "task_runs_failed": self.task_runs_failed,
            "task_runs_retried": self.task_runs_retried,
            "flow_runs_failed": self.flow_runs_failed,
        }


@dataclass(frozen=True)
class LazarusPass:
    rescheduled: int = 0
    failed: int = 0

    def actions(self) -> dict[str, int]:
        """What the pass did, by kind (the services' metrics)."""
        return {"rescheduled": self.rescheduled, "failed": self.failed}


class _Settings:
    """Flow-group settings by flow id, read once per pass."""

    def __init__(self, session: StoreSession) -> None:
        self._session = session
        self._by_flow: dict[str, dict[str, Any]] = {}

    def of(self, flow_id: str) -> dict[str, Any]:
        if flow_id not in self._by_flow:
            flow = by_id(self._session, "flow", flow_id) or {}
            group = by_id(self._session, "flow_group", str(flow.get("flow_group_id"))) or {}
            settings = group.get("settings")
            self._by_flow[flow_id] = dict(settings) if isinstance(settings, dict) else {}
        return self._by_flow[flow_id]

    def heartbeats(self, flow_id: str) -> bool:
        return self.of(flow_id).get("heartbeat_enabled") is not False

    def lazarus(self, flow_id: str) -> bool:
        return self.heartbeats(flow_id) and self.of(flow_id).get("lazarus_enabled") is not False


def _log(
    session: StoreSession,
    deps: Dependencies,
    run: Row,
    message: str,
    *,
    level: str,
    name: str,
    task_run_id: str | None = None,
) -> None:
    entry = NewLog(str(run["id"]), message, task_run_id=task_run_id, name=name, level=level)
    session.insert("log", log_row(entry, run, deps.new_id(), deps.now()))


def _retry_delay(value: Any) -> timedelta:
    try:
        return timedelta(seconds=float(value or 0))
    except (TypeError, ValueError):
        return timedelta(0)


class ZombieKiller:
    name = "zombie killer"

    def __init__(
        self,
        deps: Dependencies,
        flow_runs: FlowRuns,
        task_runs: TaskRuns,
        *,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self._deps = deps
        self._flow_runs = flow_runs
        self._task_runs = task_runs
        self.threshold = threshold

    def run_once(self) -> ZombiePass:
        now = self._deps.clock.now()
        cutoff = canonical(now - timedelta(seconds=self.threshold))
        stale = Compare("heartbeat", Op.LTE, cutoff)
        zombies = Select(
            "task_run",
            where=all_of(
                eq("state", "Running"),
                Related("flow_run", stale),
                AnyOf((Compare("heartbeat", Op.IS_NULL, True), stale)),
            ),
            order_by=(Order("updated", descending=True),),
            limit=BATCH,
        )
        cancelling = Select("flow_run", where=all_of(eq("state", "Cancelling"), stale), limit=BATCH)
        failed = retried = flows_failed = 0
        with self._deps.store.unit_of_work(write=True) as session:
            settings = _Settings(session)
            for task_run in session.select(zombies):
                flow_run = by_id(session, "flow_run", str(task_run["flow_run_id"])) or {}
                if not flow_run or not settings.heartbeats(str(flow_run["flow_id"])):
                    continue
                if self._reap_task_run(session, task_run, flow_run, now):
                    retried += 1
                else:
                    failed += 1
            for flow_run in session.select(cancelling):
                if not settings.heartbeats(str(flow_run["flow_id"])):
                    continue
                message = "No heartbeat detected from the flow run; marking the run as failed."
                self._flow_runs.write_state(
                    session, flow_run, state_document("Failed", message), ANONYMOUS, self._deps.now()
                )
                _log(
                    session,
                    self._deps,
                    flow_run,
                    message,
                    level="ERROR",
                    name="dockyard.zombie_killer.FlowRun",
                )
                flows_failed += 1
        if retried:
            self._deps.queue_signal.bump()  # the flow runs need an agent again
        if failed or retried or flows_failed:
            log.info(
                "Zombie killer: %d task run(s) failed, %d retried, %d cancelling flow run(s) failed",
                failed,
                retried,
                flows_failed,
            )
        return ZombiePass(failed, retried, flows_failed)

    def _reap_task_run(self, session: StoreSession, task_run: Row, flow_run: Row, now: datetime) -> bool:
        """Retry or fail one zombie task run; True if it was put in Retrying."""
        task = by_id(session, "task", str(task_run["task_id"])) or {}
        max_retries = int(task.get("max_retries") or 0)
        history = Select(
            "task_run_state",
            where=all_of(eq("task_run_id", task_run["id"]), eq("state", "Retrying")),
            columns=("id",),
        )
        retries = len(session.select(history))
        if flow_run.get("state") == "Running" and retries < max_retries:
            message = (
                "No heartbeat detected from the remote task; retrying the run. "
                f"This will be retry {retries + 1} of {max_retries}."
            )
            doc = state_document("Retrying", message, start_time=now + _retry_delay(task.get("retry_delay")))
            doc["run_count"] = retries + 1
        else:
            name = task_run.get("name") or task.get("slug") or task.get("name")
            message = (
                "No heartbeat detected from the remote task; marking the task run "
                f"{task_run['id']} ({name}) as failed."
            )
            doc = state_document("Failed", message)
        self._task_runs.write_state(session, task_run, flow_run.get("state"), doc, self._deps.now())
        _log(
            session,
            self._deps,
            flow_run,
            message,
            level="ERROR",
            name="dockyard.zombie_killer.TaskRun",
            task_run_id=str(task_run["id"]),
        )
        return bool(doc["type"] == "Retrying")


class Lazarus:
    name = "lazarus"

    def __init__(
        self,
        deps: Dependencies,
        flow_runs: FlowRuns,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        attempts: int = DEFAULT_RESURRECTIONS,
    ) -> None:
        self._deps = deps
        self._flow_runs = flow_runs
        self.threshold = threshold
        self.attempts = attempts

    def run_once(self) -> LazarusPass:
        now = self._deps.clock.now()
        cutoff = canonical(now - timedelta(seconds=self.threshold))
        lost = Select(
            "flow_run",
            where=all_of(
                Compare("state", Op.IN, ["Running", "Submitted"]),
                Compare("heartbeat", Op.LTE, cutoff),
                Negate(Related("task_runs", Compare("state", Op.IN, list(BUSY_TASK_STATES)))),
            ),
            order_by=(Order("updated"),),
            limit=BATCH,
        )
        rescheduled = failed = 0
        with self._deps.store.unit_of_work(write=True) as session:
            settings = _Settings(session)
            for run in session.select(lost):
                if not settings.lazarus(str(run["flow_id"])):
                    continue
                attempt = int(run.get("times_resurrected") or 0) + 1
                if attempt <= self.attempts:
                    doc = state_document("Scheduled", "Rescheduled by a Lazarus process.", start_time=now)
                    self._flow_runs.write_state(session, run, doc, ANONYMOUS, self._deps.now())
                    session.update("flow_run", eq("id", run["id"]), {"times_resurrected": attempt})
                    message, level = f"Rescheduled by a Lazarus process. This is attempt {attempt}.", "INFO"
                    rescheduled += 1
                else:
                    message = (
                        f"A Lazarus process attempted to reschedule this run {self.attempts} times "
                        "without success. Marking as failed."
                    )
                    level = "ERROR"
                    self._flow_runs.write_state(
                        session, run, state_document("Failed", message), ANONYMOUS, self._deps.now()
                    )
                    failed += 1
                _log(session, self._deps, run, message, level=level, name="dockyard.lazarus.FlowRun")
        if rescheduled:
            self._deps.queue_signal.bump()
        if rescheduled or failed:
            log.info("Lazarus: %d flow run(s) rescheduled, %d failed", rescheduled, failed)
        return LazarusPass(rescheduled, failed)
