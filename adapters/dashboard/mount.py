"""One port for both faces of the server: the dashboard and the GraphQL API.

Pages, assets and the dashboard's own forms go to the dashboard; ``GET /metrics`` to the
metrics app (if the server serves metrics); everything else (every POST to ``/`` or
``/graphql``, ``/health``) to the GraphQL app, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Dashboard(Protocol):
    def serves(self, method: str, path: str) -> bool: ...

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]: ...


METRICS_PATHS = frozenset({"/metrics", "/metrics/"})


class DashboardAndApi:
    def __init__(self, dashboard: Dashboard, api: WsgiApp, metrics: WsgiApp | None = None) -> None:
        self.dashboard = dashboard
        self.api = api
        self.metrics = metrics

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        if self.metrics is not None and path in METRICS_PATHS and method in ("GET", "HEAD"):
            return self.metrics(environ, start_response)
        chosen = self.dashboard if self.dashboard.serves(method, path) else self.api
        return chosen(environ, start_response)
