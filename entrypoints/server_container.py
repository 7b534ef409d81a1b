"""ServerContainer: how the embedded backend is put together.

Store (SQLite) -> domain use cases -> GraphQL API and dashboard -> one WSGI app, plus the
background services (scheduler, zombie killer, Lazarus). Nested in the composition root as
``Container.server``; tests override ``store`` or ``clock`` as they need.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dependency_injector import containers, providers

from dockyard.adapters.dashboard.app import DashboardWsgiApp
from dockyard.adapters.dashboard.mount import DashboardAndApi
from dockyard.adapters.dashboard.sessions import SessionKeeper
from dockyard.adapters.graphql_api.deadlines import RequestDeadlines
from dockyard.adapters.graphql_api.executor import GraphQLApi
from dockyard.adapters.graphql_api.limits import QueryLimits
from dockyard.adapters.graphql_api.wsgi import DEFAULT_MAX_BODY, GraphQLWsgiApp
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.adapters.system_clock import SystemClock
from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.notifications import QueueSignal
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.services import BackgroundServices, ServicesSettings


def open_store(path: str | Path, deadlines: RequestDeadlines) -> Iterator[SqliteRunStore]:
    # A statement of a request past its deadline is interrupted.
    store = SqliteRunStore(path, interrupted=deadlines.current_expired)
    try:
        yield store
    finally:
        store.close()


class ServerContainer(containers.DeclarativeContainer):
    config = providers.Configuration(
        default={"api_key": None, "max_body_size": DEFAULT_MAX_BODY, "max_listeners": 8, "limits": None}
    )

    # What one request may ask; the deadlines every request works against
    limits = providers.Singleton(lambda given: given or QueryLimits(), config.limits)
    deadlines = providers.Singleton(lambda limits: RequestDeadlines(limits.time_limit), limits)

    # Gateways
    clock = providers.Singleton(SystemClock)
    store = providers.Resource(open_store, path=config.db_path, deadlines=deadlines)

    # Use cases
    queue_signal = providers.Singleton(QueueSignal, max_waiters=config.max_listeners.as_(int))
    deps = providers.Singleton(Dependencies, store=store, clock=clock, queue_signal=queue_signal)
    # What the background services do; `dockyard server start` overrides it from its options.
    services_settings = providers.Object(ServicesSettings())
    service = providers.Singleton(ServerService, deps=deps, scheduling=services_settings.provided.scheduler)
    services = providers.Singleton(BackgroundServices, service=service, settings=services_settings)

    # The API
    api = providers.Singleton(GraphQLApi, service=service, limits=limits, deadlines=deadlines)
    api_app = providers.Singleton(
        GraphQLWsgiApp, api=api, api_key=config.api_key, max_body=config.max_body_size.as_(int)
    )

    # The dashboard, on the same port: pages and its forms to it, the rest to the API
    sessions = providers.Singleton(SessionKeeper, api_key=config.api_key)
    dashboard = providers.Singleton(DashboardWsgiApp, service=service, sessions=sessions)
    app = providers.Singleton(DashboardAndApi, dashboard=dashboard, api=api_app)
