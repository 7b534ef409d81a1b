"""The real agent's deployment steps: pull decisions by policy and presence, and which
credentials a pull carries."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.agent.agent import AgentIdentity
from dockyard.domain.agent.config import AgentConfig, PullPolicy, RegistryCredentials
from dockyard.domain.agent.model import FlowInfo, FlowRun
from dockyard.domain.agent.ownership import Owner
from dockyard.domain.agent.steps import default_steps
from dockyard.domain.errors import ImageNotFound
from dockyard.ports.container_runtime import ImageInfo
from support.fakes import FakeRuntime

LOGIN = RegistryCredentials("localhost:5000", "robot", "s3cret")


class RecordingRuntime(FakeRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.logins: list[tuple[str, RegistryCredentials | None]] = []

    def pull_image(self, reference: str, credentials: RegistryCredentials | None = None) -> ImageInfo:
        self.logins.append((reference, credentials))
        return super().pull_image(reference, credentials)


def steps_for(runtime: RecordingRuntime, **config: Any) -> Any:
    owner = Owner("agent", runtime.daemon.id, instance="instance-1", lease="lease-1")
    identity = AgentIdentity(agent_id="agent-1", daemon=runtime.daemon, owner=owner)
    return default_steps(AgentConfig(**config), runtime, identity)


def planned(steps: Any, image: str) -> Any:
    run = FlowRun(
        id="run-1", name="run", version=1, state="Submitted", serialized_state={},
        flow=FlowInfo(id="flow-1", name="flow"), run_config={"type": "DockerRun", "image": image},
    )  # fmt: skip
    return steps.plan(run)


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
    runtime = RecordingRuntime()
    steps = steps_for(runtime, pull_policy=policy)
    plan = planned(steps, image)
    # What a deployment does: pull first if the policy says always; otherwise only when the
    # create finds the image missing.
    if steps.pull_first(plan):
        steps.pull(plan.image)
    elif not present:
        steps.pull_missing(plan)
    assert bool(runtime.logins) is pull


def test_a_digest_is_not_pulled_again_even_under_always() -> None:
    steps = steps_for(RecordingRuntime(), pull_policy=PullPolicy.ALWAYS)
    assert not steps.pull_first(planned(steps, "localhost:5000/app@sha256:" + "a" * 64))
    assert steps.pull_first(planned(steps, "localhost:5000/app:1.0"))


def test_never_pulling_an_absent_image_fails_saying_why() -> None:
    runtime = RecordingRuntime()
    steps = steps_for(runtime, pull_policy=PullPolicy.NEVER)
    with pytest.raises(ImageNotFound, match=r"localhost:5000/app:1.0 is not on the Docker daemon.*--no-pull"):
        steps.pull_missing(planned(steps, "localhost:5000/app:1.0"))
    assert runtime.logins == []


def test_a_pull_carries_the_login_given_for_its_registry_only() -> None:
    runtime = RecordingRuntime()
    steps = steps_for(runtime, registry_credentials=(LOGIN,))
    steps.pull("localhost:5000/team/app:1")
    steps.pull("localhost:5001/team/app:1")
    steps.pull("python:3.11")
    assert runtime.logins == [
        ("localhost:5000/team/app:1", LOGIN),
        ("localhost:5001/team/app:1", None),  # the daemon host's Docker config applies
        ("python:3.11", None),
    ]
