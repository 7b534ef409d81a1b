"""PostgresQueueRelay: queue changes carried between the servers sharing one database.

A server bumps its own ``QueueSignal`` when a run becomes due, which answers the long polls
of the agents connected to it. With several servers on one database, the relay also sends
``NOTIFY dockyard_queue`` (after the change has committed), and a thread ``LISTEN``\\s on
its own connection and bumps this server's signal whenever another server notified: an
agent waiting on either server wakes when a run is created on the other. A server's own
notices come back to it and are skipped (the payload names the sender).

If the database cannot be reached the relay keeps trying; meanwhile agents of the other
servers see the change at their next poll, as they would without long polls. After a lost
connection the listener bumps once: it may have missed a notice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

log = logging.getLogger("dockyard.server.postgres")

CHANNEL = "dockyard_queue"


class PostgresQueueRelay:
    def __init__(self, url: str, *, retry_delay: float = 1.0, poll: float = 1.0) -> None:
        self._url = url
        self._sender = uuid.uuid4().hex
        self._retry_delay = retry_delay
        self._poll = poll
        self._publisher: psycopg.Connection[Any] | None = None
        self._publishing = threading.Lock()
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None

    def publish(self) -> None:
        """Tell the other servers the queue changed (never raises: they fall back to polls)."""
        with self._publishing:
            for attempt in (1, 2):  # a dropped connection is reopened once
                try:
                    if self._publisher is None or self._publisher.closed:
                        self._publisher = self._connect()
                    self._publisher.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._sender))
                    return
                except psycopg.Error as exc:
                    self._close_publisher()
                    if attempt == 2:
                        log.warning("Could not tell the other servers of a queue change: %s", exc)

    def listen(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change`` (on a thread of the relay's) whenever another server notifies."""
        if self._listener is None:
            self._listener = threading.Thread(
                target=self._listen, args=(on_change,), name="queue-relay", daemon=True
            )
            self._listener.start()

    def close(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.join(self._poll + 2.0)
        with self._publishing:
            self._close_publisher()

    def _listen(self, on_change: Callable[[], None]) -> None:
        connected_before = False
        while not self._stopping.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    if connected_before:
                        on_change()  # notices may have been missed while disconnected
                    connected_before = True
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=self._poll):
                            if notice.payload != self._sender:
                                on_change()
            except psycopg.Error as exc:
                if not self._stopping.is_set():
                    log.warning("Queue changes of the other servers are not heard (retrying): %s", exc)
                    self._stopping.wait(self._retry_delay)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self._url, autocommit=True, application_name="dockyard-queue-relay", connect_timeout=10
        )

    def _close_publisher(self) -> None:
        if self._publisher is not None:
            try:
                self._publisher.close()
            finally:
                self._publisher = None
