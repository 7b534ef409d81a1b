"""``DockerAgent``: dockyard's agent as a library, with Prefect 1's constructor.

    from dockyard.entrypoints import DockerAgent
    DockerAgent(labels=["dev"], volumes=["/data:/data:ro"], api="http://127.0.0.1:4200").start()

Arguments not given fall back to the environment (``PREFECT__CLOUD__*``, ``DOCKYARD_AGENT_*``)
and a config file, exactly as for ``dockyard agent start``. The agent is built through the
composition root, so an embedding program can override any adapter through ``container``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

from dependency_injector import providers

from dockyard.domain.agent.agent import Agent
from dockyard.domain.agent.config import AgentConfig
from dockyard.entrypoints.containers import Container
from dockyard.entrypoints.settings import resolve_agent_config

log = logging.getLogger("dockyard.agent")


class DockerAgent:
    # Positional order is Prefect 1's DockerAgent's: existing callers keep working.
    def __init__(  # noqa: PLR0917
        self,
        agent_config_id: str | None = None,
        name: str | None = None,
        labels: list[str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        max_polls: int | None = None,
        agent_address: str | None = None,
        no_cloud_logs: bool | None = False,
        base_url: str | None = None,
        no_pull: bool | None = None,
        volumes: list[str] | None = None,
        show_flow_logs: bool = False,
        network: str | None = None,
        docker_interface: bool = True,
        reg_allow_list: list[str] | None = None,
        *,
        networks: list[str] | None = None,
        docker_client_timeout: float | None = None,
        api: str | None = None,
        key: str | None = None,
        tenant_id: str | None = None,
        config_file: str | None = None,
        environ: Mapping[str, str] | None = None,
        container: Container | None = None,
        **options: Any,
    ) -> None:
        overrides: dict[str, object] = {
            "agent_config_id": agent_config_id,
            "name": name,
            "labels": labels,
            "env_vars": env_vars,
            "max_polls": max_polls,
            "agent_address": agent_address,
            "no_cloud_logs": no_cloud_logs,
            "base_url": base_url,
            "no_pull": no_pull,
            "volumes": volumes,
            "show_flow_logs": show_flow_logs,
            "network": network,
            "docker_interface": docker_interface,
            "reg_allow_list": reg_allow_list,
            "networks": networks,
            "docker_client_timeout": docker_client_timeout,
            "api": api,
            "key": key,
            "tenant_id": tenant_id,
            **options,
        }
        config = resolve_agent_config(overrides, environ=environ, config_file=config_file)
        self._setup(config, container)

    @classmethod
    def from_config(cls, config: AgentConfig, *, container: Container | None = None) -> DockerAgent:
        """An agent for settings resolved already (the CLI's path)."""
        self = cls.__new__(cls)
        self._setup(config, container)
        return self

    def _setup(self, config: AgentConfig, container: Container | None) -> None:
        self.config = config
        self.container = container or Container()
        self.container.agent.config.override(providers.Object(config))
        self._agent: Agent | None = None

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            self._agent = self.container.agent.agent()
        return self._agent

    def start(self) -> None:
        """Run until ``max_polls`` polls are done, ``stop()`` is called, or SIGTERM/SIGINT."""
        agent = self.agent
        api = self.container.agent.api_server()
        if api is not None:
            api.start()
        try:
            with _stop_on_signals(agent):
                agent.start()
        finally:
            if api is not None:
                api.stop()
            self.container.agent.shutdown_resources()

    def stop(self) -> None:
        self.agent.stop()


@contextmanager
def _stop_on_signals(agent: Agent) -> Iterator[None]:
    """SIGTERM and SIGINT wind the agent down; a second one exits at once. Signal handlers
    can only be installed from the main thread: elsewhere, the embedder calls ``stop()``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if agent.stopping:
            raise KeyboardInterrupt
        log.info("%s received: shutting down (again to force)", signal.Signals(signum).name)
        agent.stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
