"""A Swarm manager in memory (the ServiceRuntime port): one task per service, moved along
by the tests (``run``, ``finish``, ``reject``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.agent.runtime_state import ContainerState, DaemonInfo
from dockyard.domain.errors import ContainerNameConflict, PullFailed, RuntimeUnavailable

STOPPED = "the service was stopped (scaled to no replica) before its task ended"


@dataclass
class FakeService:
    id: str
    name: str
    spec: Mapping[str, Any]
    credentials: RegistryCredentials | None
    status: str = "pending"  # pending, starting, running, exited, rejected, dead
    exit_code: int | None = None
    error: str = ""
    output: bytes = b""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stop_requests: list[float] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.spec.get("Labels", {}))

    @property
    def image(self) -> str:
        return str(self.spec["TaskTemplate"]["ContainerSpec"]["Image"])


class FakeSwarm:
    def __init__(self) -> None:
        self.services: dict[str, FakeService] = {}
        self.networks: dict[str, str] = {}  # name -> scope
        self.digests: dict[str, str] = {}  # reference -> the digest its registry serves
        self.resolved: list[tuple[str, RegistryCredentials | None]] = []
        self.removed: list[str] = []
        self.taken_names: set[str] = set()  # names another service holds
        self.available = True
        self.daemon = DaemonInfo(id="cluster-1", version="20.10.24", api_version="1.41", os_type="linux")
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)

    def _check(self) -> None:
        if not self.available:
            raise RuntimeUnavailable("fake Swarm manager is down")

    # -- test helpers -----------------------------------------------------------------------

    def by_run(self, run_id: str) -> FakeService | None:
        for service in self.services.values():
            if service.labels.get("io.prefect.flow-run-id") == run_id:
                return service
        return None

    def move(self, service_id: str, status: str, **changes: Any) -> None:
        with self._lock:
            service = self.services[service_id]
            service.status = status
            for name, value in changes.items():
                setattr(service, name, value)
            self._ended.notify_all()

    def finish(self, service_id: str, exit_code: int, *, output: bytes = b"") -> None:
        self.move(service_id, "exited", exit_code=exit_code, output=output)

    # -- the ServiceRuntime port --------------------------------------------------------------

    def ping(self) -> DaemonInfo:
        self._check()
        return self.daemon

    def create_service(
        self, name: str, spec: Mapping[str, Any], credentials: RegistryCredentials | None = None
    ) -> str:
        self._check()
        with self._lock:
            if name in self.taken_names or any(s.name == name for s in self.services.values()):
                raise ContainerNameConflict(f"Service name {name} is taken")
            service_id = uuid.uuid4().hex[:25]
            self.services[service_id] = FakeService(service_id, name, spec, credentials)
            return service_id

    def network_scope(self, name: str) -> str | None:
        self._check()
        return self.networks.get(name)

    def resolve_image(self, reference: str, credentials: RegistryCredentials | None = None) -> str:
        self._check()
        self.resolved.append((reference, credentials))
        if reference not in self.digests:
            raise PullFailed(f"Cannot resolve image {reference} at its registry: manifest unknown")
        return f"{reference}@{self.digests[reference]}"

    def _state(self, service: FakeService) -> ContainerState:
        return ContainerState(
            id=service.id,
            name=service.name,
            status=service.status,
            labels=service.labels,
            exit_code=service.exit_code,
            error=service.error,
            started_at=service.created_at,
        )

    def inspect_container(self, container_id: str) -> ContainerState | None:
        self._check()
        service = self.services.get(container_id)
        return None if service is None else self._state(service)

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ContainerState]:
        self._check()
        with self._lock:
            return [
                self._state(s)
                for s in self.services.values()
                if all(k in s.labels and (v is None or s.labels[k] == v) for k, v in labels.items())
            ]

    def start_container(self, container_id: str) -> None:
        self._check()

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        self._check()
        with self._lock:
            service = self.services.get(container_id)
            if service is None or service.status in ("exited", "rejected", "dead"):
                return
            service.stop_requests.append(grace_seconds)
            service.status, service.exit_code, service.error = "exited", None, STOPPED
            self._ended.notify_all()

    def remove_container(self, container_id: str) -> None:
        self._check()
        with self._lock:
            if self.services.pop(container_id, None) is not None:
                self.removed.append(container_id)

    def container_logs(self, container_id: str, tail: int | None = None) -> bytes:
        self._check()
        lines = self.services[container_id].output.splitlines(keepends=True)
        return b"".join(lines[-tail:] if tail else lines)

    def follow_logs(
        self, container_id: str, *, timestamps: bool = False, since: datetime | None = None
    ) -> Iterator[bytes]:
        """Output is released when the task ends; line i stamped i seconds after creation."""
        self._check()
        with self._lock:
            while container_id in self.services and self.services[container_id].status in (
                "pending",
                "starting",
                "running",
            ):
                self._ended.wait(0.05)
            service = self.services.get(container_id)
            data = service.output if service else b""
            start = service.created_at if service else datetime(2026, 1, 1, tzinfo=UTC)
        for i, line in enumerate(data.splitlines(keepends=True)):
            moment = start + timedelta(seconds=i)
            if since is not None and moment < since.replace(microsecond=0):
                continue
            yield (moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z ").encode() if timestamps else b"") + line
