"""The agent use case: connect, recover, then poll, deploy and supervise until told to stop.

``Agent.start()`` blocks. ``stop()`` (from a signal handler or another thread) makes it wind
down within seconds: it stops claiming runs, lets in-flight deployments finish, and leaves
running containers for the next start to adopt.

Each start is a new agent instance: it takes the host's lease on its name and daemon first
(refused while another live process holds it) and stamps its own instance id on what it
claims and creates, so no two processes ever take the same run for their own
(``ownership``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from dockyard.domain.agent.claims import claim_together
from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.deploy import ContainerLauncher, Deployer, Launcher
from dockyard.domain.agent.health import AgentHealth, HealthReport
from dockyard.domain.agent.model import FlowRun
from dockyard.domain.agent.outbox import Outbox
from dockyard.domain.agent.ownership import AgentIdentity, Owner, Standing, claim_standing
from dockyard.domain.agent.polling import Poller, listen_for_work
from dockyard.domain.agent.runtime_state import DaemonInfo
from dockyard.domain.agent.service_deploy import ServiceLauncher
from dockyard.domain.agent.streaming import OutputStreamer
from dockyard.domain.agent.supervision import SupervisionSettings, Supervisor
from dockyard.domain.agent.tracker import Tracker
from dockyard.domain.agent.validation import for_daemon, unused_swarm_settings
from dockyard.domain.errors import BackendUnavailable, ConfigurationError, DockyardError, RuntimeUnavailable
from dockyard.domain.log_fields import about_run
from dockyard.ports.agent_lease import AgentLeases, Lease
from dockyard.ports.backend import Backend
from dockyard.ports.clock import Clock
from dockyard.ports.container_runtime import ContainerRuntime
from dockyard.ports.metrics import NO_AGENT_METRICS, AgentMetrics
from dockyard.ports.output import FlowOutput
from dockyard.ports.service_runtime import ServiceRuntime

log = logging.getLogger("dockyard.agent")

AGENT_TYPE = "DockerAgent"
SHUTDOWN_SECONDS = 8.0  # in-flight deployments get this long once asked to stop
# Another process's container that waits this long for an action any live agent takes within
# seconds is taken over (its owner is taken for dead); beyond the cancel grace, during which
# a live owner's container still runs while its run is being cancelled.
TAKEOVER_SECONDS = 120.0


class Agent:
    def __init__(
        self,
        *,
        config: AgentConfig,
        backend: Backend,
        runtime: ContainerRuntime | ServiceRuntime,
        clock: Clock,
        leases: AgentLeases,
        real_path: Callable[[str], str] | None = None,
        output: FlowOutput | None = None,
        tick_interval: float = 1.0,
        workers: int = 8,
        instance_id: str | None = None,
        metrics: AgentMetrics = NO_AGENT_METRICS,
    ) -> None:
        if config.swarm != isinstance(runtime, ServiceRuntime):
            raise ConfigurationError(
                "swarm mode needs a Swarm service runtime, and only swarm mode takes one"
                f" (swarm={config.swarm}, runtime {type(runtime).__name__})"
            )
        self.config = config
        self.instance_id = instance_id or str(uuid.uuid4())
        self._backend = backend
        self._runtime = runtime
        self._clock = clock
        self._leases = leases
        self._lease: Lease | None = None
        self._real_path = real_path  # see Deployer
        self._tick_interval = tick_interval
        self._workers = workers
        self._metrics = metrics
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self.health = AgentHealth(backend=f"the backend at {config.api}")
        self.tracker = Tracker()
        self.identity: AgentIdentity | None = None
        # What the agent owes the backend (its run logs, states it could not write yet), and
        # the containers' output: written by the deployer and the supervisor alike.
        self.outbox = Outbox(backend)
        self.streamer = OutputStreamer(
            backend=backend, runtime=runtime, output=output, show_flow_logs=config.show_flow_logs
        )
        self.supervisor = Supervisor(
            backend=backend,
            runtime=runtime,
            clock=clock,
            tracker=self.tracker,
            health=self.health,
            settings=SupervisionSettings(
                agent_name=config.name,
                keep_containers=config.keep_containers,
                cancel_grace=config.cancel_grace,
                takeover_grace=TAKEOVER_SECONDS + config.cancel_grace,
                placement_timeout=config.placement_timeout if config.swarm else None,
            ),
            streamer=self.streamer,
            outbox=self.outbox,
            on_capacity_freed=self._capacity_freed,
            metrics=metrics,
        )

    # -- control from outside ------------------------------------------------------------

    def stop(self) -> None:
        """Ask the agent to wind down (safe from signal handlers and other threads)."""
        self._stopping.set()
        self._wake.set()

    def poke(self) -> None:
        """Poll now instead of waiting out the backoff."""
        self._wake.set()

    def _capacity_freed(self) -> None:
        # Only a full agent left runs in the queue for want of room: poll again at once.
        # Without a limit, a finished run changes nothing for the poller.
        if self.config.limit is not None and len(self.tracker) == self.config.limit - 1:
            self.poke()

    def health_report(self) -> HealthReport:
        return self.health.report(self._clock.monotonic())

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- the run ---------------------------------------------------------------------------

    def start(self) -> None:
        try:
            identity = self._connect()
            if identity is not None:
                self._serve(identity)
        finally:
            if self._lease is not None:
                self._leases.release(self._lease)

    def _serve(self, identity: AgentIdentity) -> None:
        self.identity = identity
        self.supervisor.act_for(identity.owner)
        # The settings were checked against this machine's OS; volume specs must suit the
        # daemon's, which may differ (a remote Windows daemon). Raises ConfigurationError.
        config = for_daemon(self.config, identity.daemon.os_type)
        unused = unused_swarm_settings(config)
        if unused:
            log.warning("%s place Swarm services: without --swarm they change nothing", ", ".join(unused))
        deployer = Deployer(
            config=config,
            identity=identity,
            backend=self._backend,
            clock=self._clock,
            tracker=self.tracker,
            stopping=self._stopping,
            outbox=self.outbox,
            on_started=self.streamer.follow,
            metrics=self._metrics,
            launcher=self._launcher(config, identity),
        )
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="deploy")
        futures: dict[Future[None], tuple[FlowRun, bool]] = {}

        def submit(run: FlowRun, claimed: bool = False) -> None:
            future = pool.submit(deployer.deploy, run, claimed=claimed)
            futures[future] = (run, claimed)
            future.add_done_callback(lambda done: futures.pop(done, None))

        def submit_found(runs: list[FlowRun]) -> None:
            context = {"dockyard": identity.owner.claim_context()}
            for run, claimed in claim_together(self._backend, runs, self._clock.now(), context):
                if claimed:
                    self._metrics.run_claimed()
                submit(run, claimed)

        poller = Poller(
            backend=self._backend,
            clock=self._clock,
            tracker=self.tracker,
            health=self.health,
            labels=self.config.labels,
            limit=self.config.limit,
            submit=submit_found,
            can_deploy=lambda: self.health.daemon_is_up,
            saturated=lambda: len(futures) >= self._workers,
            metrics=self._metrics,
        )
        supervisor_thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        listener = threading.Thread(
            target=listen_for_work,
            args=(self._backend, self._clock, self._stopping, self._wake),
            name="queue-listener",
            daemon=True,
        )
        try:
            self._recover(identity, submit)
            supervisor_thread.start()
            listener.start()
            poller.run(stopping=self._stopping, wake=self._wake, max_polls=self.config.max_polls)
        finally:
            self._wind_down(pool, futures, supervisor_thread, deployer)

    def _launcher(self, config: AgentConfig, identity: AgentIdentity) -> Launcher:
        """Each run a Swarm service, or a container of the daemon's."""
        runtime = self._runtime
        if isinstance(runtime, ServiceRuntime):
            return ServiceLauncher(config=config, identity=identity, runtime=runtime)
        return ContainerLauncher(
            config=config,
            identity=identity,
            runtime=runtime,
            clock=self._clock,
            outbox=self.outbox,
            real_path=self._real_path,
            metrics=self._metrics,
        )

    def _connect(self) -> AgentIdentity | None:
        """Reach the daemon, take the lease on this agent's name and daemon, and register
        with the backend, retrying while the daemon or the backend is away (the agent stays
        up and reports itself unhealthy meanwhile). Raises ``AgentNameInUse`` when another
        live agent process holds the lease."""
        delay = 0.5
        daemon: DaemonInfo | None = None
        agent_id: str | None = None
        while not self._stopping.is_set():
            try:
                if daemon is None:
                    daemon = self._runtime.ping()
                    self.health.daemon_ok()
                if self._lease is None:
                    self._lease = self._take_lease(daemon)
                if agent_id is None:
                    log.info(
                        "Registering agent %r with labels %s at %s",
                        self.config.name,
                        list(self.config.labels),
                        self.config.api,
                    )
                    agent_id = self._backend.register_agent(
                        name=self.config.name,
                        labels=self.config.labels,
                        agent_type=AGENT_TYPE,
                        agent_config_id=self.config.agent_config_id,
                    )
                    self._backend.hello()
                    log.info("Registration successful; agent id %s", agent_id)
                owner = Owner(self.config.name, daemon.id, self.instance_id, self._lease.id)
                return AgentIdentity(agent_id=agent_id, daemon=daemon, owner=owner)
            except RuntimeUnavailable as exc:
                self.health.daemon_failed(f"the Docker daemon is unreachable: {exc}")
                log.warning("Waiting for the Docker daemon: %s", exc)
            except BackendUnavailable as exc:
                self.health.poll_failed(str(exc))
                log.warning("Waiting for the backend: %s", exc)
            self._clock.wait(self._stopping, delay)
            delay = min(delay * 2, 10.0)
        return None

    def _take_lease(self, daemon: DaemonInfo) -> Lease:
        lease = self._leases.acquire(self.config.name, daemon.id, self.instance_id)
        log.info("Agent %r runs as instance %s on daemon %s", self.config.name, self.instance_id, daemon.id)
        if lease.previous_holder:
            log.info(
                "The previous agent %r on this host (instance %s) has ended; taking over its "
                "containers and claims",
                self.config.name,
                lease.previous_holder,
            )
        return lease

    def _recover(self, identity: AgentIdentity, submit: Callable[[FlowRun, bool], None]) -> None:
        """After a restart: adopt or settle the containers of this host's earlier agent
        process, and deploy the runs it had submitted but never created a container for."""
        self._supervise_once()
        try:
            submitted = self._backend.runs_of_agent(identity.agent_id, ["Submitted"])
        except DockyardError as exc:
            log.warning("Could not look for runs this agent had submitted: %s", exc)
            return
        for run in submitted:
            claim = (run.serialized_state.get("context") or {}).get("dockyard")
            standing = claim_standing(claim, identity.owner) if isinstance(claim, Mapping) else None
            if standing is Standing.FOREIGN:
                log.info(
                    "Flow run %s was submitted by another process of agent %r; leaving it to that one",
                    run.id,
                    self.config.name,
                    extra=about_run(run.id, run.name),
                )
            if standing not in (Standing.MINE, Standing.INHERITED) or self.tracker.get(run.id) is not None:
                continue
            if self.tracker.claim(run.id, run.name, at=self._clock.monotonic()):
                log.info(
                    "Flow run %s was submitted before a restart; deploying it now",
                    run.id,
                    extra=about_run(run.id, run.name),
                )
                submit(run, True)

    def _supervise(self) -> None:
        while not self._clock.wait(self._stopping, self._tick_interval):
            try:
                self._supervise_once()
            except Exception:  # a supervision bug must not end supervision
                log.exception("Supervision pass failed")

    def _supervise_once(self) -> None:
        """One reconcile pass, then what waits to be sent: run logs and owed states, and
        the output a quiet container's stream still holds."""
        self.supervisor.tick()
        self.outbox.flush()
        self.streamer.flush()

    def _wind_down(
        self,
        pool: ThreadPoolExecutor,
        futures: dict[Future[None], tuple[FlowRun, bool]],
        supervisor: threading.Thread,
        deployer: Deployer,
    ) -> None:
        signalled = self._stopping.is_set()
        waiting = dict(futures)
        # Deployments not yet begun are called off (the process must end in seconds); the
        # runs among them already claimed go back to the queue for any agent to take.
        pool.shutdown(wait=False, cancel_futures=signalled)
        for future, (run, claimed) in waiting.items():
            if future.cancelled():
                self.tracker.release(run.id)
                if claimed:
                    deployer.requeue(run, "it stopped before deploying this run")
        deadline = self._clock.monotonic() + SHUTDOWN_SECONDS
        for future in [f for f in waiting if not f.cancelled()]:
            remaining = deadline - self._clock.monotonic() if signalled else None
            if remaining is not None and remaining <= 0:
                break
            try:
                future.result(timeout=remaining)
            except Exception:
                log.debug("deployment ended with an error during shutdown", exc_info=True)
        self._stopping.set()
        if supervisor.is_alive():
            supervisor.join(timeout=2.0)
        self.streamer.close()
        self.outbox.flush()  # the last "Submitted for execution" logs
        log.info("Agent stopped; running containers are left for the next start to adopt")
