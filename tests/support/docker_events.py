"""The daemon's events while a block runs, read live.

Asking afterwards (``events(since=...)``) is not enough: the daemon replays only its last
256 events, and a busy daemon (tests on several workers, a 300-run test) makes more than
that in seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import docker


@contextmanager
def recorded_events(
    client: docker.DockerClient, filters: Mapping[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    """Every event matching ``filters`` (the Engine's: ``type``, ``event``, ``label``, ...)
    from the moment the block starts until a second after it ends; the list fills as
    they come."""
    seen: list[dict[str, Any]] = []
    stream = client.events(decode=True, filters=dict(filters))
    reader = threading.Thread(target=lambda: seen.extend(stream), name="docker-events", daemon=True)
    reader.start()
    try:
        yield seen
    finally:
        time.sleep(1.0)  # the events of the block's last moments are still on their way
        stream.close()
        reader.join(timeout=10)
