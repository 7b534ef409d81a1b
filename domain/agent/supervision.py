"""Supervision: follow every container this agent starts to its true final state.

One reconcile pass (``tick``) compares what Docker shows (containers carrying this agent's
label, in any status) with what the backend says about their runs and what the agent
remembers, decides per container (``outcomes.decide``) and acts: adopt, stop, settle and
remove. The same pass serves normal operation, recovery after a restart and recovery after
the daemon comes back, so there is one code path to trust.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from dockyard.domain.agent.health import AgentHealth
from dockyard.domain.agent.heartbeats import Heartbeats
from dockyard.domain.agent.labels import AGENT, FLOW_RUN_ID, FLOW_RUN_NAME, SHIP_LOGS, TIMEOUT
from dockyard.domain.agent.model import FlowRun, RunLog, RunStatus, StateUpdate
from dockyard.domain.agent.outbox import RunLogOutbox
from dockyard.domain.agent.outcomes import (
    Decision,
    Observation,
    Outcome,
    Verb,
    decide,
    final_state_name,
    outcome_message,
)
from dockyard.domain.agent.output import CONTAINER_LOG_NAME, LineSplitter, RunLogShipper, split_timestamp
from dockyard.domain.agent.tracker import Phase, StopReason, TrackedRun, Tracker
from dockyard.domain.errors import DockyardError, RuntimeUnavailable
from dockyard.domain.states import FINISHED_STATES, SCHEDULED_STATES, state_document
from dockyard.ports.backend import Backend
from dockyard.ports.clock import Clock
from dockyard.ports.container_runtime import ContainerRuntime, ContainerState
from dockyard.ports.output import FlowOutput

log = logging.getLogger("dockyard.agent")

TAIL_LINES = 20


@dataclass(frozen=True)
class SupervisionSettings:
    agent_name: str
    keep_containers: bool = False
    cancel_grace: float = 30.0
    show_flow_logs: bool = False
    max_log_bytes: int = 1_000_000
    # How often the backend is asked about runs whose containers are simply running (to
    # notice cancels); ended, created and unknown containers are looked up every pass.
    status_interval: float = 3.0


@dataclass(frozen=True)
class _Settlement:
    container_id: str
    run_id: str
    update: StateUpdate | None = None  # None: the run's final state is recorded already
    log: RunLog | None = None


class Supervisor:
    def __init__(
        self,
        *,
        backend: Backend,
        runtime: ContainerRuntime,
        clock: Clock,
        tracker: Tracker,
        health: AgentHealth,
        settings: SupervisionSettings,
        output: FlowOutput | None = None,
        on_capacity_freed: Callable[[], None] = lambda: None,
        outbox: RunLogOutbox | None = None,
    ) -> None:
        self._backend = backend
        self._runtime = runtime
        self._clock = clock
        self._tracker = tracker
        self._health = health
        self._settings = settings
        self._output = output
        self._on_capacity_freed = on_capacity_freed
        self._streams: dict[str, tuple[threading.Thread, RunLogShipper | None]] = {}
        self._kept: set[str] = set()  # settled containers kept for debugging (--keep-containers)
        self._unwritten_failures: dict[str, tuple[FlowRun, str]] = {}
        self._outcome_logged: set[str] = set()  # containers whose outcome log is queued
        self._last_full_check: float | None = None
        self.outbox = outbox or RunLogOutbox(backend.write_run_logs)
        self._heartbeats = Heartbeats(backend, clock)
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop following output: the agent is going away, and the next one to start
        resumes where the backend's logs end."""
        self._closed.set()

    # -- the reconcile pass -------------------------------------------------------------

    def tick(self) -> None:
        # Snapshot the tracker before listing: a run tracked as running here had its
        # container created before the list, so "not listed" really means "gone".
        tracked = {run.run_id: run for run in self._tracker.snapshot()}
        try:
            containers = self._runtime.list_containers({AGENT: self._settings.agent_name})
        except RuntimeUnavailable as exc:
            self._health.daemon_failed(f"the Docker daemon is unreachable: {exc}")
            return
        except DockyardError as exc:
            self._health.daemon_failed(f"the Docker daemon answered with an error: {exc}")
            return
        self._health.daemon_ok()

        now = self._clock.monotonic()
        by_run = {c.labels.get(FLOW_RUN_ID, ""): c for c in containers if c.id not in self._kept}
        watched = {run_id for run_id, run in tracked.items() if run.phase is not Phase.DEPLOYING}
        full_check = (
            self._last_full_check is None or now - self._last_full_check >= self._settings.status_interval
        )
        # Every pass asks about containers that need a decision now; running ones, whose
        # only news can be a cancel, only every status_interval.
        needed = {
            run_id
            for run_id, c in by_run.items()
            if c.ended or c.status == "created" or run_id not in tracked
        }
        statuses, answered = self._statuses(needed | watched if full_check else needed)
        if answered and full_check:
            self._last_full_check = now
        asked = (needed | watched if full_check else needed) if answered else set()

        settlements: list[_Settlement] = []
        for run_id, container in by_run.items():
            observation = Observation(container, tracked.get(run_id), statuses.get(run_id), run_id in asked)
            decision = decide(observation, now=now)
            if decision.verb is Verb.SETTLE and decision.outcome is not None:
                settlements.append(self._settlement(container, run_id, decision.outcome, statuses[run_id]))
            else:
                self._act(decision, container, run_id)
        self._record(settlements)
        self._heartbeats.beat(tracked.values(), by_run)
        if answered and full_check:
            for run_id in watched - set(by_run):
                self._container_vanished(tracked[run_id], statuses.get(run_id))
        self.outbox.flush()
        self._flush_shippers()
        self._retry_unwritten_failures()

    def _statuses(self, ids: set[str]) -> tuple[dict[str, RunStatus], bool]:
        ids.discard("")
        if not ids:
            return {}, True
        try:
            return self._backend.run_statuses(sorted(ids)), True
        except DockyardError as exc:
            log.warning("Could not read run states from the backend: %s", exc)
            return {}, False

    def _act(self, decision: Decision, container: ContainerState, run_id: str) -> None:
        verb = decision.verb
        if verb is Verb.LEAVE:
            return
        log.debug("Container %s (run %s): %s — %s", container.id[:12], run_id, verb.value, decision.why)
        try:
            if verb is Verb.ADOPT:
                self._adopt(container, run_id)
            elif verb is Verb.START:
                self._runtime.start_container(container.id)
                self._adopt(container, run_id)
            elif verb is Verb.DISCARD:
                log.info("Removing container %s: %s", container.id[:12], decision.why)
                self._runtime.remove_container(container.id)
            elif verb is Verb.STOP and decision.reason is not None:
                self._stop(container, run_id, decision.reason)
        except DockyardError as exc:
            log.warning("Could not %s container %s (run %s): %s", verb.value, container.id[:12], run_id, exc)

    # -- actions ------------------------------------------------------------------------

    def _adopt(self, container: ContainerState, run_id: str) -> None:
        if container.started_at is None:  # listed containers carry no times: ask once
            container = self._runtime.inspect_container(container.id) or container
        started_at = self._clock.monotonic()
        if container.started_at is not None:
            started_at -= max(0.0, (self._clock.now() - container.started_at).total_seconds())
        tracked = TrackedRun(
            run_id=run_id,
            run_name=container.labels.get(FLOW_RUN_NAME, run_id),
            phase=Phase.RUNNING,
            container_id=container.id,
            started_at=started_at,
            timeout=_float_or_none(container.labels.get(TIMEOUT)),
            ship_logs=container.labels.get(SHIP_LOGS) == "true",
        )
        self._tracker.track(tracked)
        log.info("Adopted running container %s of flow run %s", container.id[:12], run_id)
        self.follow_output(tracked, resume=True)

    def _stop(self, container: ContainerState, run_id: str, reason: StopReason) -> None:
        self._tracker.update(run_id, phase=Phase.STOPPING, stop_reason=reason)
        log.info("Stopping container %s of flow run %s: %s", container.id[:12], run_id, reason.value)
        grace = self._settings.cancel_grace

        def stop() -> None:
            try:
                self._runtime.stop_container(container.id, grace)
            except DockyardError as exc:
                log.warning("Could not stop container %s: %s", container.id[:12], exc)
                self._tracker.update(run_id, phase=Phase.RUNNING)  # decide again next pass

        # Stopping waits out the grace period: never block the reconcile pass on it.
        threading.Thread(target=stop, name=f"stop-{container.id[:12]}", daemon=True).start()

    def _settlement(
        self, container: ContainerState, run_id: str, outcome: Outcome, status: RunStatus
    ) -> _Settlement:
        """What recording this container's outcome takes: its output first (so shipped
        logs come before the final state), then the state and the log to write."""
        self._finish_output(run_id)
        if outcome is Outcome.REQUEUED:
            log.info("Flow run %s was rescheduled; its container %s ends here", run_id, container.id[:12])
        if outcome in (Outcome.ALREADY_FINAL, Outcome.REQUEUED):
            return _Settlement(container.id, run_id)
        tracked = self._tracker.get(run_id)
        failed = outcome in (Outcome.FAILED, Outcome.TIMED_OUT)
        tail = self._tail(container.id) if failed else ""  # only failures show their last lines
        timeout = tracked.timeout if tracked else _float_or_none(container.labels.get(TIMEOUT))
        message = outcome_message(outcome, container, tail=tail, timeout=timeout)
        state = final_state_name(outcome) or "Failed"
        entry = RunLog(
            run_id, message, "ERROR" if failed else "INFO", self._settings.agent_name, self._clock.now()
        )
        return _Settlement(
            container.id, run_id, StateUpdate(run_id, status.version, state_document(state, message)), entry
        )

    def _record(self, settlements: list[_Settlement]) -> None:
        """Write the outcomes in one request (one by one if that fails), then remove the
        containers of the runs recorded. A container stays until its outcome is written:
        it is the only record of it."""
        for item in settlements:
            if item.log is not None and item.container_id not in self._outcome_logged:
                self.outbox.put(item.log)
                self._outcome_logged.add(item.container_id)
        self.outbox.flush()
        updates = [item.update for item in settlements if item.update is not None]
        recorded = {item.run_id for item in settlements if item.update is None}
        try:
            self._backend.set_flow_run_states(updates)
            recorded |= {update.run_id for update in updates}
        except DockyardError as exc:
            log.warning("Could not record %d outcome(s) together (%s); trying one by one", len(updates), exc)
            for update in updates:
                try:
                    self._backend.set_flow_run_state(update.run_id, update.version, update.state)
                    recorded.add(update.run_id)
                except DockyardError as one:
                    log.warning(
                        "Could not record the outcome of flow run %s (will retry): %s", update.run_id, one
                    )
        for item in settlements:
            if item.run_id in recorded:
                self._end_task_runs(item)
                self._finish_settlement(item)

    def _end_task_runs(self, item: _Settlement) -> None:
        """A run the agent ended takes its still-running task runs with it (nothing inside
        the container can end them now), with the same state and reason."""
        if item.update is None or item.update.state.get("type") not in ("Failed", "Cancelled"):
            return
        state = state_document(str(item.update.state["type"]), item.update.state.get("message"))
        try:
            for task_run in self._backend.running_task_runs(item.run_id):
                self._backend.set_task_run_state(task_run.id, task_run.version, state)
        except DockyardError as exc:  # the backend's zombie killer ends them in time
            log.warning("Could not end the task runs of flow run %s: %s", item.run_id, exc)

    def _finish_settlement(self, item: _Settlement) -> None:
        if item.update is not None:
            state = item.update.state
            log.info(
                "Flow run %s ended %s: %s", item.run_id, state["type"], str(state["message"]).splitlines()[0]
            )
        try:
            if self._settings.keep_containers:
                self._kept.add(item.container_id)
            else:
                self._runtime.remove_container(item.container_id)
        except DockyardError as exc:
            log.warning("Could not remove container %s (will retry): %s", item.container_id[:12], exc)
            return
        self._outcome_logged.discard(item.container_id)
        self._tracker.release(item.run_id)
        self._on_capacity_freed()

    def _container_vanished(self, tracked: TrackedRun, status: RunStatus | None) -> None:
        if status is not None and status.state not in FINISHED_STATES | SCHEDULED_STATES:
            message = "The flow run's container disappeared before it finished (removed outside dockyard?)."
            log.error("Flow run %s: %s", tracked.run_id, message)
            try:
                self._backend.set_flow_run_state(
                    tracked.run_id, status.version, state_document("Failed", message)
                )
            except DockyardError as exc:
                log.warning("Could not mark flow run %s Failed: %s", tracked.run_id, exc)
                return
        self._finish_output(tracked.run_id)
        self._tracker.release(tracked.run_id)
        self._on_capacity_freed()

    def _tail(self, container_id: str) -> str:
        try:
            raw = self._runtime.container_logs(container_id, tail=TAIL_LINES)
        except DockyardError:
            return ""
        return raw.decode("utf-8", "replace").rstrip()

    # -- failures the deployer could not write -------------------------------------------

    def remember_unwritten_failure(self, run: FlowRun, message: str) -> None:
        with self._lock:
            self._unwritten_failures[run.id] = (run, message)

    def _retry_unwritten_failures(self) -> None:
        with self._lock:
            pending = list(self._unwritten_failures.values())
        for run, message in pending:
            try:
                self._backend.set_flow_run_state(run.id, run.version, state_document("Failed", message))
            except DockyardError:
                return  # backend still away; try again next pass
            with self._lock:
                self._unwritten_failures.pop(run.id, None)

    # -- container output -----------------------------------------------------------------

    def follow_output(self, tracked: TrackedRun, *, resume: bool = False) -> None:
        """Stream a running container's output to stdout and/or the backend, as configured.
        ``resume``: the container was adopted after a restart, so output shipped before it
        is not shipped again."""
        wants_stdout = self._settings.show_flow_logs and self._output is not None
        if not (wants_stdout or tracked.ship_logs) or tracked.container_id is None:
            return
        since = self._shipped_until(tracked.run_id) if resume and tracked.ship_logs else None
        with self._lock:
            if tracked.run_id in self._streams and self._streams[tracked.run_id][0].is_alive():
                return
            shipper = (
                RunLogShipper(
                    tracked.run_id, self._write_logs_or_raise, max_bytes=self._settings.max_log_bytes
                )
                if tracked.ship_logs
                else None
            )
            thread = threading.Thread(
                target=self._stream,
                args=(tracked, shipper, wants_stdout, since),
                name=f"output-{tracked.run_id[:8]}",
                daemon=True,
            )
            self._streams[tracked.run_id] = (thread, shipper)
        thread.start()

    def _shipped_until(self, run_id: str) -> datetime | None:
        try:
            return self._backend.last_log_time(run_id, CONTAINER_LOG_NAME)
        except DockyardError as exc:
            log.warning("Could not tell how much output of run %s was shipped; resending it: %s", run_id, exc)
            return None

    def _stream(
        self, tracked: TrackedRun, shipper: RunLogShipper | None, to_stdout: bool, since: datetime | None
    ) -> None:
        assert tracked.container_id is not None
        splitter = LineSplitter()

        def emit(lines: list[str]) -> None:
            for stamped in lines:
                moment, line = split_timestamp(stamped)
                if since is not None and moment is not None and moment <= since:
                    continue  # shipped before this agent (re)started
                if to_stdout and self._output is not None:
                    self._output.line(tracked.run_name, line)
                if shipper is not None:
                    shipper.add(line, moment)

        try:
            # Docker's timestamps date each line, so a restarted agent knows where to resume.
            for chunk in self._runtime.follow_logs(tracked.container_id, timestamps=True, since=since):
                if self._closed.is_set():
                    return
                emit(splitter.feed(chunk))
        except DockyardError as exc:
            log.debug("Output stream of flow run %s ended: %s", tracked.run_id, exc)
        finally:
            if not self._closed.is_set():
                emit(splitter.flush())
            if shipper is not None:
                shipper.flush()

    def _finish_output(self, run_id: str) -> None:
        with self._lock:
            stream = self._streams.pop(run_id, None)
        if stream is None:
            return
        thread, shipper = stream
        thread.join(timeout=5.0)  # the container has ended, so its stream ends promptly
        if shipper is not None:
            for _ in range(3):
                if shipper.flush():
                    break

    def _flush_shippers(self) -> None:
        with self._lock:
            shippers = [shipper for _, shipper in self._streams.values() if shipper is not None]
        for shipper in shippers:
            shipper.flush()

    def _write_logs_or_raise(self, logs: Sequence[RunLog]) -> None:
        self._backend.write_run_logs(list(logs))

    @property
    def active_streams(self) -> int:
        with self._lock:
            return sum(1 for thread, _ in self._streams.values() if thread.is_alive())


def _float_or_none(value: object) -> float | None:
    try:
        return float(str(value)) if value not in (None, "") else None
    except ValueError:
        return None
