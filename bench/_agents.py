"""The processes under test: ``dockyard server``, the dockyard agent and Prefect 1.4.1's
DockerAgent, plus the GraphQL calls that feed them runs."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from dockyard.adapters.graphql_transport import GraphQLTransport
from dockyard.adapters.run_client import RunClient, serialized_flow
from dockyard.domain.states import CORE_VERSION

REPO = Path(__file__).resolve().parent.parent
DOCKYARD = Path(sys.executable).parent / "dockyard"
PREFECT = REPO / ".venv-prefect" / "bin" / "prefect"
# Prefect's agent cannot read a flow without storage; any non-Docker storage leaves the
# image to the run config, so a module reference (never imported: the stub does not) does.
MODULE_STORAGE = {
    "flows": {},
    "secrets": [],
    "module": "bench_flow",
    "__version__": CORE_VERSION,
    "type": "Module",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(db: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``dockyard server start`` on a free port and a fresh database; waits for /health."""
    port = free_port()
    args = [str(DOCKYARD), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--db", str(db)]
    args += ["--no-docker-bridge", "--log-level", "WARNING"]
    with log.open("ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/health", timeout=1).ok:
                return process, url
        time.sleep(0.1)
    stop_process(process, signal.SIGTERM)
    raise RuntimeError(f"dockyard server did not start; see {log}")


class Api:
    """Flows, runs and agent registrations on the server under test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._transport = GraphQLTransport(requests.Session(), url, api_key=None, timeout=30.0, attempts=3)
        self._runs = RunClient(self._transport)
        self._project = self._runs.ensure_project("bench")

    def create_flow(self, name: str) -> str:
        flow = {**serialized_flow(name), "storage": MODULE_STORAGE}
        created = self._transport.execute(
            "mutation($input: create_flow_input!) { create_flow(input: $input) { id } }",
            {"input": {"project_id": self._project, "serialized_flow": flow, "set_schedule_active": False}},
        )
        return str(created["create_flow"]["id"])

    def create_run(self, flow_id: str, *, image: str, label: str, name: str) -> str:
        """A Scheduled run with a DockerRun of ``image`` and its default command, which both
        agents turn into ``prefect execute flow-run`` (the flow's core version is 1.4.1)."""
        run_config = {"type": "DockerRun", "image": image, "labels": [label], "__version__": CORE_VERSION}
        return self._runs.create_flow_run(flow_id, run_config=run_config, labels=[label], name=name)

    def registered_at(self, agent_name: str) -> float | None:
        """When the agent called register_agent (epoch seconds), or None if it has not yet."""
        found = self._transport.execute(
            "query($n: String!) { agent(where: {name: {_eq: $n}}) { created } }", {"n": agent_name}
        )["agent"]
        if not found:
            return None
        return datetime.fromisoformat(str(found[0]["created"])).timestamp()

    def wait_registered(self, agent: AgentProcess, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if agent.process.poll() is not None:
                raise RuntimeError(
                    f"{agent.kind} agent exited with {agent.process.returncode}; see {agent.log}"
                )
            registered = self.registered_at(agent.name)
            if registered is not None:
                return registered
            time.sleep(0.02)
        raise RuntimeError(f"{agent.kind} agent did not register in {timeout:.0f}s; see {agent.log}")

    def states(self, run_ids: Sequence[str]) -> dict[str, str]:
        found = self._transport.execute(
            "query($ids: [uuid!]) { flow_run(where: {id: {_in: $ids}}) { id state } }", {"ids": list(run_ids)}
        )["flow_run"]
        return {str(run["id"]): str(run["state"]) for run in found}


class AgentProcess:
    """One agent as a real process, its output in a log file."""

    def __init__(self, kind: str, args: Sequence[str], env: Mapping[str, str], name: str, log: Path):
        self.kind, self.name, self.log = kind, name, log
        self.launched = time.time()
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                list(args), stdout=out, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
            )
        self.pid = self.process.pid


def dockyard_agent(
    api: str, name: str, label: str, log: Path, *, show_flow_logs: bool, extra: Sequence[str] = ()
) -> AgentProcess:
    args = [str(DOCKYARD), "agent", "start", "--api", api, "--name", name, "--label", label, "--no-pull"]
    args += ["--show-flow-logs"] if show_flow_logs else []
    args += extra
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT__", "DOCKYARD_AGENT"))}
    return AgentProcess("dockyard", args, env, name, log)


def prefect_agent(
    api: str, name: str, label: str, log: Path, home: Path, *, show_flow_logs: bool, extra: Sequence[str] = ()
) -> AgentProcess:
    args = [str(PREFECT), "agent", "docker", "start", "--api", api, "--name", name, "--label", label]
    args += ["--no-pull", *(["--show-flow-logs"] if show_flow_logs else []), *extra]
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
    env.update(
        PREFECT__BACKEND="server",
        PREFECT__CLOUD__API=api,
        PREFECT__SERVER__ENDPOINT=api,
        PREFECT__HOME_DIR=str(home),
        PREFECT__USER_CONFIG_PATH=str(home / "config.toml"),
    )
    return AgentProcess("prefect", args, env, name, log)


def stop_process(process: subprocess.Popen[Any], sig: int, timeout: float = 20.0) -> None:
    """Ask one process we started to stop (``sig``), then kill it if it does not."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def kill_pids(pids: Sequence[int]) -> None:
    """SIGKILL processes by id: descendants of an agent we started that outlived it."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
