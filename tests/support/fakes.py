"""In-memory fakes of the agent's ports. They record end state for tests to assert on."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.agent.model import FlowInfo, FlowRun, RunLog, RunStatus, StateUpdate, TaskRunInfo
from dockyard.domain.agent.runtime_state import ContainerState, DaemonInfo, ImageInfo
from dockyard.domain.errors import (
    AgentNameInUse,
    BackendUnavailable,
    ContainerNameConflict,
    ImageNotFound,
    RuntimeUnavailable,
    SubmissionConflict,
)
from dockyard.domain.states import SCHEDULED_STATES, state_document
from dockyard.ports.agent_lease import Lease


@dataclass
class StoredRun:
    run: FlowRun
    history: list[dict[str, Any]] = field(default_factory=list)
    agent_id: str | None = None


class FakeBackend:
    """A backend holding runs in memory, with the Submitted lock of the real one."""

    def __init__(self) -> None:
        self.runs: dict[str, StoredRun] = {}
        self.logs: list[RunLog] = []
        self.task_run_states: dict[str, list[dict[str, Any]]] = {}
        self.task_runs: dict[str, list[TaskRunInfo]] = {}  # flow run id -> its task runs
        self.heartbeats: list[list[str]] = []
        self.registered: list[dict[str, Any]] = []
        self.available = True
        self.agent_id = "agent-" + uuid.uuid4().hex[:8]
        self.notifies = True
        self.polls = 0
        self.batches = 0
        self.queue_version = 0
        self._lock = threading.Lock()
        self._queue_changed = threading.Condition(self._lock)

    # -- test helpers ---------------------------------------------------------------------

    def add_run(
        self,
        *,
        name: str = "brave-otter",
        labels: Sequence[str] = (),
        run_config: Mapping[str, Any] | None = None,
        core_version: str = "1.4.1",
        start: datetime | None = None,
        run_id: str | None = None,
    ) -> str:
        run_id = run_id or str(uuid.uuid4())
        scheduled = state_document(
            "Scheduled", "Flow run scheduled.", start_time=start or datetime(2026, 1, 1, tzinfo=UTC)
        )
        run = FlowRun(
            id=run_id,
            name=name,
            version=1,
            state="Scheduled",
            serialized_state=scheduled,
            flow=FlowInfo(id="flow-" + run_id[:8], name="my-flow", core_version=core_version),
            run_config=run_config,
            labels=tuple(sorted(labels)),
        )
        with self._lock:
            self.runs[run_id] = StoredRun(run, [scheduled])
            self._bump()
        return run_id

    def _bump(self) -> None:  # caller holds the lock
        self.queue_version += 1
        self._queue_changed.notify_all()

    def state_of(self, run_id: str) -> str:
        return self.runs[run_id].run.state

    def states_of(self, run_id: str) -> list[str]:
        return [doc["type"] for doc in self.runs[run_id].history]

    def message_of(self, run_id: str) -> str:
        return str(self.runs[run_id].history[-1].get("message"))

    def set_state_directly(self, run_id: str, state: str, message: str = "") -> None:
        self._write(run_id, state_document(state, message))

    def logs_of(self, run_id: str) -> list[str]:
        return [entry.message for entry in self.logs if entry.flow_run_id == run_id]

    def _check(self) -> None:
        if not self.available:
            raise BackendUnavailable("fake backend is down")

    def _write(self, run_id: str, doc: Mapping[str, Any]) -> None:
        with self._lock:
            stored = self.runs[run_id]
            stored.history.append(dict(doc))
            stored.run = replace(
                stored.run, state=str(doc["type"]), version=stored.run.version + 1, serialized_state=dict(doc)
            )
            if doc["type"] in SCHEDULED_STATES:
                self._bump()

    # -- the Backend port -----------------------------------------------------------------

    def register_agent(
        self, *, name: str, labels: Sequence[str], agent_type: str, agent_config_id: str | None
    ) -> str:
        self._check()
        self.registered.append({"name": name, "labels": list(labels), "type": agent_type})
        return self.agent_id

    def hello(self) -> None:
        self._check()

    def runs_in_queue(self, *, labels: Sequence[str], before: datetime) -> list[str]:
        self._check()
        self.polls += 1
        agent = set(labels)
        out = []
        for stored in self.runs.values():
            run = stored.run
            start = datetime.fromisoformat(run.serialized_state.get("start_time") or before.isoformat())
            if run.state not in SCHEDULED_STATES or start > before:
                continue
            if set(run.labels) - agent or (not run.labels and agent):
                continue
            out.append(run.id)
        return out[:25]

    def flow_runs(self, ids: Sequence[str], *, retry_buffer: datetime) -> list[FlowRun]:
        self._check()
        return [self.runs[i].run for i in ids if i in self.runs and self.runs[i].run.state == "Scheduled"]

    def set_flow_run_state(self, run_id: str, version: int | None, state: Mapping[str, Any]) -> None:
        self._check()
        with self._lock:
            current = self.runs[run_id].run.state
            if state["type"] == "Submitted" and current not in SCHEDULED_STATES | {"Pending"}:
                raise SubmissionConflict("State update failed: this run has already been submitted.")
            if state["type"] == "Submitted":
                self.runs[run_id].agent_id = self.agent_id
        self._write(run_id, state)

    def set_flow_run_states(self, updates: Sequence[StateUpdate]) -> None:
        self._check()
        self.batches += 1
        for update in updates:
            self.set_flow_run_state(update.run_id, update.version, update.state)

    def set_task_run_state(self, task_run_id: str, version: int | None, state: Mapping[str, Any]) -> None:
        self._check()
        self.task_run_states.setdefault(task_run_id, []).append(dict(state))
        with self._lock:
            for run_id, task_runs in self.task_runs.items():
                self.task_runs[run_id] = [
                    replace(tr, serialized_state=dict(state)) if tr.id == task_run_id else tr
                    for tr in task_runs
                ]

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        self._check()
        self.heartbeats.append(list(run_ids))

    def running_task_runs(self, run_id: str) -> list[TaskRunInfo]:
        self._check()
        return [tr for tr in self.task_runs.get(run_id, []) if tr.state in ("Running", "Cancelling")]

    def write_run_logs(self, logs: Sequence[RunLog]) -> None:
        self._check()
        with self._lock:
            self.logs.extend(logs)

    def run_statuses(self, ids: Sequence[str]) -> dict[str, RunStatus]:
        self._check()
        return {
            i: RunStatus(i, self.runs[i].run.state, self.runs[i].run.version) for i in ids if i in self.runs
        }

    def runs_of_agent(self, agent_id: str, states: Sequence[str]) -> list[FlowRun]:
        self._check()
        return [s.run for s in self.runs.values() if s.agent_id == agent_id and s.run.state in states]

    def last_log_time(self, run_id: str, name: str) -> datetime | None:
        self._check()
        times = [e.timestamp for e in self.logs if e.flow_run_id == run_id and e.name == name and e.timestamp]
        return max(times) if times else None

    def wait_for_queue_change(self, after: int | None, timeout: float) -> int | None:
        self._check()
        if not self.notifies:
            return None
        with self._lock:
            if after is not None and after == self.queue_version:
                self._queue_changed.wait(min(timeout, 0.5))
            return self.queue_version


@dataclass
class FakeContainer:
    id: str
    name: str
    body: Mapping[str, Any]
    status: str = "created"
    exit_code: int | None = None
    oom_killed: bool = False
    output: bytes = b""
    networks: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    stop_requests: list[float] = field(default_factory=list)


class FakeRuntime:
    """A Docker daemon in memory. Tests move containers along with ``finish``."""

    def __init__(self, images: Sequence[str] = ()) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.images = set(images)
        self.pulled: list[str] = []
        self.volumes: set[str] = set()
        self.removed: list[str] = []
        self.created: list[str] = []  # every container ever created, by id
        self.available = True
        self.fail_start = False
        self.daemon = DaemonInfo(id="daemon-1", version="20.10.24", api_version="1.41", os_type="linux")
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)

    def _check(self) -> None:
        if not self.available:
            raise RuntimeUnavailable("fake daemon is down")

    # -- test helpers -----------------------------------------------------------------------

    def finish(self, container_id: str, exit_code: int, *, output: bytes = b"", oom: bool = False) -> None:
        with self._lock:
            c = self.containers[container_id]
            c.status, c.exit_code, c.oom_killed = "exited", exit_code, oom
            c.output += output
            self._ended.notify_all()

    def by_run(self, run_id: str) -> FakeContainer | None:
        for c in self.containers.values():
            if c.body.get("Labels", {}).get("io.prefect.flow-run-id") == run_id:
                return c
        return None

    def running(self) -> list[FakeContainer]:
        return [c for c in self.containers.values() if c.status == "running"]

    # -- the ContainerRuntime port ------------------------------------------------------------

    def ping(self) -> DaemonInfo:
        self._check()
        return self.daemon

    def pull_image(self, reference: str, credentials: RegistryCredentials | None = None) -> ImageInfo:
        self._check()
        self.pulled.append(reference)
        self.images.add(reference)
        return ImageInfo(id="sha256:" + reference)

    def ensure_volume(self, name: str, labels: Mapping[str, str]) -> bool:
        self._check()
        created = name not in self.volumes
        self.volumes.add(name)
        return created

    def create_container(self, name: str, body: Mapping[str, Any]) -> str:
        self._check()
        with self._lock:
            if any(c.name == name for c in self.containers.values()):
                raise ContainerNameConflict(f"Conflict. The container name {name!r} is already in use")
            if body["Image"] not in self.images:
                raise ImageNotFound(f"No such image: {body['Image']}")
            cid = uuid.uuid4().hex + uuid.uuid4().hex
            self.containers[cid] = FakeContainer(cid, name, body)
            self.created.append(cid)
            return cid

    def connect_network(self, container_id: str, network: str) -> None:
        self._check()
        self.containers[container_id].networks.append(network)

    def start_container(self, container_id: str) -> None:
        self._check()
        if self.fail_start:
            from dockyard.domain.errors import RuntimeRequestFailed

            raise RuntimeRequestFailed("fake start failure")
        c = self.containers[container_id]
        c.status, c.started_at = "running", datetime.now(UTC)

    def inspect_container(self, container_id: str) -> ContainerState | None:
        self._check()
        c = self.containers.get(container_id)
        return None if c is None else self._state(c)

    def _state(self, c: FakeContainer) -> ContainerState:
        return ContainerState(
            id=c.id,
            name=c.name,
            status=c.status,
            labels=dict(c.body.get("Labels", {})),
            exit_code=c.exit_code,
            oom_killed=c.oom_killed,
            started_at=c.started_at,
        )

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ContainerState]:
        self._check()
        with self._lock:
            found = []
            for c in self.containers.values():
                have = c.body.get("Labels", {})
                if all(k in have and (v is None or have[k] == v) for k, v in labels.items()):
                    state = self._state(c)
                    # Like the real adapter: only ended containers come with times and codes.
                    found.append(state if state.ended else replace(state, started_at=None))
            return found

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        self._check()
        with self._lock:
            c = self.containers.get(container_id)
            if c is None or c.status != "running":
                return
            c.stop_requests.append(grace_seconds)
            c.status, c.exit_code = "exited", 143
            self._ended.notify_all()

    def remove_container(self, container_id: str) -> None:
        self._check()
        with self._lock:
            if self.containers.pop(container_id, None) is not None:
                self.removed.append(container_id)

    def container_logs(self, container_id: str, tail: int | None = None) -> bytes:
        self._check()
        lines = self.containers[container_id].output.splitlines(keepends=True)
        return b"".join(lines[-tail:] if tail else lines)

    def follow_logs(
        self, container_id: str, *, timestamps: bool = False, since: datetime | None = None
    ) -> Iterator[bytes]:
        """Output is released when the container ends. With timestamps, line i of the
        output is stamped i seconds after the container started (a stand-in for Docker)."""
        self._check()
        with self._lock:
            while container_id in self.containers and self.containers[container_id].status == "running":
                self._ended.wait(0.05)
            c = self.containers.get(container_id)
            data = c.output if c else b""
            start = (c.started_at if c else None) or datetime(2026, 1, 1, tzinfo=UTC)
        if not timestamps:
            if data:
                yield data
            return
        for i, line in enumerate(data.splitlines(keepends=True)):
            moment = start + timedelta(seconds=i)
            if since is not None and moment < since.replace(microsecond=0):
                continue
            yield moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z ").encode() + line


class FakeLeases:
    """One host's agent leases: a second holder of (name, daemon) is refused until the first
    releases (ends). Agents sharing one FakeLeases run on one host, one after another."""

    def __init__(self) -> None:
        self.lease_ids: dict[tuple[str, str], str] = {}
        self.holders: dict[tuple[str, str], str] = {}  # (name, daemon) -> live instance
        self._last: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def acquire(self, agent: str, daemon: str, instance: str) -> Lease:
        key = (agent, daemon)
        with self._lock:
            if key in self.holders:
                raise AgentNameInUse(agent, f"instance {self.holders[key]}")
            lease_id = self.lease_ids.setdefault(key, "lease-" + uuid.uuid4().hex[:8])
            previous = self._last.get(key)
            self.holders[key] = self._last[key] = instance
            return Lease(lease_id, previous_holder=previous)

    def release(self, lease: Lease) -> None:
        with self._lock:
            for key in [key for key in self.holders if self.lease_ids[key] == lease.id]:
                del self.holders[key]


class FakeOutput:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def line(self, run_name: str, text: str) -> None:
        with self._lock:
            self.lines.append((run_name, text))
