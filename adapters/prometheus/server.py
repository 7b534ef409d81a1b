"""The server's metrics: its requests (the GraphQL app calls ``request``), its background
services (``ServicesMetrics``), and its flow runs by state, counted from the store when
Prometheus scrapes. Served at the server's ``/metrics``; the README's table lists them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PASS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RUNS_METRIC = "dockyard_server_flow_runs"


class PrometheusServerMetrics:
    def __init__(
        self,
        *,
        runs_by_state: Callable[[], Mapping[str, int]] | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "dockyard_server_requests",
            "API requests, by operation (the GraphQL root field, or health) and outcome (ok, or "
            "the error code).",
            ["operation", "outcome"],
            registry=r,
        )
        self._request_seconds = Histogram(
            "dockyard_server_request_seconds",
            "Seconds an API request took, by operation.",
            ["operation"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self._in_flight = Gauge(
            "dockyard_server_requests_in_flight", "API requests being served now.", registry=r
        )
        self._passes = Counter(
            "dockyard_server_service_passes",
            "Passes of the background services, by service and outcome.",
            ["service", "outcome"],
            registry=r,
        )
        self._pass_seconds = Histogram(
            "dockyard_server_service_pass_seconds",
            "Seconds a background service's pass took.",
            ["service"],
            buckets=PASS_BUCKETS,
            registry=r,
        )
        self._actions = Counter(
            "dockyard_server_service_actions",
            "What the background services did, by service and action (runs created, rescheduled, failed...).",
            ["service", "action"],
            registry=r,
        )
        Info("dockyard_server", "The server's version.", registry=r).info({"version": version("dockyard")})
        if runs_by_state is not None:
            r.register(_RunsByState(runs_by_state))

    @property
    def in_flight(self) -> Gauge:
        """``with metrics.in_flight.track_inprogress(): ...`` around a request."""
        return self._in_flight

    def request(self, operation: str, outcome: str, seconds: float) -> None:
        self._requests.labels(operation, outcome).inc()
        self._request_seconds.labels(operation).observe(seconds)

    def service_pass(self, service: str, *, seconds: float, ok: bool, actions: Mapping[str, int]) -> None:
        name = service.replace(" ", "_")
        self._passes.labels(name, "ok" if ok else "failed").inc()
        self._pass_seconds.labels(name).observe(seconds)
        for action, count in actions.items():
            self._actions.labels(name, action).inc(count)


class _RunsByState(Collector):
    """``dockyard_server_flow_runs{state}``, read from the store at each scrape. A store
    that cannot answer leaves the metric out of that scrape (the rest is still served)."""

    def __init__(self, read: Callable[[], Mapping[str, int]]) -> None:
        self._read = read

    def describe(self) -> list[GaugeMetricFamily]:
        # Registering must not read the store (it may not be open yet).
        return [GaugeMetricFamily(RUNS_METRIC, _RUNS_HELP, labels=["state"])]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = self._read()
        except Exception as exc:
            log.warning("Could not count the flow runs by state for /metrics: %s", exc)
            return
        family = GaugeMetricFamily(RUNS_METRIC, _RUNS_HELP, labels=["state"])
        for state, count in sorted(counts.items()):
            family.add_metric([state], count)
        yield family


_RUNS_HELP = "Flow runs in the store, by state (other: a state Prefect 1 does not know)."
