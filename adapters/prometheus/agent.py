"""The agent's metrics (``AgentMetrics``) as Prometheus counters, gauges and histograms,
served at ``--agent-address``'s ``/metrics``. The README's table lists them."""

from __future__ import annotations

from importlib.metadata import version

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

# Seconds, from a warm start (a fraction of a second) to a slow pull or a busy daemon.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
PULL_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
POLL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)
# States that get a series from the start; others appear when first seen.
COMMON_STATES = ("Success", "Failed", "Cancelled")
OUTCOMES = ("ok", "failed")
ERROR_KINDS = ("unavailable", "error")


class PrometheusAgentMetrics:
    def __init__(self, *, agent_name: str = "", registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._claimed = Counter(
            "dockyard_agent_runs_claimed", "Flow runs this agent took from the queue (Submitted).", registry=r
        )
        self._deployed = Counter(
            "dockyard_agent_runs_deployed", "Flow-run containers this agent started.", registry=r
        )
        self._deploy_failed = Counter(
            "dockyard_agent_deploy_failures",
            "Flow runs whose deployment failed (refused, or Docker said no); they end Failed.",
            registry=r,
        )
        self._requeued = Counter(
            "dockyard_agent_runs_requeued",
            "Claimed flow runs put back in the queue (daemon unreachable, agent stopping).",
            registry=r,
        )
        self._settled = Counter(
            "dockyard_agent_runs_settled",
            "Flow runs whose container ended, by the run's final state.",
            ["state"],
            registry=r,
        )
        self._deploy_seconds = Histogram(
            "dockyard_agent_deploy_seconds",
            "Seconds from a flow run being claimed and due to its container running.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._start_delay = Histogram(
            "dockyard_agent_start_delay_seconds",
            "Seconds from a flow run's scheduled start (its creation, for a run due at once) "
            "to its container running.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._in_flight = Gauge(
            "dockyard_agent_runs_in_flight",
            "Flow runs this agent holds (what --limit counts), by phase.",
            ["phase"],
            registry=r,
        )
        self._containers = Gauge(
            "dockyard_agent_containers_running",
            "This agent's flow-run containers that Docker shows running.",
            registry=r,
        )
        self._pulls = Counter("dockyard_agent_pulls", "Image pulls, by outcome.", ["outcome"], registry=r)
        self._pull_seconds = Histogram(
            "dockyard_agent_pull_seconds", "Seconds an image pull took.", buckets=PULL_BUCKETS, registry=r
        )
        self._pull_bytes = Counter(
            "dockyard_agent_pull_bytes", "Bytes downloaded by image pulls.", registry=r
        )
        self._polls = Histogram(
            "dockyard_agent_poll_seconds",
            "Seconds a poll of the backend's queue took, by outcome.",
            ["outcome"],
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self._backend_errors = Counter(
            "dockyard_agent_backend_errors",
            "Requests to the backend that failed, after retries: unavailable (no answer) or error.",
            ["kind"],
            registry=r,
        )
        self._daemon_errors = Counter(
            "dockyard_agent_daemon_errors",
            "Requests to the Docker daemon that failed: unavailable (no answer) or error.",
            ["kind"],
            registry=r,
        )
        Info("dockyard_agent", "The agent's version and name.", registry=r).info(
            {"version": version("dockyard"), "name": agent_name}
        )
        for state in COMMON_STATES:
            self._settled.labels(state)
        for outcome in OUTCOMES:
            self._pulls.labels(outcome)
            self._polls.labels(outcome)
        for kind in ERROR_KINDS:
            self._backend_errors.labels(kind)
            self._daemon_errors.labels(kind)
        self.runs_in_flight(deploying=0, running=0)

    def run_claimed(self) -> None:
        self._claimed.inc()

    def run_deployed(self, *, since_ready: float, since_scheduled: float) -> None:
        self._deployed.inc()
        self._deploy_seconds.observe(since_ready)
        self._start_delay.observe(since_scheduled)

    def deploy_failed(self) -> None:
        self._deploy_failed.inc()

    def run_requeued(self) -> None:
        self._requeued.inc()

    def run_settled(self, state: str) -> None:
        self._settled.labels(state).inc()

    def runs_in_flight(self, *, deploying: int, running: int) -> None:
        self._in_flight.labels("deploying").set(deploying)
        self._in_flight.labels("running").set(running)

    def containers_running(self, count: int) -> None:
        self._containers.set(count)

    def pull(self, *, seconds: float, ok: bool, downloaded_bytes: int) -> None:
        self._pulls.labels(_outcome(ok)).inc()
        self._pull_seconds.observe(seconds)
        self._pull_bytes.inc(max(0, downloaded_bytes))

    def poll(self, *, seconds: float, ok: bool) -> None:
        self._polls.labels(_outcome(ok)).observe(seconds)

    def backend_error(self, kind: str) -> None:
        self._backend_errors.labels(kind).inc()

    def daemon_error(self, kind: str) -> None:
        self._daemon_errors.labels(kind).inc()


def _outcome(ok: bool) -> str:
    return "ok" if ok else "failed"
