"""Prometheus metrics: the metrics ports implemented with ``prometheus_client``.

Each process (an agent, a server) keeps its metrics in a ``CollectorRegistry`` of its own,
never the library's global one, so agents embedded side by side, and tests, do not mix
their counts.
"""

from dockyard.adapters.prometheus.agent import PrometheusAgentMetrics
from dockyard.adapters.prometheus.exposition import exposition
from dockyard.adapters.prometheus.server import PrometheusServerMetrics

__all__ = ["PrometheusAgentMetrics", "PrometheusServerMetrics", "exposition"]
