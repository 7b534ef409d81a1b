"""Run the Agent use case on fakes (and the real planner), in a background thread, and wait
for outcomes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from dockyard.domain.agent.agent import Agent
from dockyard.domain.agent.config import AgentConfig
from support.clock import AGENT_START, FakeClock
from support.fake_metrics import FakeAgentMetrics
from support.fake_swarm import FakeSwarm
from support.fakes import FakeBackend, FakeLeases, FakeOutput, FakeRuntime

DEFAULT_IMAGE = "dockyard-test/busybox:1"


def wait_for(condition: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Harness:
    """An agent on fakes. Harnesses sharing ``leases`` stand for agents on one host; the
    default, a FakeLeases of its own, for an agent on a host of its own."""

    def __init__(self, config: AgentConfig | None = None, *, backend: FakeBackend | None = None,
                 runtime: FakeRuntime | FakeSwarm | None = None, clock: FakeClock | None = None,
                 leases: FakeLeases | None = None) -> None:  # fmt: skip
        self.config = config or AgentConfig(name="test-agent")
        self.backend = backend or FakeBackend()
        self.runtime: Any = runtime or FakeRuntime(images=[DEFAULT_IMAGE])
        self.clock = clock or FakeClock(AGENT_START, real_time=True)
        self.leases = leases or FakeLeases()
        self.output = FakeOutput()
        self.metrics = FakeAgentMetrics()
        self.agent: Agent | None = None
        self.workers = 8
        self._thread: threading.Thread | None = None

    def with_config(self, **changes: Any) -> Harness:
        self.config = replace(self.config, **changes)
        return self

    def build(self) -> Agent:
        return Agent(
            config=self.config,
            backend=self.backend,
            runtime=self.runtime,
            clock=self.clock,
            leases=self.leases,
            output=self.output,
            tick_interval=0.02,
            workers=self.workers,
            metrics=self.metrics,
        )

    @contextmanager
    def running(self) -> Iterator[Agent]:
        agent = self.build()
        self.agent = agent
        errors: list[BaseException] = []

        def run() -> None:
            try:
                agent.start()
            except BaseException as exc:  # surfaced to the test below
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield agent
        finally:
            agent.stop()
            thread.join(timeout=15)
            assert not thread.is_alive(), "agent did not stop"
            if errors:
                raise errors[0]

    def container_of(self, run_id: str) -> str:
        wait_for(lambda: self.runtime.by_run(run_id) is not None, what=f"a container for {run_id}")
        container = self.runtime.by_run(run_id)
        assert container is not None
        wait_for(lambda: container.status == "running", what="the container to start")
        return container.id

    def wait_state(self, run_id: str, state: str, timeout: float = 5.0) -> None:
        wait_for(lambda: self.backend.state_of(run_id) == state, timeout, f"run {run_id} to be {state}")
