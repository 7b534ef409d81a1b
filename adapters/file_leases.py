"""FileLeases: the AgentLeases port as exclusive ``flock`` locks on files in one directory.

One file per agent name and Docker daemon. The kernel drops a ``flock`` when the file
descriptor holding it closes, and it closes when the process ends however it ends (kill -9
too): a lease never outlives its process and never needs cleaning up. The file stays. It
keeps the lease id, which the next holder must get again, and names the current holder (pid
and instance) for the message that refuses a second agent.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import socket
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockyard.domain.errors import AgentNameInUse, ConfigurationError
from dockyard.ports.agent_lease import Lease


class FileLeases:
    def __init__(self, directory: str | Path) -> None:
        self._dir = Path(directory)
        self._held: dict[str, int] = {}  # lease id -> the descriptor holding its lock
        self._lock = threading.Lock()

    def path(self, agent: str, daemon: str) -> Path:
        # Readable for the operator, unique by the hash (names may hold any character).
        digest = hashlib.sha256(f"{agent}\0{daemon}".encode()).hexdigest()[:16]
        readable = re.sub(r"[^A-Za-z0-9_.-]", "_", agent)[:40]
        return self._dir / f"{readable}-{digest}.lock"

    def acquire(self, agent: str, daemon: str, instance: str) -> Lease:
        path = self.path(agent, daemon)
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot keep the agent's lock file in {self._dir}: {exc.strerror}; "
                "choose a writable directory with --lock-dir"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            pid = holder.get("pid")
            raise AgentNameInUse(agent, f"pid {pid if pid else 'unknown'}, lock file {path}") from None
        except OSError as exc:
            os.close(fd)
            raise ConfigurationError(f"cannot lock {path}: {exc.strerror}") from None
        before = _read(fd)
        lease_id = str(before.get("lease") or uuid.uuid4())
        _write(fd, {
            "lease": lease_id, "agent": agent, "daemon": daemon, "instance": instance,
            "pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat(),
        })  # fmt: skip
        with self._lock:
            self._held[lease_id] = fd
        previous = before.get("instance")
        return Lease(lease_id, previous_holder=str(previous) if previous else None)

    def release(self, lease: Lease) -> None:
        with self._lock:
            fd = self._held.pop(lease.id, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the descriptor drops the lock


def _read(fd: int) -> dict[str, Any]:
    try:
        record = json.loads(os.pread(fd, 65536, 0) or b"{}")
    except (OSError, ValueError):
        return {}  # empty (new) or being rewritten by its holder this very moment
    return record if isinstance(record, dict) else {}


def _write(fd: int, record: dict[str, Any]) -> None:
    data = json.dumps(record).encode()
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))
