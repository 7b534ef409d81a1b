"""ServerContainer: how the embedded backend is put together.

Store (SQLite, or PostgreSQL for a ``postgresql://`` URL) -> domain use cases -> GraphQL API
and dashboard -> one WSGI app, plus the background services (scheduler, zombie killer,
Lazarus) and the metrics of it all (``/metrics``). Nested in the composition root as
``Container.server``; tests override ``store`` or ``clock`` as they need.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from dependency_injector import containers, providers
from prometheus_client import make_wsgi_app

from dockyard.adapters.dashboard.app import DashboardWsgiApp
from dockyard.adapters.dashboard.mount import DashboardAndApi, WsgiApp
from dockyard.adapters.dashboard.sessions import SessionKeeper
from dockyard.adapters.graphql_api.deadlines import RequestDeadlines
from dockyard.adapters.graphql_api.executor import GraphQLApi
from dockyard.adapters.graphql_api.limits import QueryLimits
from dockyard.adapters.graphql_api.wsgi import DEFAULT_MAX_BODY, GraphQLWsgiApp
from dockyard.adapters.prometheus import PrometheusServerMetrics
from dockyard.adapters.sql.location import is_postgres_url
from dockyard.adapters.sqlite import SqliteRunStore
from dockyard.adapters.system_clock import SystemClock
from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.notifications import QueueSignal
from dockyard.domain.server.service import ServerService
from dockyard.domain.server.services import BackgroundServices, ServicesSettings

if TYPE_CHECKING:  # psycopg is loaded only for a server on PostgreSQL
    from dockyard.adapters.postgres import PostgresRunStore
    from dockyard.adapters.postgres.notify import PostgresQueueRelay


def connect_store(
    location: str, *, deadlines: RequestDeadlines | None = None, migrate: bool = True, pool_size: int = 20
) -> SqliteRunStore | PostgresRunStore:
    """The store at ``location``: a ``postgresql://`` URL, else a SQLite file. A statement of
    a request past its deadline is interrupted (SQLite) or cancelled (PostgreSQL)."""
    if is_postgres_url(location):
        from dockyard.adapters.postgres import PostgresRunStore

        watch = deadlines.current_check if deadlines else None
        return PostgresRunStore(location, pool_size=pool_size, statement_watch=watch, migrate=migrate)
    interrupted = deadlines.current_expired if deadlines else None
    return SqliteRunStore(location, interrupted=interrupted, migrate=migrate)


def open_store(
    location: str, deadlines: RequestDeadlines, migrate: bool | None, pool_size: int | None
) -> Iterator[SqliteRunStore | PostgresRunStore]:
    # A configuration given whole (from_dict) may leave these out: the defaults then.
    store = connect_store(
        location, deadlines=deadlines, migrate=migrate is not False, pool_size=pool_size or 20
    )
    try:
        yield store
    finally:
        store.close()


def server_metrics(service: ServerService) -> PrometheusServerMetrics:
    """The server's metrics, in a registry of their own; runs by state read at each scrape."""
    return PrometheusServerMetrics(runs_by_state=service.views.counts.by_state)


def metrics_app(metrics: PrometheusServerMetrics, enabled: bool | None) -> WsgiApp | None:
    """``/metrics``, unless turned off (``enabled`` False; not set means on)."""
    return None if enabled is False else make_wsgi_app(metrics.registry)


def open_queue_relay(location: str) -> Iterator[PostgresQueueRelay | None]:
    """Servers sharing a PostgreSQL database wake each other's agents; a SQLite file is one
    server's (others on it see new runs at their agents' next poll)."""
    if not is_postgres_url(location):
        yield None
        return
    from dockyard.adapters.postgres.notify import PostgresQueueRelay

    relay = PostgresQueueRelay(location)
    try:
        yield relay
    finally:
        relay.close()


def queue_signal_for(max_waiters: int, relay: PostgresQueueRelay | None) -> QueueSignal:
    signal = QueueSignal(max_waiters=max_waiters, publish=relay.publish if relay else None)
    if relay is not None:
        relay.listen(signal.changed_elsewhere)
    return signal


class ServerContainer(containers.DeclarativeContainer):
    config = providers.Configuration(
        default={
            "api_key": None,
            "max_body_size": DEFAULT_MAX_BODY,
            "max_listeners": 8,
            "limits": None,
            "metrics": True,
            "migrate": True,
            "pool_size": 20,
        }
    )

    # What one request may ask; the deadlines every request works against
    limits = providers.Singleton(lambda given: given or QueryLimits(), config.limits)
    deadlines = providers.Singleton(lambda limits: RequestDeadlines(limits.time_limit), limits)

    # Gateways
    clock = providers.Singleton(SystemClock)
    # db_path: a SQLite file or a postgresql:// URL
    store = providers.Resource(
        open_store,
        location=config.db_path,
        deadlines=deadlines,
        migrate=config.migrate,
        pool_size=config.pool_size,
    )
    queue_relay = providers.Resource(open_queue_relay, location=config.db_path)

    # Use cases
    queue_signal = providers.Singleton(
        queue_signal_for, max_waiters=config.max_listeners.as_(int), relay=queue_relay
    )
    deps = providers.Singleton(Dependencies, store=store, clock=clock, queue_signal=queue_signal)
    # What the background services do; `dockyard server start` overrides it from its options.
    services_settings = providers.Object(ServicesSettings())
    service = providers.Singleton(ServerService, deps=deps, scheduling=services_settings.provided.scheduler)
    metrics = providers.Singleton(server_metrics, service=service)
    services = providers.Singleton(
        BackgroundServices, service=service, settings=services_settings, metrics=metrics
    )

    # The API
    api = providers.Singleton(GraphQLApi, service=service, limits=limits, deadlines=deadlines)
    api_app = providers.Singleton(
        GraphQLWsgiApp,
        api=api,
        api_key=config.api_key,
        max_body=config.max_body_size.as_(int),
        metrics=metrics,
    )

    # The dashboard, on the same port: pages and its forms to it, the rest to the API
    sessions = providers.Singleton(SessionKeeper, api_key=config.api_key)
    dashboard = providers.Singleton(DashboardWsgiApp, service=service, sessions=sessions)
    # GET /metrics: open like /health (scrapers send no credentials); --no-metrics turns it off.
    metrics_wsgi = providers.Singleton(metrics_app, metrics=metrics, enabled=config.metrics)
    app = providers.Singleton(DashboardAndApi, dashboard=dashboard, api=api_app, metrics=metrics_wsgi)
