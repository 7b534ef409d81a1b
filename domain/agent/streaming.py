"""Following containers' output: to the agent's stdout (``--show-flow-logs``) and, for runs
whose output is shipped (``ship_logs``), to the backend as run logs.

One thread per followed container reads its output as Docker hands it out, timestamped, so
an agent that restarts resumes where the backend's logs end. Before a run's outcome is
recorded, ``finish`` ships the last of its output, including what no stream of this
process read (the container ended while no agent ran, or its stream broke off).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from dockyard.domain.agent.labels import ships_logs
from dockyard.domain.agent.model import RunLog
from dockyard.domain.agent.outbox import LogBatch
from dockyard.domain.agent.output import CONTAINER_LOG_NAME, LineSplitter, split_timestamp
from dockyard.domain.agent.runtime_state import ContainerState
from dockyard.domain.agent.tracker import TrackedRun
from dockyard.domain.errors import DockyardError
from dockyard.domain.log_fields import about_run
from dockyard.ports.backend import Backend
from dockyard.ports.container_runtime import WorkloadRuntime
from dockyard.ports.output import FlowOutput

log = logging.getLogger("dockyard.agent")

MAX_LOG_BYTES = 1_000_000  # of one run's output kept as run logs
BATCH_LINES = 200


class RunOutput:
    """One run's output lines as run logs, sent in batches of ``batch_lines``, up to
    ``max_bytes``: lines beyond are dropped, with one note saying so."""

    def __init__(
        self,
        run_id: str,
        send: Callable[[Sequence[RunLog]], None],
        *,
        max_bytes: int = MAX_LOG_BYTES,
        batch_lines: int = BATCH_LINES,
    ) -> None:
        self._run_id = run_id
        self._max_bytes = max_bytes
        # Bounded by the byte cap, not by a count: a backend away for a while loses nothing.
        self._batch = LogBatch(send, batch_size=batch_lines, max_pending=None)
        self._kept_bytes = 0
        self._truncated = False
        self._lock = threading.Lock()

    @property
    def truncated(self) -> bool:
        return self._truncated

    def add(self, line: str, timestamp: datetime | None = None) -> None:
        with self._lock:
            if self._truncated:
                return
            size = len(line.encode("utf-8", "replace")) + 1
            if self._kept_bytes + size > self._max_bytes:
                self._truncated = True
                note = (
                    f"Output truncated: only the first {self._max_bytes} bytes of this run's output "
                    "were kept as run logs."
                )
                entry = RunLog(self._run_id, note, "WARNING", CONTAINER_LOG_NAME)
            else:
                self._kept_bytes += size
                entry = RunLog(self._run_id, line, "INFO", CONTAINER_LOG_NAME, timestamp)
        self._batch.put(entry)

    def flush(self, attempts: int = 1) -> bool:
        """Send what is pending; False if the backend could not take it (kept for later)."""
        return any(self._batch.flush() for _ in range(attempts))


@dataclass
class _Stream:
    """One container's output being followed."""

    output: RunOutput | None  # None: shown on stdout only
    position: datetime | None  # the instant of the last line read (or where reading resumed)
    thread: threading.Thread | None = None


class OutputStreamer:
    def __init__(
        self,
        *,
        backend: Backend,
        runtime: WorkloadRuntime,
        output: FlowOutput | None = None,
        show_flow_logs: bool = False,
        max_log_bytes: int = MAX_LOG_BYTES,
    ) -> None:
        self._backend = backend
        self._runtime = runtime
        self._stdout = output if show_flow_logs else None
        self._max_log_bytes = max_log_bytes
        self._streams: dict[str, _Stream] = {}
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def follow(self, tracked: TrackedRun, *, resume: bool = False) -> None:
        """Stream a running container's output to stdout and/or the backend, as configured.
        ``resume``: the container was adopted after a restart, so output shipped before it
        is not shipped again."""
        if not (self._stdout is not None or tracked.ship_logs) or tracked.container_id is None:
            return
        since = self._shipped_until(tracked.run_id) if resume and tracked.ship_logs else None
        with self._lock:
            current = self._streams.get(tracked.run_id)
            if current is not None and current.thread is not None and current.thread.is_alive():
                return
            output = self._run_output(tracked.run_id) if tracked.ship_logs else None
            stream = _Stream(output=output, position=since)
            stream.thread = threading.Thread(
                target=self._stream,
                args=(tracked, stream, since),
                name=f"output-{tracked.run_id[:8]}",
                daemon=True,
            )
            self._streams[tracked.run_id] = stream
        stream.thread.start()

    def finish(self, run_id: str, ended: ContainerState | None = None, *, wait: bool = True) -> None:
        """Ship the last of a run's output before its outcome is recorded: what its stream
        still holds, then, for an ``ended`` container whose output is shipped, what no stream
        of this process read (it ended while the agent was down, or its stream broke off).
        ``wait``: give the stream a moment to end (its container has ended or is gone); not
        for a workload that never ran (a Swarm task no node took), whose stream ends only
        once it is removed."""
        with self._lock:
            stream = self._streams.pop(run_id, None)
        if stream is not None:
            if stream.thread is not None and wait:
                stream.thread.join(timeout=5.0)  # the container has ended, so its stream ends promptly
            if stream.output is not None:
                stream.output.flush(attempts=3)
        if ended is not None and ships_logs(ended.labels):
            self._catch_up(run_id, ended.id, stream)

    def flush(self) -> None:
        """Send what every stream holds (a quiet container's last lines wait for this)."""
        with self._lock:
            outputs = [stream.output for stream in self._streams.values() if stream.output is not None]
        for output in outputs:
            output.flush()

    def close(self) -> None:
        """Stop following output: the agent is going away, and the next one to start
        resumes where the backend's logs end."""
        self._closed.set()

    @property
    def active_streams(self) -> int:
        with self._lock:
            threads = [stream.thread for stream in self._streams.values()]
        return sum(1 for thread in threads if thread is not None and thread.is_alive())

    # -- reading ----------------------------------------------------------------------------

    def _run_output(self, run_id: str) -> RunOutput:
        return RunOutput(run_id, self._backend.write_run_logs, max_bytes=self._max_log_bytes)

    def _shipped_until(self, run_id: str) -> datetime | None:
        try:
            return self._backend.last_log_time(run_id, CONTAINER_LOG_NAME)
        except DockyardError as exc:
            log.warning(
                "Could not tell how much output of run %s was shipped; resending it: %s",
                run_id,
                exc,
                extra=about_run(run_id),
            )
            return None

    def _stream(self, tracked: TrackedRun, stream: _Stream, since: datetime | None) -> None:
        assert tracked.container_id is not None
        splitter = LineSplitter()

        def emit(lines: list[str]) -> None:
            for moment, line in _lines_after(lines, since):  # before: shipped before a restart
                if self._stdout is not None:
                    self._stdout.line(tracked.run_name, line)
                if stream.output is not None:
                    stream.output.add(line, moment)
                stream.position = moment or stream.position

        try:
            # Docker's timestamps date each line, so a restarted agent knows where to resume.
            for chunk in self._runtime.follow_logs(tracked.container_id, timestamps=True, since=since):
                if self._closed.is_set():
                    return
                emit(splitter.feed(chunk))
        except DockyardError as exc:
            log.debug("Output stream of flow run %s ended: %s", tracked.run_id, exc)
        finally:
            if not self._closed.is_set():
                emit(splitter.flush())
            if stream.output is not None:
                stream.output.flush()

    def _catch_up(self, run_id: str, container_id: str, stream: _Stream | None) -> None:
        if stream is not None:
            since = stream.position  # None: this process read from the start, and nothing yet
        else:
            try:
                since = self._backend.last_log_time(run_id, CONTAINER_LOG_NAME)
            except DockyardError as exc:
                log.warning(
                    "Could not tell how much output of run %s was shipped: %s",
                    run_id,
                    exc,
                    extra=about_run(run_id),
                )
                return
        output, splitter, found = self._run_output(run_id), LineSplitter(), 0
        try:
            for chunk in self._runtime.follow_logs(container_id, timestamps=True, since=since):
                for moment, line in _lines_after(splitter.feed(chunk), since):
                    output.add(line, moment)
                    found += 1
            for moment, line in _lines_after(splitter.flush(), since):
                output.add(line, moment)
                found += 1
        except DockyardError as exc:
            log.warning(
                "Could not read the rest of the output of flow run %s: %s",
                run_id,
                exc,
                extra=about_run(run_id),
            )
        if found:
            log.info(
                "Shipping %d line(s) of flow run %s that no output stream had read",
                found,
                run_id,
                extra=about_run(run_id),
            )
        if not output.flush(attempts=3):
            log.warning(
                "Could not ship the rest of the output of flow run %s", run_id, extra=about_run(run_id)
            )


def _lines_after(stamped: list[str], since: datetime | None) -> Iterator[tuple[datetime | None, str]]:
    """Docker's timestamped lines as (instant, text), without those from ``since`` or before."""
    for text in stamped:
        moment, line = split_timestamp(text)
        if since is None or moment is None or moment > since:
            yield moment, line
