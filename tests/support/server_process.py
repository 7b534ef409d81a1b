"""``dockyard server start`` as a real process, for e2e and compat tests.

    with running_server(tmp_path / "dockyard.db") as server:
        requests.post(server.url, json={"query": "{ hello }"})

The database is a SQLite file or a ``postgresql://`` URL (whose log goes to ``log_dir``).
The server listens on a free port on 127.0.0.1 (plus docker0 unless ``docker_bridge`` is
off), writes its log to ``server.log_path``, and is stopped (SIGTERM, then SIGKILL) when
the block ends, even on failure. A test module that imports the ``dockyard_server``
fixture from here gets a fresh server per test on the ``server_database`` fixture's
database: a temporary SQLite file (tests/conftest.py), or, in a module that also imports
``server_database_each``, each of SQLite and a new PostgreSQL database in turn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

DOCKYARD = Path(sys.executable).parent / "dockyard"


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    port: int
    db_path: Path | str  # a SQLite file or a postgresql:// URL
    log_path: Path
    process: subprocess.Popen[bytes]
    api_key: str | None = None

    def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        """POST one document; return the whole response body (``data`` and ``errors``)."""
        sent = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        response = requests.post(
            self.url, json={"query": query, "variables": variables}, headers=sent, timeout=30
        )
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: Mapping[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        """Like ``graphql`` but fails the test on errors; returns ``data``."""
        body = self.graphql(query, variables, **headers)
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait, SIGKILL if needed; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return int(self.process.returncode)


def start_server(
    db_path: Path | str,
    *,
    log_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    docker_bridge: bool = False,
    api_key: str | None = None,
    port: int | None = None,
    log_level: str = "DEBUG",
    ready_timeout: float = 30.0,
) -> ServerProcess:
    """Start the server and wait until /health answers; raise with its log if it does not."""
    port = port or free_port()
    if isinstance(db_path, Path):
        log_path = db_path.with_suffix(".server.log")
    else:
        assert log_dir is not None, "a server on a PostgreSQL URL needs a log_dir for its log"
        log_path = log_dir / f"server-{port}.log"
    bridge = "--docker-bridge" if docker_bridge else "--no-docker-bridge"
    args = [str(DOCKYARD), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--db", str(db_path), "--log-level", log_level, bridge, *extra_args]
    if api_key:
        args += ["--api-key", api_key]
    full_env = {**os.environ, **(env or {})}
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, env=full_env)
    server = ServerProcess(f"http://127.0.0.1:{port}", port, db_path, log_path, process, api_key)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockyard server exited with {process.returncode}:\n{server.log()}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"dockyard server did not become healthy in {ready_timeout}s:\n{server.log()}")


@contextlib.contextmanager
def running_server(db_path: Path | str, **options: Any) -> Iterator[ServerProcess]:
    server = start_server(db_path, **options)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dockyard_server(server_database: Path | str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A dockyard server on a fresh database (``server_database``)."""
    with running_server(server_database, log_dir=tmp_path) as server:
        yield server


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(name="server_database", params=DATABASES)
def server_database_each(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Each test of a module importing this runs on a SQLite file, then on a new PostgreSQL
    database."""
    if request.param == "sqlite":
        return tmp_path / "dockyard.db"
    url: str = request.getfixturevalue("fresh_postgres")
    return url
