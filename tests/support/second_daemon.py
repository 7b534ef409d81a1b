"""A second, restartable Docker daemon on a unix socket, for tests that must stop a daemon
under a running agent without touching the main one.

It has its own data, exec and pid paths and its own network namespace (a daemon's network
set-up is host-wide; see support/tls_daemon.py), no bridge, and no live-restore: stopping
it stops its containers, as a daemon restart on a real host would.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker

from support.tls_daemon import _remove_tree, _tail


class SecondDaemon:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.log = root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        (root / "daemon.json").write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.base_url, version="1.41", timeout=30)

    def start(self, within: float = 90.0) -> None:
        command = [
            "unshare", "--net", "dockerd",
            f"--config-file={self.root / 'daemon.json'}", f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}", f"--pidfile={self.root / 'docker.pid'}",
            f"--host={self.base_url}", "--bridge=none", "--iptables=false", "--ip-masq=false",
            "--ip-forward=false", "--shutdown-timeout=2",
        ]  # fmt: skip
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + within
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.process.returncode}:\n{_tail(self.log)}")
            if self._answers():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not answer within {within}s:\n{_tail(self.log)}")
            time.sleep(0.2)

    def _answers(self) -> bool:
        probe = self.client()
        try:
            return bool(probe.ping())
        except Exception:
            return False
        finally:
            probe.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def load_image(self, main: docker.DockerClient, tag: str) -> None:
        """Copy an image from the main daemon (no registry here)."""
        data = b"".join(main.images.get(tag).save(named=True))
        client = self.client()
        try:
            client.images.load(io.BytesIO(data).getvalue())
        finally:
            client.close()


@contextlib.contextmanager
def second_daemon() -> Iterator[SecondDaemon]:
    root = Path(tempfile.mkdtemp(prefix="dy2-", dir="/tmp"))  # short: unix socket paths are limited
    daemon = SecondDaemon(root)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        _remove_tree(root)
