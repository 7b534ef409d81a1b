"""StatementWatchdog: cancels a PostgreSQL statement once the request it serves is out of
time, as SQLite's progress handler interrupts one.

A statement run for a request is watched with the request's ``expired`` check; one thread
looks at the watched statements every ``interval`` while there are any (and sleeps while
there are none) and sends PostgreSQL a cancel request for each whose check says stop. The
statement then fails with ``QueryCanceled``. The cancel is sent while the statement is still
registered, so it can never reach a later statement of the same connection.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

log = logging.getLogger("dockyard.server.postgres")


class StatementWatchdog:
    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._watched: dict[int, tuple[psycopg.Connection[Any], Callable[[], bool]]] = {}
        self._tokens = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextmanager
    def watching(self, connection: psycopg.Connection[Any], expired: Callable[[], bool]) -> Iterator[None]:
        token = next(self._tokens)
        with self._changed:
            self._watched[token] = (connection, expired)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._watch, name="statement-watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._watched.pop(token, None)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _watch(self) -> None:
        with self._changed:
            while not self._closed:
                if not self._watched:
                    self._changed.wait()
                    continue
                self._changed.wait(self.interval)
                for token, (connection, expired) in list(self._watched.items()):
                    if expired():
                        del self._watched[token]  # cancelled once
                        try:
                            connection.cancel_safe(timeout=1.0)
                        except psycopg.Error as exc:  # the statement fails or ends on its own
                            log.debug("could not cancel a statement: %s", exc)
