"""Prometheus metrics with ``prometheus_client``: a registry per service and ``/metrics``.

Each service owns a :class:`~prometheus_client.CollectorRegistry` (several fleets in one test
process must not share the process-wide default registry) and registers its metrics with
``registry=``::

    registry = new_registry()
    requests = Counter("http_requests_total", "HTTP requests.", ["method"], registry=registry)
    requests.labels(method="GET").inc()
    response = metrics_response(registry)      # text format 0.0.4
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.responses import Response

__all__ = ["CONTENT_TYPE", "metrics_response", "new_registry"]

#: The exposition format ``/metrics`` answers with.
CONTENT_TYPE = CONTENT_TYPE_LATEST


def new_registry() -> CollectorRegistry:
    """An empty registry (no process or platform collectors) for one service's metrics."""
    return CollectorRegistry(auto_describe=True)


def metrics_response(registry: CollectorRegistry) -> Response:
    """The registry in Prometheus text format, as a response."""
    return Response(generate_latest(registry), 200, media_type=CONTENT_TYPE)
