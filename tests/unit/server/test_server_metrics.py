"""The server's metrics on their own: runs by state counted from the store (fake and
SQLite), the services' passes reported to the port, and the Prometheus adapter's output."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from dockyard.adapters.prometheus import PrometheusServerMetrics, exposition
from dockyard.domain.server.filters import eq
from dockyard.domain.server.liveness import LazarusPass
from dockyard.domain.server.runs import NewFlowRun
from dockyard.domain.server.scheduler import SchedulerPass
from dockyard.domain.server.services import ServiceLoop
from dockyard.domain.states import KNOWN_STATES
from dockyard.ports.run_store import RunStore
from support.fake_metrics import FakeServicesMetrics
from support.stores import FakeClock, service_on, store

__all__ = ["store"]


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of the metric family ``name``, by its labels, from the text format."""
    text = exposition(registry, None)[0].decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_runs_are_counted_by_state_every_known_state_and_the_rest(store: RunStore) -> None:
    service = service_on(store, FakeClock())
    tenant = service.tenancy.ensure_default_tenant()
    project = service.tenancy.create_project(tenant, "p", None)
    flow = service.flows.create_flow(project, {"name": "f", "__version__": "1.4.1", "tasks": []})
    runs = [
        service.flow_runs.create_flow_run(
            NewFlowRun(flow_id=flow, scheduled_start_time="2026-03-01T12:00:00Z")
        )
        for _ in range(6)
    ]
    with store.unit_of_work(write=True) as session:
        for run, state in zip(runs[2:], ["Running", "Success", "Success", "Sideways"], strict=True):
            session.update("flow_run", eq("id", run), {"state": state})

    counts = service.views.counts.by_state()

    assert set(counts) == {*KNOWN_STATES, "other"}
    assert {state: n for state, n in counts.items() if n} == {
        "Scheduled": 2, "Running": 1, "Success": 2, "other": 1,
    }  # fmt: skip

    metrics = PrometheusServerMetrics(runs_by_state=service.views.counts.by_state)
    scraped = samples(metrics.registry, "dockyard_server_flow_runs")
    assert scraped[(("state", "Success"),)] == 2 and scraped[(("state", "Failed"),)] == 0
    assert sum(scraped.values()) == 6


def test_a_store_that_cannot_answer_leaves_only_the_run_counts_out() -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("database is locked")

    metrics = PrometheusServerMetrics(runs_by_state=broken)
    metrics.request("flow_run", "ok", 0.01)
    assert samples(metrics.registry, "dockyard_server_flow_runs") == {}
    assert samples(metrics.registry, "dockyard_server_requests_total") == {
        (("operation", "flow_run"), ("outcome", "ok")): 1.0
    }


def test_a_service_pass_reports_its_time_outcome_and_actions() -> None:
    metrics = FakeServicesMetrics()
    scheduler = ServiceLoop("scheduler", lambda: SchedulerPass(flows=4, created=3, removed=1), 30, metrics)
    lazarus = ServiceLoop("lazarus", lambda: LazarusPass(rescheduled=2), 5, metrics)

    def failing() -> object:
        raise RuntimeError("boom")

    broken = ServiceLoop("zombie killer", failing, 5, metrics)

    assert scheduler.run_pass() == SchedulerPass(flows=4, created=3, removed=1)
    lazarus.run_pass()
    with pytest.raises(RuntimeError):
        broken.run_pass()

    assert metrics.passes == [
        ("scheduler", True, {"created": 3, "removed": 1}),
        ("lazarus", True, {"rescheduled": 2, "failed": 0}),
        ("zombie killer", False, {}),
    ]


def test_the_adapter_counts_passes_and_actions_by_service() -> None:
    metrics = PrometheusServerMetrics()
    metrics.service_pass("zombie killer", seconds=0.02, ok=True, actions={"task_runs_failed": 2})
    metrics.service_pass("zombie killer", seconds=0.01, ok=False, actions={})
    assert samples(metrics.registry, "dockyard_server_service_passes_total") == {
        (("outcome", "ok"), ("service", "zombie_killer")): 1.0,
        (("outcome", "failed"), ("service", "zombie_killer")): 1.0,
    }
    assert samples(metrics.registry, "dockyard_server_service_actions_total") == {
        (("action", "task_runs_failed"), ("service", "zombie_killer")): 2.0
    }
    assert samples(metrics.registry, "dockyard_server_service_pass_seconds_count") == {
        (("service", "zombie_killer"),): 2.0
    }
