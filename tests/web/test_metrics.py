"""``/metrics`` from prometheus_client: a registry per service, parsed back by its own parser."""

from __future__ import annotations

import asyncio
import http.client

from prometheus_client import Counter, Gauge
from prometheus_client.parser import text_string_to_metric_families

from robotfleet_nodes.web import App, HttpServer, Request, Response, metrics_response, new_registry


def get(port: int, path: str) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read().decode()
    finally:
        conn.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition text, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metrics_app(registry: object) -> App:
    app = App()

    @app.get("/metrics")
    async def metrics(req: Request) -> Response:
        return metrics_response(registry)  # type: ignore[arg-type]

    return app


async def test_registries_are_separate_and_parse_back() -> None:
    first, second = new_registry(), new_registry()
    Counter("robots_seen_total", "Robots seen.", ["zone"], registry=first).labels(zone='a"b\\c').inc(3)
    Gauge("robots_seen_total_x", "Another registry.", registry=second).set(1)
    async with HttpServer(metrics_app(first), "127.0.0.1", 0) as server:
        status, content_type, text = await asyncio.to_thread(get, server.port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=")
    parsed = samples(text)
    assert parsed[("robots_seen_total", (("zone", 'a"b\\c'),))] == 3.0
    assert not any(name.startswith("robots_seen_total_x") for name, _ in parsed)
    assert not any(name.startswith(("process_", "python_")) for name, _ in parsed)


async def test_server_records_its_own_metrics() -> None:
    registry = new_registry()
    async with HttpServer(metrics_app(registry), "127.0.0.1", 0, metrics=registry) as server:
        await asyncio.to_thread(get, server.port, "/missing")
        await asyncio.to_thread(get, server.port, "/metrics")
        _, _, text = await asyncio.to_thread(get, server.port, "/metrics")
    parsed = samples(text)
    assert parsed[("http_requests_total", (("code", "404"), ("method", "GET")))] == 1.0
    assert parsed[("http_requests_total", (("code", "200"), ("method", "GET")))] == 1.0
    assert parsed[("http_request_duration_seconds_count", (("method", "GET"),))] == 2.0
    assert parsed[("http_connections", ())] >= 1.0  # this request's own connection
    assert parsed[("http_event_streams", ())] == 0.0
