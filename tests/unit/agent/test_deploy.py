"""Deploying one run on fakes, through the real planner: pull decisions by policy and
presence, the login a pull carries, and what the tracked run takes from the plan."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dockyard.domain.agent import labels as L
from dockyard.domain.agent.config import AgentConfig, PullPolicy, RegistryCredentials
from dockyard.domain.agent.deploy import Deployer
from dockyard.domain.agent.outbox import Outbox
from dockyard.domain.agent.ownership import AgentIdentity, Owner
from dockyard.domain.agent.runtime_state import ImageInfo
from dockyard.domain.agent.tracker import TrackedRun, Tracker
from dockyard.domain.errors import BackendUnavailable
from support.clock import AGENT_START, FakeClock
from support.fakes import FakeBackend, FakeRuntime

LOGIN = RegistryCredentials("localhost:5000", "robot", "s3cret")


class RecordingRuntime(FakeRuntime):
    def __init__(self, images: list[str] | None = None) -> None:
        super().__init__(images=images or [])
        self.logins: list[tuple[str, RegistryCredentials | None]] = []

    def pull_image(self, reference: str, credentials: RegistryCredentials | None = None) -> ImageInfo:
        self.logins.append((reference, credentials))
        return super().pull_image(reference, credentials)


class Rig:
    def __init__(self, runtime: RecordingRuntime, **config: Any) -> None:
        self.runtime, self.backend, self.tracker = runtime, FakeBackend(), Tracker()
        self.started: list[TrackedRun] = []
        self.outbox = Outbox(self.backend)
        owner = Owner("agent", runtime.daemon.id, instance="instance-1", lease="lease-1")
        self.deployer = Deployer(
            config=AgentConfig(**config),
            identity=AgentIdentity(agent_id="agent-1", daemon=runtime.daemon, owner=owner),
            backend=self.backend, runtime=runtime, clock=FakeClock(AGENT_START), tracker=self.tracker,
            stopping=threading.Event(), outbox=self.outbox, on_started=self.started.append,
        )  # fmt: skip

    def deploy(self, image: str, **run_config: Any) -> str:
        run_id = self.backend.add_run(run_config={"type": "DockerRun", "image": image, **run_config})
        self.deployer.deploy(self.backend.runs[run_id].run)
        return run_id


@pytest.mark.parametrize(
    ("policy", "image", "present", "pull"),
    [
        (None, "localhost:5000/app:1.0", True, False),  # pinned: if-not-present
        (None, "localhost:5000/app:1.0", False, True),
        (None, "localhost:5000/app:latest", True, True),  # floating: always
        (None, "localhost:5000/app", True, True),
        (PullPolicy.ALWAYS, "localhost:5000/app:1.0", True, True),
        (PullPolicy.IF_NOT_PRESENT, "localhost:5000/app:latest", True, False),
        (PullPolicy.NEVER, "localhost:5000/app:latest", True, False),
    ],
)
def test_pull_decisions(policy: PullPolicy | None, image: str, present: bool, pull: bool) -> None:
    runtime = RecordingRuntime(images=[image] if present else [])
    rig = Rig(runtime, pull_policy=policy)
    run_id = rig.deploy(image)
    assert bool(runtime.logins) is pull
    assert runtime.by_run(run_id) is not None and rig.backend.state_of(run_id) == "Submitted"


def test_a_digest_is_not_pulled_again_even_under_always() -> None:
    digest = "localhost:5000/app@sha256:" + "a" * 64
    runtime = RecordingRuntime(images=[digest, "localhost:5000/app:1.0"])
    rig = Rig(runtime, pull_policy=PullPolicy.ALWAYS)
    rig.deploy(digest)
    assert runtime.logins == []
    rig.deploy("localhost:5000/app:1.0")
    assert [image for image, _ in runtime.logins] == ["localhost:5000/app:1.0"]


def test_never_pulling_an_absent_image_fails_saying_why() -> None:
    runtime = RecordingRuntime()
    rig = Rig(runtime, pull_policy=PullPolicy.NEVER)
    run_id = rig.deploy("localhost:5000/app:1.0")
    assert rig.backend.state_of(run_id) == "Failed"
    message = rig.backend.message_of(run_id)
    assert "localhost:5000/app:1.0 is not on the Docker daemon" in message and "--no-pull" in message
    assert runtime.logins == [] and runtime.containers == {}


def test_a_pull_carries_the_login_given_for_its_registry_only() -> None:
    runtime = RecordingRuntime()
    rig = Rig(runtime, registry_credentials=(LOGIN,))
    for image in ("localhost:5000/team/app:1", "localhost:5001/team/app:1", "python:3.11"):
        rig.deploy(image)
    assert runtime.logins == [
        ("localhost:5000/team/app:1", LOGIN),
        ("localhost:5001/team/app:1", None),  # the daemon host's Docker config applies
        ("python:3.11", None),
    ]


def test_the_tracked_run_takes_its_time_limit_and_log_shipping_from_the_plan() -> None:
    runtime = RecordingRuntime(images=["img:1"])
    rig = Rig(runtime, run_timeout=30.0)
    with_command = rig.deploy("img:1", command="echo hi", timeout=2.5)
    plain = rig.deploy("img:1")
    (first, second) = rig.started
    assert (first.run_id, first.timeout, first.ship_logs) == (with_command, 2.5, True)
    assert (second.run_id, second.timeout, second.ship_logs) == (plain, 30.0, False)
    container = runtime.by_run(with_command)
    assert container is not None and L.timeout_of(container.body["Labels"]) == 2.5
    assert rig.backend.states_of(with_command)[-1] == "Running", "no flow runner inside says so"


def test_a_failure_the_backend_cannot_take_is_owed_and_written_later() -> None:
    runtime = RecordingRuntime()
    rig = Rig(runtime, pull_policy=PullPolicy.NEVER)
    run_id = rig.backend.add_run(run_config={"type": "DockerRun", "image": "absent:1"})
    run = rig.backend.runs[run_id].run
    original = rig.backend.set_flow_run_state

    def refuse_failed(run_id: str, version: int | None, state: Any) -> None:
        if state["type"] == "Failed":
            raise BackendUnavailable("away")
        original(run_id, version, state)

    rig.backend.set_flow_run_state = refuse_failed  # type: ignore[method-assign]
    rig.deployer.deploy(run)
    assert rig.backend.state_of(run_id) == "Submitted" and len(rig.outbox) == 2  # its log and its state
    rig.backend.set_flow_run_state = original  # type: ignore[method-assign]
    assert rig.outbox.flush() is True
    assert rig.backend.state_of(run_id) == "Failed"
    assert "absent:1 is not on the Docker daemon" in rig.backend.message_of(run_id)
