"""The Docker side of the agent benchmark: container events as the timing source, the raw
create+start loop that is the daemon's limit, the streaming image, and removal by label."""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

FLOW_RUN_ID = "io.prefect.flow-run-id"
FLOW_ID = "io.prefect.flow-id"
TEST_IMAGE_LABEL = "org.dockyard.test-image"


@dataclass(frozen=True)
class ContainerEvent:
    action: str
    time: float  # daemon time, seconds since the epoch (same clock as this host)
    container_id: str
    attributes: Mapping[str, str]


class EventRecorder:
    """Records the daemon's container events for containers carrying one label, from a
    background thread, so nothing is missed however fast containers come and go (agents
    remove them right after they exit)."""

    def __init__(
        self, client: docker.DockerClient, label: str, actions: Iterable[str] = ("start", "destroy")
    ):
        self._client = client
        self._filters: dict[str, Any] = {"type": "container", "label": [label], "event": list(actions)}
        self._events: list[ContainerEvent] = []
        self._changed = threading.Condition()
        self._stream: Any = None
        self._thread = threading.Thread(target=self._read, name="docker-events", daemon=True)

    def __enter__(self) -> EventRecorder:
        # `since` a moment ago: the stream is open before anything this phase does.
        self._stream = self._client.events(since=int(time.time()) - 1, filters=self._filters, decode=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()
        self._thread.join(timeout=5)

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # closing the stream ends the loop with an error
            for raw in self._stream:
                actor = raw.get("Actor") or {}
                event = ContainerEvent(
                    action=str(raw.get("Action") or raw.get("status")),
                    time=int(raw["timeNano"]) / 1e9,
                    container_id=str(actor.get("ID") or raw.get("id")),
                    attributes=dict(actor.get("Attributes") or {}),
                )
                with self._changed:
                    self._events.append(event)
                    self._changed.notify_all()

    def events(self, action: str) -> list[ContainerEvent]:
        """The first event of this action per container, oldest first."""
        with self._changed:
            seen: dict[str, ContainerEvent] = {}
            for event in self._events:
                if event.action == action and event.container_id not in seen:
                    seen[event.container_id] = event
        return sorted(seen.values(), key=lambda e: e.time)

    def wait_for(self, action: str, count: int, timeout: float) -> list[ContainerEvent]:
        """Wait until ``count`` containers have had ``action``; return what was seen by then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.events(action)) < count and time.monotonic() < deadline:
                self._changed.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        return self.events(action)

    def started_run(self, run_id: str, timeout: float) -> ContainerEvent | None:
        """The start event of the container of one flow run."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self._events:
                    if event.action == "start" and event.attributes.get(FLOW_RUN_ID) == run_id:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(timeout=min(1.0, remaining))


@dataclass(frozen=True)
class RawLoopResult:
    began: float  # epoch seconds, just before the first create
    starts: list[ContainerEvent]
    client_cpu_seconds: float  # this process's CPU for the loop (docker SDK client side)


def raw_create_start_loop(
    client: docker.DockerClient,
    *,
    image: str,
    command: str,
    labels: Mapping[str, str],
    event_label: str,
    count: int,
    workers: int,
    name_prefix: str,
    auto_remove: bool = False,
) -> RawLoopResult:
    """``count`` create+start calls through the low-level SDK on ``workers`` threads: the
    fastest an agent could possibly go, with nothing else in the way. ``event_label``
    (``key=value``, one of ``labels``) tells this loop's containers apart. ``auto_remove``:
    the daemon removes each container when it exits, as Prefect's agent asks it to."""
    host_config = client.api.create_host_config(auto_remove=True) if auto_remove else None

    def one(index: int) -> None:
        created = client.api.create_container(
            image,
            command=command,
            labels=dict(labels),
            name=f"{name_prefix}-{index:03d}",
            host_config=host_config,
        )
        client.api.start(created["Id"])

    with EventRecorder(client, event_label, actions=("start",)) as recorder:
        cpu, began = time.process_time(), time.time()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, range(count)))
        cpu = time.process_time() - cpu
        starts = recorder.wait_for("start", count, timeout=30)
    return RawLoopResult(began=began, starts=starts, client_cpu_seconds=cpu)


def remove_labelled(client: docker.DockerClient, label: str, workers: int = 8) -> int:
    """Force-remove every container carrying ``label`` (``key=value``); return how many."""
    found = client.containers.list(all=True, filters={"label": label}, ignore_removed=True)

    def remove(container: Any) -> None:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            container.remove(force=True)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(remove, found))
    return len(found)


def build_streaming_image(client: docker.DockerClient, base: str, tag: str, lines: int, every: float) -> bool:
    """An image whose ``prefect`` prints ``lines`` lines, one every ``every`` seconds, so
    either agent's default command (``prefect execute flow-run``) streams output. Returns
    True if it was built now (False: it was already there)."""
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(tag)
        return False
    script = (
        "#!/bin/sh\n"
        "i=0\n"
        f"while [ $i -lt {lines} ]; do\n"
        '  echo "flow run output line $i: the quick brown fox jumps over the lazy dog"\n'
        "  i=$((i+1))\n"
        f"  sleep {every}\n"
        "done\n"
    )
    dockerfile = f"FROM {base}\nCOPY prefect /usr/local/bin/prefect\nLABEL {TEST_IMAGE_LABEL}=true\n"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text, mode in (("Dockerfile", dockerfile, 0o644), ("prefect", script, 0o755)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True)
    return True


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
