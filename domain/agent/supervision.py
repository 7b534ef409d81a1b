"""Supervision: follow every container this agent starts to its true final state.

One reconcile pass (``tick``) compares what Docker shows (containers carrying this agent's
label, in any status) with what the backend says about their runs and what the agent
remembers, decides per container (``outcomes.decide``) and acts: adopt, stop, settle and
remove. The same pass serves normal operation, recovery after a restart and recovery after
the daemon comes back, so there is one code path to trust.

Only this process's containers, and those of its dead predecessors on this host, are acted
on; a same-named agent process elsewhere keeps its own unless it neglects them
(``ownership``). Their output is the streamer's (``streaming``): the supervisor has it ship
the last of a run's output before recording the run's outcome.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dockyard.domain.agent.health import AgentHealth
from dockyard.domain.agent.heartbeats import Heartbeats
from dockyard.domain.agent.labels import AGENT, FLOW_RUN_ID, FLOW_RUN_NAME, INSTANCE, timeout_of
from dockyard.domain.agent.model import RunLog, RunStatus, StateUpdate
from dockyard.domain.agent.outbox import Outbox
from dockyard.domain.agent.outcomes import (
    Decision,
    Observation,
    Outcome,
    Verb,
    decide,
    final_state_name,
    outcome_message,
)
from dockyard.domain.agent.ownership import Owner, Standing, Takeover, awaits_its_owner, container_standing
from dockyard.domain.agent.runtime_state import ContainerState
from dockyard.domain.agent.streaming import OutputStreamer
from dockyard.domain.agent.tracker import Phase, StopReason, TrackedRun, Tracker, running_container
from dockyard.domain.errors import DockyardError, RuntimeUnavailable
from dockyard.domain.log_fields import about_run
from dockyard.domain.states import FINISHED_STATES, SCHEDULED_STATES, state_document
from dockyard.ports.backend import Backend
from dockyard.ports.clock import Clock
from dockyard.ports.container_runtime import WorkloadRuntime
from dockyard.ports.metrics import NO_AGENT_METRICS, AgentMetrics

log = logging.getLogger("dockyard.agent")

TAIL_LINES = 20


@dataclass(frozen=True)
class SupervisionSettings:
    agent_name: str
    keep_containers: bool = False
    cancel_grace: float = 30.0
    # How often the backend is asked about runs whose containers are simply running (to
    # notice cancels); ended, created and unknown containers are looked up every pass.
    status_interval: float = 3.0
    # How long another process's container may wait for an action of its owner before this
    # process takes it for dead and the container over (``ownership``).
    takeover_grace: float = 150.0
    # How long a Swarm service's task may wait for a node (swarm mode); None: no limit.
    placement_timeout: float | None = None


@dataclass(frozen=True)
class _Settlement:
    container_id: str
    run_id: str
    run_name: str = ""
    update: StateUpdate | None = None  # None: the run's final state is recorded already
    log: RunLog | None = None
    final_state: str | None = None  # the run's final state; None: rescheduled, not ended


class Supervisor:
    def __init__(
        self,
        *,
        backend: Backend,
        runtime: WorkloadRuntime,
        clock: Clock,
        tracker: Tracker,
        health: AgentHealth,
        settings: SupervisionSettings,
        streamer: OutputStreamer,
        outbox: Outbox,
        on_capacity_freed: Callable[[], None] = lambda: None,
        metrics: AgentMetrics = NO_AGENT_METRICS,
    ) -> None:
        self._backend = backend
        self._runtime = runtime
        self._clock = clock
        self._tracker = tracker
        self._health = health
        self._settings = settings
        self._streamer = streamer  # output is shipped before outcomes are recorded
        self._outbox = outbox  # outcome logs go out before the outcomes
        self._on_capacity_freed = on_capacity_freed
        self._metrics = metrics
        self._owner: Owner | None = None
        self._takeover = Takeover(settings.takeover_grace)
        self._kept: set[str] = set()  # settled containers kept for debugging (--keep-containers)
        self._outcome_logged: set[str] = set()  # containers whose outcome log is queued
        self._last_full_check: float | None = None
        self._heartbeats = Heartbeats(backend, clock)

    def act_for(self, owner: Owner) -> None:
        """Whose containers this supervisor looks after: set once the agent has its lease."""
        self._owner = owner

    # -- the reconcile pass -------------------------------------------------------------

    def tick(self) -> None:
        if self._owner is None:
            return  # not connected yet: which containers are whose is not known
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
        listed = {c.labels.get(FLOW_RUN_ID, ""): c for c in containers if c.id not in self._kept}
        by_run, foreign = self._by_owner(listed, now)
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
        # Other processes' live containers are asked about with the running ones: a cancel
        # their owner leaves undone is one of the signs that it has died.
        foreign_live = {run_id for run_id, c in foreign.items() if not c.ended}
        ask = needed | watched | foreign_live if full_check else needed
        statuses, answered = self._statuses(set(ask))
        if answered and full_check:
            self._last_full_check = now
        asked = ask if answered else set()

        settlements: list[_Settlement] = []
        for run_id, container in by_run.items():
            observation = Observation(container, tracked.get(run_id), statuses.get(run_id), run_id in asked)
            decision = decide(observation, now=now, placement_timeout=self._settings.placement_timeout)
            if decision.verb is Verb.SETTLE and decision.outcome is not None:
                settlements.append(self._settlement(container, run_id, decision.outcome, statuses[run_id]))
            else:
                self._act(decision, container, run_id)
        self._record(settlements)
        for run_id, container in foreign.items():
            waiting = awaits_its_owner(container, statuses.get(run_id), run_id in asked)
            self._takeover.observe(container.id, waiting, now)
        self._heartbeats.beat(tracked.values(), by_run)
        if answered and full_check:
            for run_id in watched - set(by_run):
                self._container_vanished(tracked[run_id], statuses.get(run_id))
        self._count(self._tracker.snapshot(), by_run.values())

    def _count(self, tracked: Iterable[TrackedRun], containers: Iterable[ContainerState]) -> None:
        deploying = running = 0
        for run in tracked:
            if run.phase is Phase.DEPLOYING:
                deploying += 1
            else:
                running += 1
        self._metrics.runs_in_flight(deploying=deploying, running=running)
        self._metrics.containers_running(sum(c.status == "running" for c in containers))

    def _by_owner(
        self, listed: dict[str, ContainerState], now: float
    ) -> tuple[dict[str, ContainerState], dict[str, ContainerState]]:
        """The listed containers this process looks after (its own, its dead predecessors'
        on this host, and those it took over), and other processes' (left to them)."""
        assert self._owner is not None
        self._takeover.forget_all_but({c.id for c in listed.values()})
        ours, theirs = {}, {}
        for run_id, container in listed.items():
            mine = container_standing(container.labels, self._owner) is not Standing.FOREIGN
            if mine or self._takeover.taken(container.id) or self._take_over(container, run_id, now):
                ours[run_id] = container
            else:
                theirs[run_id] = container
        return ours, theirs

    def _take_over(self, container: ContainerState, run_id: str, now: float) -> bool:
        waited = self._takeover.waited(container.id, now)
        if not self._takeover.take_if_due(container.id, now):
            return False
        log.warning(
            "Taking over container %s (%s) of flow run %s: it has waited %.0fs for its agent process "
            "(instance %s), which no live agent does",
            container.id[:12],
            container.status,
            run_id,
            waited,
            container.labels.get(INSTANCE, "unknown"),
            extra=_about(container, run_id),
        )
        return True

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
        tracked = running_container(container, started_at=started_at)
        self._tracker.track(tracked)
        log.info(
            "Adopted running container %s of flow run %s",
            container.id[:12],
            run_id,
            extra=_about(container, run_id),
        )
        self._streamer.follow(tracked, resume=True)

    def _stop(self, container: ContainerState, run_id: str, reason: StopReason) -> None:
        self._tracker.update(run_id, phase=Phase.STOPPING, stop_reason=reason)
        log.info(
            "Stopping container %s of flow run %s: %s",
            container.id[:12],
            run_id,
            reason.value,
            extra=_about(container, run_id),
        )
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
        # Only an ended container's output is complete (a Swarm task that no node took has none).
        self._streamer.finish(run_id, container if container.ended else None, wait=container.ended)
        name = container.labels.get(FLOW_RUN_NAME, "")
        if outcome is Outcome.REQUEUED:
            log.info(
                "Flow run %s was rescheduled; its container %s ends here",
                run_id,
                container.id[:12],
                extra=_about(container, run_id),
            )
            return _Settlement(container.id, run_id, name)
        if outcome is Outcome.ALREADY_FINAL:
            return _Settlement(container.id, run_id, name, final_state=status.state)
        tracked = self._tracker.get(run_id)
        state = final_state_name(outcome) or "Failed"
        failed = state == "Failed"
        ran = outcome in (Outcome.FAILED, Outcome.TIMED_OUT)
        tail = self._tail(container.id) if ran else ""  # only failures show their last lines
        timeout = tracked.timeout if tracked else timeout_of(container.labels)
        message = outcome_message(
            outcome, container, tail=tail, timeout=timeout, placement_timeout=self._settings.placement_timeout
        )
        entry = RunLog(
            run_id, message, "ERROR" if failed else "INFO", self._settings.agent_name, self._clock.now()
        )
        update = StateUpdate(run_id, status.version, state_document(state, message))
        return _Settlement(container.id, run_id, name, update, entry, final_state=state)

    def _record(self, settlements: list[_Settlement]) -> None:
        """Write the outcomes in one request (one by one if that fails), then remove the
        containers of the runs recorded. A container stays until its outcome is written:
        it is the only record of it."""
        for item in settlements:
            if item.log is not None and item.container_id not in self._outcome_logged:
                self._outbox.put_log(item.log)
                self._outcome_logged.add(item.container_id)
        self._outbox.flush()
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
        fields = about_run(item.run_id, item.run_name)
        if item.update is not None:
            state = item.update.state
            log.info(
                "Flow run %s ended %s: %s",
                item.run_id,
                state["type"],
                str(state["message"]).splitlines()[0],
                extra=fields,
            )
        elif item.final_state is not None:
            log.info(
                "Flow run %s ended %s (recorded by its flow runner)",
                item.run_id,
                item.final_state,
                extra=fields,
            )
        try:
            if self._settings.keep_containers:
                self._kept.add(item.container_id)
            else:
                self._runtime.remove_container(item.container_id)
        except DockyardError as exc:
            log.warning("Could not remove container %s (will retry): %s", item.container_id[:12], exc)
            return
        # Counted once the container is gone (or kept aside): a container whose removal
        # failed is settled again at the next pass.
        if item.final_state is not None:
            self._metrics.run_settled(item.final_state)
        self._outcome_logged.discard(item.container_id)
        self._tracker.release(item.run_id)
        self._on_capacity_freed()

    def _container_vanished(self, tracked: TrackedRun, status: RunStatus | None) -> None:
        if status is not None and status.state not in FINISHED_STATES | SCHEDULED_STATES:
            message = "The flow run's container disappeared before it finished (removed outside dockyard?)."
            log.error(
                "Flow run %s: %s", tracked.run_id, message, extra=about_run(tracked.run_id, tracked.run_name)
            )
            try:
                self._backend.set_flow_run_state(
                    tracked.run_id, status.version, state_document("Failed", message)
                )
            except DockyardError as exc:
                log.warning("Could not mark flow run %s Failed: %s", tracked.run_id, exc)
                return
            self._metrics.run_settled("Failed")
        self._streamer.finish(tracked.run_id)
        self._tracker.release(tracked.run_id)
        self._on_capacity_freed()

    def _tail(self, container_id: str) -> str:
        try:
            raw = self._runtime.container_logs(container_id, tail=TAIL_LINES)
        except DockyardError:
            return ""
        return raw.decode("utf-8", "replace").rstrip()


def _about(container: ContainerState, run_id: str) -> dict[str, str]:
    return about_run(run_id, container.labels.get(FLOW_RUN_NAME))
