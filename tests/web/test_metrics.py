"""Prometheus text exposition of Counter, Gauge and Histogram."""

from __future__ import annotations

import asyncio
import http.client

import pytest

from robotfleet_nodes.web import App, HttpServer, Registry, Request, Response, metrics_response
from robotfleet_nodes.web.metrics import Counter, Histogram

GOLDEN = """\
# HELP http_requests_total HTTP requests by method and status.
# TYPE http_requests_total counter
http_requests_total{method="GET",status="200"} 3.0
http_requests_total{method="POST",status="422"} 1.0
# HELP robots_online Robots online.\\nPer fleet.
# TYPE robots_online gauge
robots_online 7.0
# HELP zone_label Escaping check.
# TYPE zone_label gauge
zone_label{zone="a\\"b\\\\c\\nd"} -1.5
# HELP request_seconds Request latency.
# TYPE request_seconds histogram
request_seconds_bucket{le="0.1"} 1
request_seconds_bucket{le="1.0"} 2
request_seconds_bucket{le="+Inf"} 3
request_seconds_sum 5.55
request_seconds_count 3
"""


def small_registry() -> Registry:
    registry = Registry()
    requests = registry.counter(
        "http_requests_total", "HTTP requests by method and status.", ["method", "status"]
    )
    requests.labels(method="POST", status="422").inc()
    requests.labels("GET", "200").inc(2)
    requests.labels(method="GET", status="200").inc()
    registry.gauge("robots_online", "Robots online.\nPer fleet.").set(7)
    registry.gauge("zone_label", "Escaping check.", ["zone"]).labels(zone='a"b\\c\nd').dec(1.5)
    latency = registry.histogram("request_seconds", "Request latency.", buckets=[0.1, 1.0])
    for value in (0.05, 0.5, 5.0):
        latency.observe(value)
    return registry


def test_render_matches_golden_text() -> None:
    assert small_registry().render() == GOLDEN


def test_histogram_labels_and_boundaries() -> None:
    hist = Histogram("h", "H.", ["zone"], buckets=[1, 2])
    child = hist.labels(zone="z1")
    child.observe(1)  # le is inclusive
    child.observe(2.5)
    text = hist.render()
    assert 'h_bucket{zone="z1",le="1.0"} 1\n' in text
    assert 'h_bucket{zone="z1",le="2.0"} 1\n' in text
    assert 'h_bucket{zone="z1",le="+Inf"} 2\n' in text
    assert 'h_count{zone="z1"} 2\n' in text


def test_label_and_name_errors() -> None:
    registry = Registry()
    counter = registry.counter("c_total", "C.", ["a"])
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels(b="x")
    with pytest.raises(ValueError, match=r"use \.labels"):
        counter.inc()
    with pytest.raises(ValueError, match="only go up"):
        counter.labels(a="x").inc(-1)
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("c_total", "again")
    with pytest.raises(ValueError, match="invalid metric name"):
        Counter("1bad", "x")
    with pytest.raises(ValueError, match="reserved label"):
        Histogram("h", "x", ["le"])
    with pytest.raises(ValueError, match="strictly increasing"):
        Histogram("h", "x", buckets=[2, 1])


async def test_metrics_endpoint_content_type() -> None:
    app = App()
    registry = small_registry()

    @app.get("/metrics")
    async def metrics(req: Request) -> Response:
        return metrics_response(registry)

    def fetch(port: int) -> tuple[str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            return resp.getheader("Content-Type", ""), resp.read().decode()
        finally:
            conn.close()

    async with HttpServer(app, "127.0.0.1", 0) as server:
        content_type, text = await asyncio.to_thread(fetch, server.port)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert text == GOLDEN


async def test_server_records_its_own_metrics() -> None:
    app = App()
    registry = Registry()

    @app.get("/metrics")
    async def metrics(req: Request) -> Response:
        return metrics_response(registry)

    def fetch(port: int, path: str) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path)
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    async with HttpServer(app, "127.0.0.1", 0, metrics=registry) as server:
        await asyncio.to_thread(fetch, server.port, "/missing")
        await asyncio.to_thread(fetch, server.port, "/metrics")
        text = await asyncio.to_thread(fetch, server.port, "/metrics")
    assert 'http_requests_total{method="GET",code="404"} 1.0\n' in text
    assert 'http_requests_total{method="GET",code="200"} 1.0\n' in text
    assert 'http_request_duration_seconds_count{method="GET"} 2\n' in text
    assert "# TYPE http_connections gauge\nhttp_connections " in text  # value races with closes
