"""Serving the API with waitress on one or more addresses.

Flow-run containers reach the host as ``host.docker.internal``, which is the docker0
bridge's gateway address; a server bound only to 127.0.0.1 is invisible to them. So besides
the addresses asked for, the server can also listen on docker0's own address, found with
the SIOCGIFADDR ioctl (no Docker needed). It never binds the wildcard address unless told to.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import socket
import struct
from collections.abc import Sequence
from typing import Any

from waitress.server import MultiSocketServer, create_server

from dockyard.domain.errors import ConfigurationError

log = logging.getLogger(__name__)

_SIOCGIFADDR = 0x8915


def interface_address(name: str = "docker0") -> str | None:
    """The IPv4 address of network interface ``name``, or None when it has none."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as probe:
        try:
            request = struct.pack("256s", name.encode()[:15])
            reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(reply[20:24])


def _bindable(host: str) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
        try:
            probe.bind((host, 0))
        except OSError:
            return False
    return True


def listen_hosts(hosts: Sequence[str], *, docker_bridge: bool) -> list[str]:
    """The addresses to bind: ``hosts`` in order, plus docker0's when asked and present."""
    chosen = list(dict.fromkeys(hosts))
    if docker_bridge:
        bridge = interface_address("docker0")
        if bridge is None:
            log.info("no docker0 interface: flow containers will not reach this server through it")
        elif bridge not in chosen and "0.0.0.0" not in chosen:
            if _bindable(bridge):
                chosen.append(bridge)
            else:
                log.warning("cannot bind docker0's address %s; not listening there", bridge)
    return chosen


class ApiServer:
    """A waitress server for one WSGI app on several addresses."""

    def __init__(self, app: Any, hosts: Sequence[str], port: int, *, threads: int, max_body: int) -> None:
        listen = " ".join(f"[{h}]:{port}" if ":" in h else f"{h}:{port}" for h in hosts)
        try:
            self._server = create_server(
                app,
                listen=listen,
                threads=threads,
                ident="dockyard",
                # waitress refuses bodies past this itself; the app answers anything past
                # its own, lower limit with a GraphQL error.
                max_request_body_size=max_body * 2 + 1024 * 1024,
                clear_untrusted_proxy_headers=True,
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc

    @property
    def addresses(self) -> list[tuple[str, int]]:
        if isinstance(self._server, MultiSocketServer):
            return [(str(h), int(p)) for h, p in self._server.effective_listen]
        # A single TCP server (the only other kind created here) exposes its own address.
        server: Any = self._server
        return [(str(server.effective_host), int(server.effective_port))]

    @property
    def urls(self) -> list[str]:
        return [f"http://[{h}]:{p}" if ":" in h else f"http://{h}:{p}" for h, p in self.addresses]

    def run(self) -> None:
        """Serve until ``close()``, SIGINT or a SystemExit in the main thread."""
        self._server.run()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if not isinstance(self._server, MultiSocketServer):
                self._server.task_dispatcher.shutdown()
            self._server.close()
