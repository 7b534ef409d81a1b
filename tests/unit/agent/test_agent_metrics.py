"""What the agent reports to its metrics port (a fake here), and what it logs about pulls and
about runs waiting under --limit: on the Agent use case over fakes, and on the Deployer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from dockyard.domain.agent.config import AgentConfig, PullPolicy, RegistryCredentials
from dockyard.domain.agent.deploy import Deployer
from dockyard.domain.agent.outbox import Outbox
from dockyard.domain.agent.ownership import AgentIdentity, Owner
from dockyard.domain.agent.pulls import PullReporter, describe, size, summary
from dockyard.domain.agent.runtime_state import ImageInfo, PullProgress
from dockyard.domain.agent.tracker import TrackedRun, Tracker
from dockyard.domain.errors import PullFailed
from dockyard.domain.log_fields import RUN_ID, RUN_NAME
from support.agent_harness import DEFAULT_IMAGE, Harness, wait_for
from support.clock import AGENT_START, FakeClock
from support.fake_metrics import FakeAgentMetrics
from support.fakes import FakeBackend, FakeRuntime

COMMAND_RUN = {"type": "DockerRun", "image": DEFAULT_IMAGE, "command": "work"}


def test_claims_deploys_and_settlements_are_counted_by_final_state() -> None:
    h = Harness()
    ok = [h.backend.add_run(run_config=COMMAND_RUN) for _ in range(3)]
    bad = h.backend.add_run(run_config=COMMAND_RUN)
    with h.running():
        containers = {run_id: h.container_of(run_id) for run_id in [*ok, bad]}
        wait_for(
            lambda: (h.metrics.last("containers_running") or {}).get("count") == 4,
            what="a pass that sees the four containers running",
        )
        assert h.metrics.last("runs_in_flight") == {"deploying": 0, "running": 4}
        for run_id in ok:
            h.runtime.finish(containers[run_id], 0)
        h.runtime.finish(containers[bad], 3)
        for run_id in ok:
            h.wait_state(run_id, "Success")
        h.wait_state(bad, "Failed")
        wait_for(lambda: sum(h.metrics.settled().values()) == 4, what="four settlements")

    assert h.metrics.count("run_claimed") == 4
    assert h.metrics.count("run_deployed") == 4
    assert h.metrics.settled() == {"Success": 3, "Failed": 1}
    assert h.metrics.count("deploy_failed") == 0
    for deployed in h.metrics.of("run_deployed"):
        assert 0 <= deployed["since_ready"] < 5
        assert deployed["since_scheduled"] >= deployed["since_ready"]  # due on 1 Jan 2026


def test_a_refused_run_counts_as_a_failed_deployment_not_a_settlement() -> None:
    h = Harness()
    refused = h.backend.add_run(run_config={**COMMAND_RUN, "host_config": {"privileged": True}})
    with h.running():
        h.wait_state(refused, "Failed")
        wait_for(lambda: h.metrics.count("deploy_failed") == 1, what="the failed deployment")
    assert h.metrics.count("run_deployed") == 0
    assert not h.metrics.settled()


def test_polls_are_timed_and_a_failed_poll_says_so() -> None:
    h = Harness()
    with h.running():
        wait_for(lambda: h.metrics.count("poll") >= 1, what="a poll")
        h.backend.available = False
        wait_for(lambda: any(not p["ok"] for p in h.metrics.of("poll")), what="a failed poll")
    polls = h.metrics.of("poll")
    assert polls[0]["ok"] is True and all(p["seconds"] >= 0 for p in polls)


def test_runs_waiting_under_the_limit_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness().with_config(limit=1)
    runs = [h.backend.add_run(run_config=COMMAND_RUN) for _ in range(3)]
    with caplog.at_level(logging.INFO, logger="dockyard.agent"), h.running() as agent:
        wait_for(lambda: len(h.runtime.running()) == 1, what="one container")
        polls = h.metrics.count("poll")
        for _ in range(4):  # more polls while full
            agent.poke()
            wait_for(lambda n=polls: h.metrics.count("poll") > n, what="another poll")
            polls = h.metrics.count("poll")
        waiting = [r.getMessage() for r in caplog.records if "reached" in r.getMessage()]
        assert waiting == ["Limit 1 reached, 2 runs waiting; they start as running ones finish"]

        # Room again (one run done), then full again: said once more, with the new count.
        h.runtime.finish(h.runtime.running()[0].id, 0)
        wait_for(lambda: len([r for r in runs if h.backend.state_of(r) == "Success"]) == 1, what="one done")
        wait_for(lambda: len(h.runtime.running()) == 1, what="the next container")
        wait_for(
            lambda: len([r for r in caplog.records if "reached" in r.getMessage()]) == 2,
            what="the second waiting line",
        )
    lines = [r.getMessage() for r in caplog.records if "reached" in r.getMessage()]
    assert lines[1] == "Limit 1 reached, 1 run waiting; they start as running ones finish"


# -- pulls ---------------------------------------------------------------------------------------


class SlowPull(FakeRuntime):
    """Each progress step of a pull takes ``step_seconds`` on the fake clock."""

    def __init__(self, clock: FakeClock, step_seconds: float) -> None:
        super().__init__()
        self._clock, self._step = clock, step_seconds

    def pull_image(
        self,
        reference: str,
        credentials: RegistryCredentials | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> ImageInfo:
        def slow(step: PullProgress) -> None:
            self._clock.advance(self._step)
            if progress is not None:
                progress(step)

        return super().pull_image(reference, credentials, slow)


class DeployRig:
    def __init__(self, runtime: FakeRuntime, clock: FakeClock, **config: Any) -> None:
        self.runtime, self.clock, self.backend = runtime, clock, FakeBackend()
        self.metrics = FakeAgentMetrics()
        self.outbox = Outbox(self.backend)
        self.tracker = Tracker()
        owner = Owner("agent", runtime.daemon.id, instance="instance-1", lease="lease-1")
        self.deployer = Deployer(
            config=AgentConfig(**config),
            identity=AgentIdentity(agent_id="agent-1", daemon=runtime.daemon, owner=owner),
            backend=self.backend, runtime=runtime, clock=clock, tracker=self.tracker,
            stopping=threading.Event(), outbox=self.outbox, on_started=lambda _: None, metrics=self.metrics,
        )  # fmt: skip

    def deploy(self, image: str) -> str:
        run_id = self.backend.add_run(name="calm-heron", run_config={"type": "DockerRun", "image": image})
        self.tracker.claim(run_id, "calm-heron", at=self.clock.monotonic())
        self.deployer.deploy(self.backend.runs[run_id].run)
        self.outbox.flush()
        return run_id


MB = 1_000_000
STEPS = [
    PullProgress(layers=3, layers_done=1, layers_present=1, downloaded_bytes=0, total_bytes=30 * MB),
    PullProgress(layers=3, layers_done=1, layers_present=1, downloaded_bytes=12 * MB, total_bytes=30 * MB),
    PullProgress(layers=3, layers_done=2, layers_present=1, downloaded_bytes=20 * MB, total_bytes=30 * MB),
    PullProgress(layers=3, layers_done=3, layers_present=1, downloaded_bytes=30 * MB, total_bytes=30 * MB),
]


def test_a_long_pull_logs_progress_every_ten_seconds_and_sums_it_up(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(AGENT_START)
    runtime = SlowPull(clock, step_seconds=6.0)
    runtime.pull_steps = STEPS
    rig = DeployRig(runtime, clock, pull_policy=PullPolicy.ALWAYS)
    with caplog.at_level(logging.INFO, logger="dockyard.agent"):
        run_id = rig.deploy("localhost:5000/app:1.0")

    pulling = [r for r in caplog.records if r.getMessage().startswith("Pulling image localhost:5000/app:1.0")]
    # 6 s a step: a line after the 2nd step (12 s) and after the 4th (24 s), not per step.
    assert [r.getMessage() for r in pulling] == [
        "Pulling image localhost:5000/app:1.0 for flow run " + run_id,
        "Pulling image localhost:5000/app:1.0: 1 of 3 layers, 12.0 MB of 30.0 MB, 12s so far",
        "Pulling image localhost:5000/app:1.0: 3 of 3 layers, 30.0 MB of 30.0 MB, 24s so far",
    ]
    (done,) = [r for r in caplog.records if r.getMessage().startswith("Pulled image")]
    assert done.getMessage() == (
        "Pulled image localhost:5000/app:1.0 in 24.0s: 3 layers (1 already present), 30.0 MB downloaded"
    )
    for record in [*pulling, done]:
        assert getattr(record, RUN_ID) == run_id and getattr(record, RUN_NAME) == "calm-heron"
    assert "Pulled image localhost:5000/app:1.0 in 24.0s: 3 layers" in rig.backend.logs_of(run_id)[0]
    assert rig.metrics.of("pull") == [{"seconds": 24.0, "ok": True, "downloaded_bytes": 30 * MB}]
    (deployed,) = rig.metrics.of("run_deployed")
    assert deployed["since_ready"] >= 24.0  # the pull is part of the deploy latency


def test_a_failed_pull_is_counted_and_the_run_fails() -> None:
    clock = FakeClock(AGENT_START)
    runtime = SlowPull(clock, step_seconds=1.0)
    runtime.pull_steps = STEPS[:2]
    runtime.pull_error = PullFailed("Pulling image localhost:5000/app:1.0 failed: manifest unknown")
    rig = DeployRig(runtime, clock, pull_policy=PullPolicy.ALWAYS)
    run_id = rig.deploy("localhost:5000/app:1.0")
    assert rig.backend.state_of(run_id) == "Failed"
    assert rig.metrics.of("pull") == [{"seconds": 2.0, "ok": False, "downloaded_bytes": 12 * MB}]
    assert rig.metrics.count("deploy_failed") == 1
    assert not any(line.startswith("Pulled image") for line in rig.backend.logs_of(run_id))


def test_no_pull_means_no_pulling_line(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(AGENT_START)
    rig = DeployRig(FakeRuntime(images=["localhost:5000/app:latest"]), clock, pull_policy=PullPolicy.NEVER)
    with caplog.at_level(logging.DEBUG, logger="dockyard.agent"):
        run_id = rig.deploy("localhost:5000/app:latest")
    assert rig.runtime.by_run(run_id) is not None
    assert not [r for r in caplog.records if "ull" in r.getMessage()]  # no Pulling, no Pulled
    assert rig.metrics.count("pull") == 0


def test_pull_texts() -> None:
    assert [size(n) for n in (0, 999, 1000, 1_234_567, 5 * 10**9)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "1.2 MB",
        "5.0 GB",
    ]
    one = PullProgress(layers=1, layers_done=0, downloaded_bytes=10)
    assert describe(one) == "0 of 1 layer, 10 B"
    assert summary(one) == "1 layer, 10 B downloaded"


def test_the_reporter_says_nothing_before_its_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(AGENT_START)
    reporter = PullReporter("img", "run-1", "name", clock, every=10)
    with caplog.at_level(logging.INFO, logger="dockyard.agent"):
        for _ in range(50):  # a chunk event every 0.1 s for 5 s
            clock.advance(0.1)
            reporter.update(STEPS[1])
    assert not caplog.records
    assert reporter.progress == STEPS[1]


def test_tracked_runs_remember_when_they_were_claimed() -> None:
    tracker = Tracker()
    assert tracker.claim("r", "n", at=12.5)
    assert tracker.get("r") == TrackedRun(run_id="r", run_name="n", claimed_at=12.5)
