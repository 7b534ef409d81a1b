"""The agent's metrics adapters: Prometheus counters in a registry of their own, the error
counting around the driven adapters, and a pull's progress stream summed up."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dockyard.adapters.docker_pull import PullStream
from dockyard.adapters.error_counting import counting_backend_errors, counting_daemon_errors
from dockyard.adapters.prometheus import PrometheusAgentMetrics, exposition
from dockyard.domain.agent.runtime_state import PullProgress
from dockyard.domain.errors import (
    BackendError,
    BackendUnavailable,
    ImageNotFound,
    PullFailed,
    RuntimeUnavailable,
    SubmissionConflict,
)


def scrape(metrics: PrometheusAgentMetrics) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = exposition(metrics.registry, None)[0].decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_each_agent_has_its_own_registry() -> None:
    first, second = PrometheusAgentMetrics(agent_name="a"), PrometheusAgentMetrics(agent_name="b")
    first.run_claimed()
    first.run_settled("Success")
    first.run_settled("TimedOut")
    assert scrape(first)["dockyard_agent_runs_claimed_total"] == {(): 1.0}
    assert scrape(second)["dockyard_agent_runs_claimed_total"] == {(): 0.0}
    settled = scrape(first)["dockyard_agent_runs_settled_total"]
    assert settled == {
        (("state", "Success"),): 1.0, (("state", "Failed"),): 0.0,
        (("state", "Cancelled"),): 0.0, (("state", "TimedOut"),): 1.0,
    }  # fmt: skip
    assert scrape(second)["dockyard_agent_info"] == {(("name", "b"), ("version", version("dockyard"))): 1.0}


def test_latencies_pulls_and_polls_land_in_their_histograms() -> None:
    metrics = PrometheusAgentMetrics()
    metrics.run_deployed(since_ready=0.4, since_scheduled=3.0)
    metrics.pull(seconds=2.0, ok=True, downloaded_bytes=1500)
    metrics.pull(seconds=0.5, ok=False, downloaded_bytes=0)
    metrics.poll(seconds=0.02, ok=True)
    metrics.runs_in_flight(deploying=1, running=2)
    metrics.containers_running(2)
    found = scrape(metrics)
    assert found["dockyard_agent_deploy_seconds_bucket"][(("le", "0.5"),)] == 1.0
    assert found["dockyard_agent_deploy_seconds_bucket"][(("le", "0.25"),)] == 0.0
    assert found["dockyard_agent_start_delay_seconds_sum"] == {(): 3.0}
    assert found["dockyard_agent_pulls_total"] == {(("outcome", "ok"),): 1.0, (("outcome", "failed"),): 1.0}
    assert found["dockyard_agent_pull_bytes_total"] == {(): 1500.0}
    assert found["dockyard_agent_poll_seconds_count"][(("outcome", "ok"),)] == 1.0
    assert found["dockyard_agent_runs_in_flight"] == {
        (("phase", "deploying"),): 1.0,
        (("phase", "running"),): 2.0,
    }
    assert found["dockyard_agent_containers_running"] == {(): 2.0}


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    body, content_type = exposition(PrometheusAgentMetrics().registry, "application/openmetrics-text")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    assert exposition(PrometheusAgentMetrics().registry, None)[1].startswith("text/plain")


class Target:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.calls = 0

    def call(self, value: int) -> int:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return value * 2


@pytest.mark.parametrize(
    ("error", "counted"),
    [
        (None, []),
        (BackendUnavailable("down"), ["unavailable"]),
        (BackendError("bad"), ["error"]),
        (SubmissionConflict("taken"), []),  # another agent's claim: contention, not a failure
    ],
)
def test_backend_errors_are_counted_by_kind(error: Exception | None, counted: list[str]) -> None:
    kinds: list[str] = []
    target = Target(error)
    wrapped = counting_backend_errors(target, kinds.append)
    if error is None:
        assert wrapped.call(21) == 42
    else:
        with pytest.raises(type(error)):
            wrapped.call(1)
    assert kinds == counted and target.calls == 1
    assert wrapped.error is error  # attributes pass through


@pytest.mark.parametrize(
    ("error", "counted"),
    [
        (RuntimeUnavailable("no socket"), ["unavailable"]),
        (PullFailed("manifest unknown"), ["error"]),
        (ImageNotFound("pull first"), []),
    ],
)
def test_daemon_errors_are_counted_by_kind(error: Exception, counted: list[str]) -> None:
    kinds: list[str] = []
    with pytest.raises(type(error)):
        counting_daemon_errors(Target(error), kinds.append).call(1)
    assert kinds == counted


# The Engine's events for an image of three layers, one already on the daemon.
PULL_EVENTS = [
    {"status": "Pulling from dyt/busybox", "id": "latest"},
    {"status": "Already exists", "id": "aaa", "progressDetail": {}},
    {"status": "Pulling fs layer", "id": "bbb", "progressDetail": {}},
    {"status": "Pulling fs layer", "id": "ccc", "progressDetail": {}},
    {"status": "Downloading", "id": "bbb", "progressDetail": {"current": 500, "total": 2000}},
    {"status": "Downloading", "id": "ccc", "progressDetail": {"current": 100, "total": 300}},
    {"status": "Downloading", "id": "bbb", "progressDetail": {"current": 1500, "total": 2000}},
    {"status": "Download complete", "id": "ccc", "progressDetail": {}},
    {"status": "Verifying Checksum", "id": "bbb", "progressDetail": {}},
    {"status": "Extracting", "id": "bbb", "progressDetail": {"current": 32768, "total": 2000}},
    {"status": "Pull complete", "id": "bbb", "progressDetail": {}},
    {"status": "Pull complete", "id": "ccc", "progressDetail": {}},
    {"status": "Digest: sha256:0123"},
    {"status": "Status: Downloaded newer image for localhost:5000/dyt/busybox:latest"},
]


def test_a_pull_stream_is_summed_up_per_layer() -> None:
    stream = PullStream()
    changed = [stream.feed(event) for event in PULL_EVENTS[:7]]
    assert changed == [False, True, True, True, True, True, True]
    assert stream.progress == PullProgress(
        layers=3, layers_done=1, layers_present=1, downloaded_bytes=1600, total_bytes=2300
    )
    for event in PULL_EVENTS[7:]:
        stream.feed(event)
    assert stream.progress == PullProgress(
        layers=3, layers_done=3, layers_present=1, downloaded_bytes=2300, total_bytes=2300
    )
    assert not stream.feed("not an event") and not stream.feed({"status": "Downloading"})
