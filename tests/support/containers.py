"""One test's Docker objects: unique names, the session's labels plus a per-test label, and
removal of everything carrying that label when the test ends (pass or fail)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import docker

from dockyard.adapters.docker_runtime import DockerContainerRuntime
from support.docker_env import SESSION_LABELS, remove_labelled

CASE_LABEL = "org.dockyard.test-case"


@dataclass
class Case:
    client: docker.DockerClient
    runtime: DockerContainerRuntime
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def labels(self) -> dict[str, str]:
        return {**SESSION_LABELS, CASE_LABEL: self.id}

    def name(self, what: str) -> str:
        return f"dockyard-test-{what}-{uuid.uuid4().hex[:10]}"

    def body(self, image: str, script: str, **fields: Any) -> dict[str, Any]:
        """A container-create body running ``sh -c script``, labelled for this test."""
        return {"Image": image, "Cmd": ["sh", "-c", script], "Labels": self.labels, **fields}

    def run(self, image: str, script: str, **fields: Any) -> str:
        """Create and start; return the id."""
        container_id = self.runtime.create_container(self.name("c"), self.body(image, script, **fields))
        self.runtime.start_container(container_id)
        return container_id

    def network(self) -> str:
        name = self.name("net")
        self.client.networks.create(name, labels=self.labels)
        return name

    def cleanup(self) -> None:
        remove_labelled(self.client, f"{CASE_LABEL}={self.id}")


@contextmanager
def case_on(client: docker.DockerClient, runtime: DockerContainerRuntime) -> Iterator[Case]:
    case = Case(client, runtime)
    try:
        yield case
    finally:
        case.cleanup()


def eventually(check: Callable[[], bool], within: float = 60.0, what: str = "condition") -> None:
    """Poll ``check`` until true; fail after ``within`` seconds (a deadline for a hung
    daemon, not a speed assertion)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within}s")
        time.sleep(0.05)


def output_contains(runtime: DockerContainerRuntime, container_id: str, needle: bytes) -> Callable[[], bool]:
    return lambda: needle in runtime.container_logs(container_id)
