"""Runs and agents for the e2e supervision tests (containers and Swarm services alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.agent_process import AgentProcess
from support.dockyard_cli import dockyard_run
from support.server_process import ServerProcess

BUSYBOX = "dockyard-test/busybox:1"


def start_agent(server: ServerProcess, agents: list[AgentProcess], tmp_path: Path, label: str, *args: str,
                name: str | None = None) -> AgentProcess:  # fmt: skip
    agent = AgentProcess(server.url, log_dir=tmp_path, name=name, args=["--label", label, "--no-pull", *args])
    agents.append(agent.start())
    return agent


def create(server: ServerProcess, label: str, command: str, *extra: str, image: str = BUSYBOX) -> str:
    args = ["create", "--image", image, "--label", label, "--command", command, *extra]
    return str(dockyard_run(server.url, *args)["id"])


def states(run: dict[str, Any]) -> list[str]:
    return [s["state"] for s in run["states"]]
