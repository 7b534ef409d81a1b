"""One benchmark run's belongings (server, agents, containers, image, temp dir) and the
guarantee that all of them go away, whatever happens."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import docker
import docker.errors
from _agents import AgentProcess, Api, dockyard_agent, kill_pids, prefect_agent, start_server, stop_process
from _daemon import FLOW_ID, build_streaming_image, remove_labelled, unique
from _procfs import descendants, identities, still_running, tree_cpu_seconds

IMAGE = "dockyard-test/prefect-stub:1"
STREAM_IMAGE = "dockyard-test/prefect-stub-chatty:1"
BENCH_LABEL = "org.dockyard.bench"


class Bench:
    def __init__(self, *, keep_logs: bool, agent_args: Mapping[str, Sequence[str]]) -> None:
        self.keep_logs = keep_logs
        self.agent_args = agent_args
        self.session = uuid.uuid4().hex[:10]
        self.client = docker.from_env(timeout=120)
        self.tmp = Path(tempfile.mkdtemp(prefix="dockyard-bench-agent-"))
        self.labels: list[str] = [f"{BENCH_LABEL}={self.session}"]  # containers to remove, by label
        self.agents: list[AgentProcess] = []
        self.server: subprocess.Popen[bytes] | None = None
        self.built_image = False
        self._api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            raise RuntimeError("the benchmark's server is not started")
        return self._api

    def start(self) -> Api:
        self.client.images.get(IMAGE)  # fails early if scripts/build-test-images.sh was not run
        self.built_image = build_streaming_image(self.client, IMAGE, STREAM_IMAGE, lines=200, every=0.2)
        self.server, url = start_server(self.tmp / "bench.db", self.tmp / "server.log")
        self._api = Api(url)
        return self._api

    def server_cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.server.pid) if self.server is not None else 0.0

    def run_name(self, phase: str, index: int) -> str:
        return f"bench-{self.session}-{phase}-{index:03d}"

    def new_flow(self, phase: str) -> str:
        flow_id = self.api.create_flow(f"bench-{phase}")
        self.labels.append(f"{FLOW_ID}={flow_id}")  # both agents label their containers with it
        return flow_id

    def launch(self, kind: str, label: str, *, show_flow_logs: bool) -> AgentProcess:
        name = unique(f"bench-{kind}")
        log = self.tmp / f"{name}.log"
        extra = self.agent_args.get(kind, ())
        if kind == "dockyard":
            self.labels.append(f"org.dockyard.agent={name}")
            agent = dockyard_agent(self.api.url, name, label, log, show_flow_logs=show_flow_logs, extra=extra)
        else:
            home = self.tmp / f"{name}-home"
            agent = prefect_agent(
                self.api.url, name, label, log, home, show_flow_logs=show_flow_logs, extra=extra
            )
        self.agents.append(agent)
        return agent

    def stop_agent(self, agent: AgentProcess) -> None:
        """Stop an agent the way its users do (Prefect's handles SIGINT, dockyard's SIGTERM),
        then kill any of its descendants that outlived it, by pid and start time."""
        family = identities(descendants(agent.pid)) if agent.process.poll() is None else []
        stop_process(agent.process, signal.SIGINT if agent.kind == "prefect" else signal.SIGTERM)
        kill_pids([ident[0] for ident in family if still_running(ident)])

    def close(self) -> None:
        # A second Ctrl-C must not cut the clean-up short.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._remove_everything()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _remove_everything(self) -> None:
        for agent in self.agents:
            self.stop_agent(agent)
        for label in self.labels:
            with contextlib.suppress(Exception):
                remove_labelled(self.client, label)
        if self.server is not None:
            stop_process(self.server, signal.SIGTERM)
        if self.built_image:
            with contextlib.suppress(docker.errors.APIError):
                self.client.images.remove(STREAM_IMAGE)
        if self.keep_logs:
            print(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.client.close()
