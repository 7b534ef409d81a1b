"""Serving the API with waitress on one or more addresses.

Flow-run containers reach the host as ``host.docker.internal``, which is the docker0
bridge's gateway address; a server bound only to 127.0.0.1 is invisible to them. So besides
the addresses asked for, the server can also listen on docker0's own address, found with
the SIOCGIFADDR ioctl (no Docker needed). It never binds the wildcard address unless told to.

Stopping is in two steps. ``ask_to_stop`` (safe in a signal handler) ends ``run``; then
``shut_down`` stops accepting connections, keeps the event loop turning while the requests
in flight finish and their answers go out, closes idle connections, and only then stops the
worker threads and closes the sockets — never under a thread still using them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from dockyard.domain.errors import ConfigurationError

log = logging.getLogger(__name__)

_SIOCGIFADDR = 0x8915
_TICK = 0.25  # the event loop's longest sleep; the stop flag is seen at least this often


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
                # Keep reading while a request runs, so a client that hangs up is noticed
                # (``waitress.client_disconnected``) and its request stops working.
                channel_request_lookahead=1,
                # A client resetting its connection is not the server's fault: no traceback.
                log_socket_errors=False,
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc
        server: Any = self._server
        several = isinstance(self._server, MultiSocketServer)
        self._map: dict[int, Any] = server.map if several else server._map
        self._dispatcher = server.task_dispatcher
        self._adj = server.adj
        # Any listener's trigger wakes the one event loop they share.
        self._trigger: Any = self._listeners()[0].trigger
        self._stop_asked = self._closed = False

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

    def _listeners(self) -> list[BaseWSGIServer]:
        return [d for d in list(self._map.values()) if isinstance(d, BaseWSGIServer)]

    def _channels(self) -> list[HTTPChannel]:
        return [d for d in list(self._map.values()) if isinstance(d, HTTPChannel)]

    def _turn(self, timeout: float) -> None:
        wasyncore.loop(timeout=timeout, map=self._map, use_poll=self._adj.asyncore_use_poll, count=1)

    def run(self) -> None:
        """Serve until ``ask_to_stop``."""
        while not self._stop_asked:
            self._turn(_TICK)

    def ask_to_stop(self) -> None:
        """End ``run`` soon. Only sets a flag and wakes the loop: safe in a signal handler."""
        self._stop_asked = True
        if not self._closed:  # a closed trigger's descriptor may belong to another file by now
            with contextlib.suppress(OSError):
                self._trigger.pull_trigger()  # without a thunk it takes no lock

    def in_flight(self) -> int:
        """Requests being served or waiting for a worker thread."""
        dispatcher = self._dispatcher
        with dispatcher.lock:
            return int(dispatcher.active_count) + len(dispatcher.queue)

    def _busy(self) -> bool:
        return self.in_flight() > 0 or any(c.requests or c.total_outbufs_len for c in self._channels())

    def shut_down(self, timeout: float) -> bool:
        """Stop accepting; let the requests in flight finish and their answers go out, for at
        most ``timeout`` seconds; stop the worker threads and close the connections. Return
        True when no request was left running (else the sockets are left to the exit)."""
        end = time.monotonic() + timeout
        for listener in self._listeners():
            # The listening socket only: its trigger stays, workers still wake the loop.
            wasyncore.dispatcher.close(listener)
        while True:
            for channel in self._channels():
                if not channel.requests and not channel.total_outbufs_len:
                    channel.handle_close()  # idle (keep-alive) or half-sent: nothing to finish
            if not self._busy() or time.monotonic() >= end:
                break
            self._turn(0.02)
        self._dispatcher.shutdown(cancel_pending=True, timeout=max(0.2, end - time.monotonic()))
        with self._dispatcher.lock:
            left = len(self._dispatcher.threads)
        if left:
            log.warning("%d request(s) still running after %.1f s; they end with the process", left, timeout)
            return False
        self._closed = True
        wasyncore.close_all(self._map)
        return True
