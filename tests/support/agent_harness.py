"""Run the Agent use case on fakes, in a background thread, and wait for outcomes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from dockyard.domain.agent import labels as L
from dockyard.domain.agent.agent import Agent, AgentIdentity
from dockyard.domain.agent.config import AgentConfig
from dockyard.domain.agent.deploy import DeploySteps
from dockyard.domain.agent.model import ContainerPlan, FlowRun
from dockyard.domain.errors import RunRefused
from support.clock import AGENT_START, FakeClock
from support.fakes import FakeBackend, FakeLeases, FakeOutput, FakeRuntime

DEFAULT_IMAGE = "dockyard-test/busybox:1"


def wait_for(condition: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def simple_steps(config: AgentConfig, runtime: FakeRuntime) -> Callable[[AgentIdentity], DeploySteps]:
    """A stand-in planner: enough of a container body for supervision to work with."""

    def factory(identity: AgentIdentity) -> DeploySteps:
        def plan(run: FlowRun) -> ContainerPlan:
            rc: dict[str, Any] = dict(run.run_config or {})
            if rc.get("refuse"):  # lets a test stand for any planning refusal
                raise RunRefused(str(rc["refuse"]))
            labels = {
                L.FLOW_RUN_ID: run.id,
                L.AGENT: config.name,
                L.AGENT_ID: identity.agent_id,
                L.FLOW_RUN_NAME: run.name,
                L.MANAGED: "true",
                L.INSTANCE: identity.owner.instance,
                L.LEASE: identity.owner.lease,
            }
            if rc.get("timeout") or config.run_timeout:
                labels[L.TIMEOUT] = str(rc.get("timeout") or config.run_timeout)
            if rc.get("command"):
                labels[L.SHIP_LOGS] = "true"
            image = rc.get("image", DEFAULT_IMAGE)
            return ContainerPlan(
                name=run.name, image=image, pull=True, create_volumes=(), connect_networks=(),
                body={"Image": image, "Labels": labels},
            )  # fmt: skip

        return DeploySteps(
            plan=plan,
            pull_first=lambda plan: False,
            pull_missing=lambda plan: runtime.pull_image(plan.image) and None,
            pull=lambda image: runtime.pull_image(image) and None,
            names=lambda name: [name, *(f"{name}-{i}" for i in range(1, 10))],
            agent_name=config.name,
        )

    return factory


class Harness:
    """An agent on fakes. Harnesses sharing ``leases`` stand for agents on one host; the
    default, a FakeLeases of its own, for an agent on a host of its own."""

    def __init__(self, config: AgentConfig | None = None, *, backend: FakeBackend | None = None,
                 runtime: FakeRuntime | None = None, clock: FakeClock | None = None,
                 leases: FakeLeases | None = None) -> None:  # fmt: skip
        self.config = config or AgentConfig(name="test-agent")
        self.backend = backend or FakeBackend()
        self.runtime = runtime or FakeRuntime(images=[DEFAULT_IMAGE])
        self.clock = clock or FakeClock(AGENT_START, real_time=True)
        self.leases = leases or FakeLeases()
        self.output = FakeOutput()
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
            steps_factory=simple_steps(self.config, self.runtime),
            output=self.output,
            tick_interval=0.02,
            workers=self.workers,
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
