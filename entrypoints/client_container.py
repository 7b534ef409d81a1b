"""ClientContainer: what the ``dockyard run`` commands talk to a backend with.

Nested in the composition root as ``Container.client``; a command sets ``config.api_url``
and ``config.api_key`` from its options, then asks for ``client``.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests
from dependency_injector import containers, providers

from dockyard.adapters.graphql_transport import GraphQLTransport
from dockyard.adapters.run_client import RunClient


def _http_session() -> Iterator[requests.Session]:
    session = requests.Session()
    try:
        yield session
    finally:
        session.close()


class ClientContainer(containers.DeclarativeContainer):
    config = providers.Configuration()

    # Gateways
    http_session = providers.Resource(_http_session)

    # Adapters
    transport = providers.Singleton(
        GraphQLTransport,
        session=http_session,
        url=config.api_url,
        api_key=config.api_key,
        timeout=15.0,
        attempts=3,
    )
    client = providers.Singleton(RunClient, transport=transport)
