"""`dockyard agent start` as a real process, for e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import docker

from support.docker_env import remove_labelled

DOCKYARD = Path(sys.executable).parent / "dockyard"


class AgentProcess:
    """One agent process with a unique name; its containers are found (and cleaned up) by
    the ``org.dockyard.agent`` label. Its lock file goes to ``lock_dir`` (default: one per
    ``log_dir``, so agents of one test share a host); a separate one stands for another host."""

    def __init__(self, api: str, *, args: Sequence[str] = (), log_dir: Path, name: str | None = None,
                 env: dict[str, str] | None = None, lock_dir: Path | None = None) -> None:  # fmt: skip
        self.name = name or f"e2e-{uuid.uuid4().hex[:10]}"
        self.api = api
        self.args = list(args)
        self.log_path = log_dir / f"{self.name}.log"
        self.lock_dir = lock_dir or log_dir / "agent-locks"
        self.env = {**os.environ, "DOCKYARD_AGENT_LOCK_DIR": str(self.lock_dir), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def label(self) -> str:
        return f"org.dockyard.agent={self.name}"

    def start(self) -> AgentProcess:
        command = [str(DOCKYARD), "agent", "start", "--api", self.api, "--name", self.name, *self.args]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def containers(self, client: docker.DockerClient) -> list[docker.models.containers.Container]:
        # A container may go between the listing and its inspection (the agent removes
        # what it has recorded): that one is not there any more.
        return client.containers.list(all=True, filters={"label": self.label}, ignore_removed=True)

    def cleanup(self, client: docker.DockerClient) -> None:
        self.kill9()
        remove_labelled(client, self.label)


def wait_until(condition, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def sigterm(proc: AgentProcess) -> None:
    proc.stop(signal.SIGTERM)
