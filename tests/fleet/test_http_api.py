"""The fleet's HTTP API over a real socket: every route's shape, status and bad input."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel
from shared_helpers import http_call, http_request
from topology import FakeZone, eventually, fast_area_config, fleet_service, nats_context, small_fleet

from robotfleet_nodes.area.node import AreaNode
from robotfleet_nodes.fleet.http_api import FleetOut, OrderOut

TIMEOUT = 10.0


ORDER_KEYS = {
    "id",
    "state",
    "area_id",
    "zone_id",
    "robot_id",
    "task",
    "priority",
    "target",
    "attempts",
    "error",
    "created",
    "updated",
    "history",
}


async def test_work_order_routes(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        base = fleet.base_url
        status, order = await http_call(
            base,
            "POST",
            "/api/work-orders",
            {"area_id": "area-1", "task": "pick", "id": "h-1", "target": {"x": 1, "y": 2.5}},
        )
        assert status == 201
        assert set(order) == ORDER_KEYS
        assert (
            order["state"] == "PENDING" and order["priority"] == 5 and order["target"] == {"x": 1.0, "y": 2.5}
        )
        assert order["created"].endswith("Z") and order["history"][0]["state"] == "PENDING"
        assert set(order["history"][0]) == {"state", "at", "by", "note"}

        status, again = await http_call(
            base, "POST", "/api/work-orders", {"area_id": "area-1", "task": "x", "id": "h-1"}
        )
        assert status == 200 and again["task"] == "pick"

        status, second = await http_call(
            base, "POST", "/api/work-orders", {"area_id": "area-1", "task": "move", "priority": 9}
        )
        assert status == 201 and second["id"] != "h-1" and second["target"] is None

        status, got = await http_call(base, "GET", "/api/work-orders/h-1")
        assert status == 200 and got["id"] == "h-1" and set(got) == ORDER_KEYS
        status, missing = await http_call(base, "GET", "/api/work-orders/nope")
        assert status == 404 and "nope" in missing["error"]

        status, listing = await http_call(base, "GET", "/api/work-orders")
        assert status == 200 and listing["total"] == 2
        assert [o["id"] for o in listing["items"]] == [second["id"], "h-1"], "newest first"
        status, limited = await http_call(
            base, "GET", "/api/work-orders?limit=1&state=PENDING&area_id=area-1"
        )
        assert status == 200 and len(limited["items"]) == 1 and limited["total"] == 2
        status, none = await http_call(base, "GET", "/api/work-orders?state=COMPLETED")
        assert status == 200 and none == {"items": [], "total": 0}

        status, cancelled = await http_call(base, "POST", "/api/work-orders/h-1/cancel")
        assert status == 200 and cancelled["state"] == "CANCELLED"
        status, _ = await http_call(base, "POST", "/api/work-orders/nope/cancel")
        assert status == 404

        # a final order: 409
        await fleet.service.submit(area_id="area-1", task="move", order_id="h-done")
        from robotfleet_nodes.fleet.protocol import OrderEvents, nats_transport_of, now_stamp
        from robotfleet_nodes.msg import WorkOrder, WorkOrderUpdate

        events = OrderEvents(nats_transport_of(fleet.service.context.transport))
        await events.publish(
            WorkOrderUpdate(
                order_id="h-done", attempt=1, state=WorkOrder.STATE_FAILED, stamp=now_stamp(), note="x"
            )
        )
        await eventually(lambda: fleet.service.orders["h-done"].state == WorkOrder.STATE_FAILED)
        status, conflict = await http_call(base, "POST", "/api/work-orders/h-done/cancel")
        assert status == 409 and "FAILED" in conflict["error"]


async def test_bad_input_is_4xx_with_details(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        base = fleet.base_url

        async def post(body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
            return await http_call(base, "POST", "/api/work-orders", body, raw)

        status, err = await post({"area_id": "area-1", "task": "pick", "priority": 12})
        assert status == 422 and any(d["loc"] == "priority" for d in err["details"])
        status, err = await post({"task": "pick"})
        assert status == 422 and any(d["loc"] == "area_id" for d in err["details"])
        status, err = await post({"area_id": "area-1", "target": "somewhere"})
        assert status == 422 and any(d["loc"].startswith("target") for d in err["details"])
        status, err = await post({"area_id": "area-1", "target": {"x": 1}})
        assert status == 422
        status, err = await post({"area_id": "area-9", "task": "pick"})
        assert status == 422 and err["details"][0]["loc"] == "area_id"
        status, err = await post({"area_id": "area-1", "id": "has space"})
        assert status == 422 and any(d["loc"] == "id" for d in err["details"])
        status, err = await post({"area_id": "area-1", "priority": "high"})
        assert status == 422
        status, err = await post([1, 2])
        assert status == 422
        status, err = await post(raw=b"{not json")
        assert status == 400 and "error" in err
        status, err = await post(raw=b"")
        assert status == 400

        status, err = await http_call(base, "GET", "/api/work-orders?limit=abc")
        assert status == 400 and any(d["loc"] == "limit" for d in err["details"])
        for query in ("limit=0", "limit=1001", "state=LOST"):
            status, err = await http_call(base, "GET", f"/api/work-orders?{query}")
            assert status == 400, query
        status, err = await http_call(base, "GET", "/api/robots?state=SLEEPING")
        assert status == 400
        status, err = await http_call(base, "DELETE", "/api/work-orders/x")
        assert status == 405


async def test_views_health_metrics_openapi_and_dashboard(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with (
        nats_context(nats_url, unique) as ctx,
        fleet_service(nats_url, unique) as fleet,
    ):
        zone = FakeZone("zone-1", context=ctx, capacity=3)
        area = AreaNode(fast_area_config("area-1", ["zone-1"]), context=ctx)
        await zone.start()
        await area.start()
        base = fleet.base_url
        await eventually(fleet.service.zones, what="zone summaries at the fleet")

        status, body = await http_call(base, "GET", "/api/fleet")
        assert status == 200 and set(body) == {
            "areas",
            "zones",
            "robots",
            "robots_online",
            "robot_kinds",
            "work_orders",
            "instance",
            "role",
            "leader",
            "leader_url",
        }
        # one instance (failover.instance_id "fleet"): it leads at once
        assert (body["instance"], body["role"], body["leader"]) == ("fleet", "leader", "fleet")
        assert body["areas"] == 1 and body["zones"] == 1 and body["robots"] == 10
        assert set(body["work_orders"]) == {
            "PENDING",
            "DISPATCHED",
            "ASSIGNED",
            "EXECUTING",
            "COMPLETED",
            "FAILED",
            "CANCELLED",
        }
        status, areas = await http_call(base, "GET", "/api/areas")
        assert status == 200 and areas[0]["id"] == "area-1" and areas[0]["zones"] == ["zone-1"]
        assert set(areas[0]) == {"id", "zones", "robots", "robots_online", "capacity", "silent_zones"}
        status, zones = await http_call(base, "GET", "/api/zones?area_id=area-1")
        assert status == 200 and zones[0]["id"] == "zone-1" and zones[0]["area_id"] == "area-1"
        assert set(zones[0]) == {
            "id",
            "area_id",
            "robots",
            "robots_online",
            "idle",
            "busy",
            "charging",
            "error",
            "queued",
            "active",
            "battery_mean",
            "state",
        }
        assert zones[0]["state"] == "CONNECTED"
        status, zones = await http_call(base, "GET", "/api/zones?area_id=area-2")
        assert status == 200 and zones == []
        status, robots = await http_call(base, "GET", "/api/robots?zone_id=zone-1&state=IDLE")
        assert status == 200 and robots == []  # the fake zone sends no robot table

        status, health = await http_call(base, "GET", "/healthz")
        assert status == 200 and health == {
            "status": "ok",
            "broker": "connected",
            "instance": "fleet",
            "role": "leader",
            "leader": "fleet",
            "leader_url": None,  # fleet_service() does not advertise one
        }

        await http_call(base, "POST", "/api/work-orders", {"area_id": "area-1", "task": "pick"})
        status, text, content_type = await asyncio.to_thread(http_request, base, "GET", "/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        orders = {s.labels["state"]: s.value for s in families["rfos_work_orders"].samples}
        assert orders["PENDING"] + orders["DISPATCHED"] == 1 and set(orders) >= {"COMPLETED", "FAILED"}
        for name in ("rfos_dispatch_latency_seconds", "rfos_robots_online", "rfos_robots"):
            assert name in families, name
        assert families["rfos_messages_in"].type == "counter"  # rfos_messages_in_total samples
        requests = families["http_requests"].samples
        assert any(s.labels == {"method": "GET", "code": "200"} and s.value >= 1 for s in requests)

        status, spec = await http_call(base, "GET", "/openapi.json")
        assert status == 200 and spec["openapi"].startswith("3.")
        for path in (
            "/api/work-orders",
            "/api/work-orders/{id}",
            "/api/work-orders/{id}/cancel",
            "/api/fleet",
            "/api/areas",
            "/api/zones",
            "/api/robots",
            "/api/events",
            "/healthz",
            "/metrics",
        ):
            assert path in spec["paths"], path

        status, page, content_type = await asyncio.to_thread(http_request, base, "GET", "/")
        assert status == 200 and content_type.startswith("text/html")
        assert "dashboard" in page.lower()

    (tmp_path / "index.html").write_text("<html><body>my dashboard</body></html>")
    (tmp_path / "app.js").write_text("console.log(1)")
    async with fleet_service(nats_url, unique, static_dir=tmp_path) as fleet:
        status, page, _ = await asyncio.to_thread(http_request, fleet.base_url, "GET", "/")
        assert status == 200 and "my dashboard" in page
        status, _, content_type = await asyncio.to_thread(
            http_request, fleet.base_url, "GET", "/static/app.js"
        )
        assert status == 200 and "javascript" in content_type
        status, _, _ = await asyncio.to_thread(
            http_request, fleet.base_url, "GET", "/static/../../etc/passwd"
        )
        assert status == 404


async def read_event(reader: asyncio.StreamReader, name: str) -> dict[str, Any]:
    """Read SSE events until one named ``name``; return its JSON data."""
    event = None
    while True:
        line = (await asyncio.wait_for(reader.readline(), TIMEOUT)).decode().rstrip("\r\n")
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: ") and event == name:
            data: dict[str, Any] = json.loads(line[len("data: ") :])
            return data


def exactly(model: type[BaseModel], data: Any) -> bool:
    """True if ``data`` is exactly what ``model`` validates and dumps it to."""
    return model.model_validate(data).model_dump(mode="json") == data


async def test_events_stream_delivers_an_order_after_a_post(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        reader, writer = await asyncio.open_connection("127.0.0.1", fleet.server.port)
        try:
            writer.write(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            await writer.drain()
            fleet_event = await read_event(reader, "fleet")
            assert exactly(FleetOut, fleet_event)
            status, _ = await http_call(
                fleet.base_url, "POST", "/api/work-orders", {"area_id": "area-1", "id": "sse-1"}
            )
            assert status == 201
            order = await read_event(reader, "order")
            assert order["id"] == "sse-1" and order["state"] == "PENDING"
            assert exactly(OrderOut, order)
        finally:
            writer.close()
            await writer.wait_closed()


async def test_end_to_end_order_completes(nats_url: str, unique: str) -> None:
    async with small_fleet(nats_url, unique, areas=1, zones=2, robots=4) as topo:
        base = topo.base_url
        status, order = await http_call(
            base,
            "POST",
            "/api/work-orders",
            {"area_id": "area-1", "task": "pick", "target": {"x": 3, "y": 4}},
        )
        assert status == 201

        async def completed() -> bool:
            status, body = await http_call(base, "GET", f"/api/work-orders/{order['id']}")
            return status == 200 and body["state"] == "COMPLETED"

        await eventually(completed, timeout=30, what="the order COMPLETED")
        status, body = await http_call(base, "GET", f"/api/work-orders/{order['id']}")
        states = [h["state"] for h in body["history"]]
        assert states[0] == "PENDING" and states[-1] == "COMPLETED"
        assert "EXECUTING" in states and body["robot_id"].startswith("robot-") and body["zone_id"]

        async def robots_known() -> bool:
            status, robots = await http_call(base, "GET", "/api/robots")
            return status == 200 and len(robots) == 4

        await eventually(robots_known, what="robot tables at the fleet")
        status, fleet = await http_call(base, "GET", "/api/fleet")
        assert fleet["robots"] == 4 and fleet["zones"] == 2 and fleet["work_orders"]["COMPLETED"] == 1
