"""The composition root: the one dependency-injector container that wires dockyard.

Sub-containers group the providers of each application (the agent, the embedded server, the
``dockyard run`` commands' client); this module is the only place that knows how they fit
together. The CLI builds one in its root group (``ctx.obj``); an embedding program or a test
overrides any provider (``container.agent.runtime.override(...)``).
"""

from __future__ import annotations

from dependency_injector import containers, providers

from dockyard.entrypoints.agent_container import AgentContainer
from dockyard.entrypoints.client_container import ClientContainer
from dockyard.entrypoints.server_container import ServerContainer


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    agent = providers.Container(AgentContainer)
    server = providers.Container(ServerContainer, config=config.server)
    client = providers.Container(ClientContainer, config=config.client)
