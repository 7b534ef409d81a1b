"""Deploying one flow run: claim it (Submitted), plan its container, create and start it
(in swarm mode its service: ``service_deploy``).

Runs on a worker thread of the agent's pool. Every way it can end is handled here: another
agent got the run first (skip quietly), the run is refused or Docker fails (the run ends
Failed with the reason, and nothing is left half-created), the daemon is away (the run goes
back to the queue), or the container starts (the supervisor takes over).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dockyard.domain.agent.claims import as_submitted, claimed_by, submitted_state
from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.image_policy import credentials_for
from dockyard.domain.agent.labels import MANAGED
from dockyard.domain.agent.model import ContainerPlan, FlowRun, RunLog, StateUpdate
from dockyard.domain.agent.naming import name_candidates
from dockyard.domain.agent.outbox import Outbox
from dockyard.domain.agent.ownership import AgentIdentity
from dockyard.domain.agent.plan import plan_container
from dockyard.domain.agent.pulls import PullReporter
from dockyard.domain.agent.selection import start_time
from dockyard.domain.agent.tracker import Phase, TrackedRun, Tracker
from dockyard.domain.errors import (
    BackendUnavailable,
    ContainerNameConflict,
    DockyardError,
    ImageNotFound,
    RuntimeUnavailable,
    SubmissionConflict,
)
from dockyard.domain.log_fields import about_run
from dockyard.domain.states import is_scheduled, state_document
from dockyard.ports.backend import Backend
from dockyard.ports.clock import Clock
from dockyard.ports.container_runtime import ContainerRuntime
from dockyard.ports.metrics import NO_AGENT_METRICS, AgentMetrics

log = logging.getLogger("dockyard.agent")


@dataclass(frozen=True)
class Launched:
    """A run's workload, created and started: a container, or in swarm mode a service."""

    workload_id: str
    timeout: float | None  # seconds the run may take
    ship_logs: bool  # its output becomes run logs
    kind: str = "Container"  # what the run logs call it: "Submitted for execution: Container ID: ..."


class Launcher(Protocol):
    """Plans a run's workload and creates and starts it; raises ``DockyardError`` (the run
    fails), ``RuntimeUnavailable`` (it goes back to the queue) and leaves nothing behind."""

    def launch(self, run: FlowRun) -> Launched: ...


class Deployer:
    """Deploys runs for one connected agent process (``identity``): claims each, has the
    ``launcher`` start its workload, and hands it to supervision. Without a launcher, each
    run is a container (``ContainerLauncher`` over ``runtime``)."""

    def __init__(
        self,
        *,
        config: AgentConfig,
        identity: AgentIdentity,
        backend: Backend,
        clock: Clock,
        tracker: Tracker,
        stopping: threading.Event,
        outbox: Outbox,
        on_started: Callable[[TrackedRun], None],
        runtime: ContainerRuntime | None = None,
        real_path: Callable[[str], str] | None = None,
        metrics: AgentMetrics = NO_AGENT_METRICS,
        launcher: Launcher | None = None,
    ) -> None:
        self._config = config
        self._identity = identity
        self._backend = backend
        self._clock = clock
        self._tracker = tracker
        self._stopping = stopping
        self._outbox = outbox  # run logs, and a Failed state the backend could not take yet
        self._on_started = on_started
        self._metrics = metrics
        if launcher is None:
            if runtime is None:
                raise TypeError("a Deployer needs a launcher or a container runtime")
            launcher = ContainerLauncher(
                config=config,
                identity=identity,
                runtime=runtime,
                clock=clock,
                outbox=outbox,
                real_path=real_path,
                metrics=metrics,
            )
        self._launcher = launcher
        # Lets a restarted agent know its runs, and tell them from other processes'.
        self._submitted_context: Mapping[str, Any] = {"dockyard": identity.owner.claim_context()}

    def deploy(self, run: FlowRun, *, claimed: bool = False) -> None:
        """Deploy a run the tracker has claimed. ``claimed``: it is already Submitted by us
        (restart recovery), so skip the Submitted step."""
        fields = about_run(run.id, run.name)
        try:
            ready = self._ready_at(run)
            if ready is None:
                return
            if not claimed:
                self._mark_submitted(run)
                self._metrics.run_claimed()
                run = as_submitted(run)
            log.info("Deploying flow run %s (%s)", run.id, run.name, extra=fields)
            self._create_and_start(run, ready)
        except SubmissionConflict as exc:
            log.debug("Flow run %s was taken by another agent: %s", run.id, exc, extra=fields)
            self._tracker.release(run.id)
        except BackendUnavailable as exc:
            log.warning("Could not claim flow run %s: %s; it stays in the queue", run.id, exc, extra=fields)
            self._tracker.release(run.id)
        except RuntimeUnavailable as exc:
            self._tracker.release(run.id)
            self.requeue(run, f"the Docker daemon is unreachable ({exc})")
        except DockyardError as exc:
            self._tracker.release(run.id)
            self._fail(run, str(exc))
        except Exception as exc:  # a bug must not leave the run hanging in Submitted
            log.exception("Unexpected error while deploying flow run %s", run.id, extra=fields)
            self._tracker.release(run.id)
            self._fail(run, f"Internal error in the dockyard agent while deploying: {exc!r}")

    # -- steps ----------------------------------------------------------------------------

    def _ready_at(self, run: FlowRun) -> float | None:
        """Wait for the run's start time; return when it was both claimed here and due
        (monotonic seconds: where its deploy latency counts from), None if the agent
        stopped meanwhile."""
        tracked = self._tracker.get(run.id)
        claimed_at = tracked.claimed_at if tracked is not None else None
        delay = (start_time(run, self._clock.now()) - self._clock.now()).total_seconds()
        if delay > 0:
            log.debug("Waiting %.1fs to deploy flow run %s on time", delay, run.id, extra=about_run(run.id))
            if self._clock.wait(self._stopping, delay):
                self._tracker.release(run.id)
                return None
            return self._clock.monotonic()
        return claimed_at if claimed_at is not None else self._clock.monotonic()

    def _mark_submitted(self, run: FlowRun) -> None:
        if is_scheduled(run.state):
            try:
                self._backend.set_flow_run_state(
                    run.id, run.version, submitted_state(run, self._submitted_context)
                )
            except SubmissionConflict:
                if not self._claimed_already(run):
                    raise
        for task_run in run.task_runs:
            if is_scheduled(task_run.state):
                state = state_document(
                    "Submitted", "Submitted for execution.", inner=task_run.serialized_state
                )
                self._backend.set_task_run_state(task_run.id, task_run.version, state)

    def _claimed_already(self, run: FlowRun) -> bool:
        """Whether the Submitted state in the way is our own (a claim written before, whose
        answer we never saw), rather than another agent's."""
        mine = self._backend.runs_of_agent(self._identity.agent_id, ["Submitted"])
        return any(
            other.id == run.id and claimed_by(other.serialized_state, self._submitted_context)
            for other in mine
        )

    def _create_and_start(self, run: FlowRun, ready: float) -> None:
        launched = self._launcher.launch(run)
        started, now = self._clock.monotonic(), self._clock.now()
        tracked = TrackedRun(
            run_id=run.id,
            run_name=run.name,
            phase=Phase.RUNNING,
            container_id=launched.workload_id,
            started_at=started,
            timeout=launched.timeout,
            ship_logs=launched.ship_logs,
        )
        self._tracker.track(tracked)
        self._metrics.run_deployed(
            since_ready=max(0.0, started - ready),
            since_scheduled=max(0.0, (now - start_time(run, now)).total_seconds()),
        )
        log.info(
            "Flow run %s started in %s %s",
            run.id,
            launched.kind.lower(),
            launched.workload_id[:12],
            extra=about_run(run.id, run.name),
        )
        self._log(run, f"Submitted for execution: {launched.kind} ID: {launched.workload_id}", "INFO")
        if tracked.ship_logs:
            # No flow runner inside to say so: the agent records that the run is running.
            self._mark_running(run, f"{launched.kind} started.")
        self._on_started(tracked)

    def _mark_running(self, run: FlowRun, message: str) -> None:
        try:
            self._backend.set_flow_run_state(run.id, run.version, state_document("Running", message))
        except DockyardError as exc:
            log.warning("Could not mark flow run %s Running: %s", run.id, exc)

    # -- endings ----------------------------------------------------------------------------

    def _fail(self, run: FlowRun, message: str) -> None:
        log.error("Deployment of flow run %s failed: %s", run.id, message, extra=about_run(run.id, run.name))
        self._metrics.deploy_failed()
        self._log(run, message, "ERROR")
        failed = StateUpdate(run.id, run.version, state_document("Failed", message))
        try:
            self._backend.set_flow_run_state(failed.run_id, failed.version, failed.state)
        except DockyardError as exc:
            log.warning("Could not mark flow run %s Failed (%s); will retry", run.id, exc)
            self._outbox.put_state(failed)

    def requeue(self, run: FlowRun, why: str) -> None:
        """Put a run this agent claimed back in the queue for any agent to take."""
        message = f"Rescheduled by the dockyard agent: {why}."
        log.warning("Flow run %s goes back to the queue: %s", run.id, why, extra=about_run(run.id, run.name))
        self._metrics.run_requeued()
        try:
            self._backend.set_flow_run_state(
                run.id, run.version, state_document("Scheduled", message, start_time=self._clock.now())
            )
        except DockyardError as exc:
            log.warning("Could not put flow run %s back in the queue: %s", run.id, exc)

    def _log(self, run: FlowRun, message: str, level: str) -> None:
        # A run log is a courtesy: it goes out with the next batch, and failing to write it
        # never changes the run's fate.
        self._outbox.put_log(RunLog(run.id, message, level, self._config.name, self._clock.now()))


class ContainerLauncher:
    """Each run a container: planned by the pure planner (``plan_container``) from
    ``config``, which also decides its pulls; created, attached and started."""

    def __init__(
        self,
        *,
        config: AgentConfig,
        identity: AgentIdentity,
        runtime: ContainerRuntime,
        clock: Clock,
        outbox: Outbox,
        real_path: Callable[[str], str] | None = None,
        metrics: AgentMetrics = NO_AGENT_METRICS,
    ) -> None:
        self._config = config
        self._identity = identity
        self._runtime = runtime
        self._clock = clock
        self._outbox = outbox  # where the pull's line for the run's logs goes
        self._metrics = metrics
        # Follows symbolic links on the daemon's host, where the agent shares its file
        # system: bind sources are checked where the daemon really mounts from.
        self._real_path = real_path

    def launch(self, run: FlowRun) -> Launched:
        plan = self._plan(run)
        if plan.pull_first:
            self._pull(run, plan.image, "Pulling image %s for flow run %s")
        for volume in plan.create_volumes:
            self._runtime.ensure_volume(volume, {MANAGED: "true"})
        try:
            # Create straight away: asking first whether the image is there would cost a
            # request for every run, to save one only when it is missing.
            container_id = self._create(plan)
        except ImageNotFound:
            if not plan.pull:
                raise ImageNotFound(
                    f"Image {plan.image} is not on the Docker daemon, and this agent does not pull "
                    "images (--pull-policy never / --no-pull): load or pull it on the daemon first"
                ) from None
            self._pull(run, plan.image, "Image %s is not on the daemon; pulling it for flow run %s")
            container_id = self._create(plan)
        try:
            for network in plan.connect_networks:
                self._runtime.connect_network(container_id, network)
            self._runtime.start_container(container_id)
        except BaseException:
            # Never leave a created-but-not-started container behind (it would hold the name).
            _quietly(lambda: self._runtime.remove_container(container_id))
            raise
        return Launched(container_id, timeout=plan.timeout, ship_logs=plan.ship_logs)

    def _plan(self, run: FlowRun) -> ContainerPlan:
        identity = self._identity
        return plan_container(
            run,
            self._config,
            agent_id=identity.agent_id,
            daemon_id=identity.daemon.id,
            host_os=identity.daemon.os_type,
            real_path=self._real_path,
            instance=identity.owner.instance,
            lease=identity.owner.lease,
        )

    def _pull(self, run: FlowRun, image: str, why: str) -> None:
        """Pull ``image`` for ``run``, its progress and its end in the agent's log, and one
        line with its duration in the run's logs."""
        log.info(why, image, run.id, extra=about_run(run.id, run.name))
        reporter = PullReporter(image, run.id, run.name, self._clock)
        credentials = credentials_for(image, self._config.registry_credentials)
        try:
            self._runtime.pull_image(image, credentials, progress=reporter.update)
        except DockyardError:
            self._metrics.pull(
                seconds=reporter.seconds, ok=False, downloaded_bytes=reporter.progress.downloaded_bytes
            )
            raise
        self._metrics.pull(
            seconds=reporter.seconds, ok=True, downloaded_bytes=reporter.progress.downloaded_bytes
        )
        finished = RunLog(run.id, reporter.finished(), "INFO", self._config.name, self._clock.now())
        self._outbox.put_log(finished)

    def _create(self, plan: ContainerPlan) -> str:
        last: ContainerNameConflict | None = None
        for name in name_candidates(plan.name):
            try:
                return self._runtime.create_container(name, plan.body)
            except ContainerNameConflict as exc:
                last = exc
        raise ContainerNameConflict(f"no free container name for {plan.name!r}: {last}")


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:
        log.debug("cleanup step failed", exc_info=True)
