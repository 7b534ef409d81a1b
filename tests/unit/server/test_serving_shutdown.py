"""ApiServer's stop, with a real waitress on 127.0.0.1: requests in flight finish and their
answers go out, new connections are refused, and a request that never ends is left to the
process exit instead of having its sockets closed under it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from dockyard.adapters.graphql_api.serving import ApiServer


class SlowApp:
    """Answers after ``release`` is set; ``started`` tells that a request is in."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.started.set()
        self.release.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"done"]


@contextmanager
def serving(app: SlowApp, shutdown_timeout: float) -> Iterator[tuple[ApiServer, list[Any]]]:
    server = ApiServer(app, ["127.0.0.1"], 0, threads=4, max_body=1024)
    outcome: list[Any] = []

    def loop() -> None:
        server.run()
        began = time.monotonic()
        outcome.append(server.shut_down(shutdown_timeout))
        outcome.append(time.monotonic() - began)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield server, outcome
    finally:
        app.release.set()
        server.ask_to_stop()
        thread.join(30)


def test_a_request_in_flight_gets_its_answer_before_the_server_stops() -> None:
    app = SlowApp()
    with serving(app, shutdown_timeout=5.0) as (server, outcome):
        (url,) = server.urls
        answers: list[requests.Response] = []
        client = threading.Thread(target=lambda: answers.append(requests.get(url, timeout=30)))
        client.start()
        assert app.started.wait(10)
        server.ask_to_stop()
        time.sleep(0.3)  # the loop has stopped accepting by now
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)
        app.release.set()
        client.join(30)
        assert [a.text for a in answers] == ["done"]
    assert outcome[0] is True and outcome[1] < 5.0


def test_a_request_that_never_ends_is_left_to_the_process_exit() -> None:
    app = SlowApp()
    with serving(app, shutdown_timeout=0.5) as (server, outcome):
        (url,) = server.urls
        threading.Thread(target=lambda: requests.get(url, timeout=30), daemon=True).start()
        assert app.started.wait(10)
        server.ask_to_stop()
        deadline = time.monotonic() + 10
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.05)
        assert outcome and outcome[0] is False  # its socket was not closed under it
