"""A registry's metrics as a scrape answer: Prometheus' text format, or OpenMetrics when
the scraper asks for it (``Accept``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder


def exposition(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The body and its content type."""
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
