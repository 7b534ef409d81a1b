"""Servers sharing a PostgreSQL database wake each other's waiting agents (LISTEN/NOTIFY)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from dockyard.adapters.postgres.notify import PostgresQueueRelay
from dockyard.domain.server.notifications import QueueSignal
from dockyard.entrypoints.server_container import queue_signal_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_servers(postgres_db: str) -> Iterator[tuple[QueueSignal, QueueSignal]]:
    relays = [PostgresQueueRelay(postgres_db, poll=0.2) for _ in range(2)]
    try:
        signals = [queue_signal_for(8, relay) for relay in relays]
        time.sleep(0.5)  # both listening
        yield signals[0], signals[1]
    finally:
        for relay in relays:
            relay.close()


def test_a_change_on_one_server_wakes_an_agent_waiting_on_the_other(
    two_servers: tuple[QueueSignal, QueueSignal],
) -> None:
    here, there = two_servers
    seen = there.version
    woke: list[tuple[int, float]] = []

    def long_poll() -> None:
        began = time.monotonic()
        woke.append((there.wait(seen, 30.0), time.monotonic() - began))

    waiter = threading.Thread(target=long_poll)
    waiter.start()
    time.sleep(0.3)
    before = here.version
    here.bump()
    waiter.join(10)
    assert woke, "the agent on the other server was not woken"
    version, waited = woke[0]
    assert version != seen and waited < 5
    time.sleep(0.5)  # its own notice comes back to the first server too: it is skipped
    assert here.version == before + 1


def test_a_relay_that_cannot_reach_the_database_never_fails_the_bump() -> None:
    relay = PostgresQueueRelay("postgresql://nobody@127.0.0.1:1/none", retry_delay=0.1, poll=0.1)
    try:
        signal = queue_signal_for(8, relay)
        before = signal.version
        signal.bump()  # logged, not raised: agents elsewhere poll on their backoff
        assert signal.version == before + 1
    finally:
        began = time.monotonic()
        relay.close()
        assert time.monotonic() - began < 5
