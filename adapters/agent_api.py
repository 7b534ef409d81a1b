"""AgentApiServer: the agent's small HTTP API at ``agent_address``.

``GET /api/health`` answers 200 only when the agent is healthy (the daemon answers and a
poll succeeded recently), else 503 with the reasons; ``GET /api/poke`` wakes the poll loop.
Served from a background thread, on the host and port ``--agent-address`` names (loopback
unless it names a host: ``setting_values.parse_agent_address``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dockyard.domain.agent.health import HealthReport

log = logging.getLogger("dockyard.agent.api")


class AgentApiServer:
    def __init__(
        self, host: str, port: int, *, health: Callable[[], HealthReport], poke: Callable[[], None]
    ) -> None:
        handler = _handler(health, poke)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="agent-api", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        log.info("Agent API listening on http://%s:%d (/api/health, /api/poke)", *self.address)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2.0)


def _handler(health: Callable[[], HealthReport], poke: Callable[[], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "dockyard-agent"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/api/health":
                report = health()
                body: dict[str, object] = {
                    "status": "ok" if report.healthy else "unhealthy",
                    "reasons": list(report.reasons),
                }
                body.update(report.details)
                self._send(HTTPStatus.OK if report.healthy else HTTPStatus.SERVICE_UNAVAILABLE, body)
            elif path == "/api/poke":
                poke()
                self._send(HTTPStatus.OK, None)
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})

        def _send(self, status: HTTPStatus, body: object) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _not_allowed(self) -> None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"})

        do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s - %s", self.address_string(), format % args)

    return Handler
