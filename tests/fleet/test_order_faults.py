"""Issue 13 on the fleet side, on real NATS: bad input never stored, no NaN in JSON, 503 during a
broker outage, stale completions recorded but not applied, an order refused as such FAILED."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from shared_helpers import http_call
from topology import eventually, fleet_service, nats_context

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.fleet.protocol import (
    OrderEvents,
    OrderStore,
    area_name,
    nats_transport_of,
    now_stamp,
)
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import serialize
from robotfleet_nodes.msg import AreaSummary, WorkOrder, WorkOrderUpdate
from robotfleet_nodes.node import Context, Node

SubmitWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/SubmitWorkOrder")
AssignWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/AssignWorkOrder")
CancelWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/CancelWorkOrder")


def raw_request(
    base: str, method: str, path: str, body: bytes | None = None, *, timeout: float = 15.0
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, raw body)`` of one blocking request (the body sent as these bytes)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


async def call(
    base: str, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    return await asyncio.to_thread(raw_request, base, method, path, body)


def strict_json(payload: bytes) -> Any:
    """Parse as a browser would: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in a JSON answer: {payload[:300]!r}")

    return json.loads(payload, parse_constant=refuse)


def order_body(**fields: str) -> bytes:
    """A submission written by hand, each value verbatim (so NaN, 1e999 ... reach the server)."""
    parts = {"area_id": '"area-1"', "task": '"pick"', **fields}
    return ("{" + ",".join(f'"{k}":{v}' for k, v in parts.items()) + "}").encode()


BAD_SUBMISSIONS: list[tuple[str, bytes, str]] = [
    # (case, body, the field the answer must name or "" when the parser refuses the document)
    ("NaN x", order_body(id='"b-1"', target='{"x":NaN,"y":0}'), ""),
    ("Infinity y", order_body(id='"b-2"', target='{"x":0,"y":Infinity}'), ""),
    ("-Infinity x", order_body(id='"b-3"', target='{"x":-Infinity,"y":0}'), ""),
    ("1e999 x", order_body(id='"b-4"', target='{"x":1e999,"y":0}'), "target.x"),
    ("-1e999 y", order_body(id='"b-5"', target='{"x":0,"y":-1e999}'), "target.y"),
    ("1e300 x", order_body(id='"b-6"', target='{"x":1e300,"y":0}'), "target.x"),
    ("just past 1e6", order_body(id='"b-7"', target='{"x":0,"y":1000000.5}'), "target.y"),
    ("int too large for a float", order_body(id='"b-8"', target='{"x":' + "9" * 400 + ',"y":0}'), "target.x"),
    ("int past 1e6", order_body(id='"b-9"', target='{"x":-1000001,"y":0}'), "target.x"),
    ("5000-digit priority", order_body(id='"b-10"', priority="1" * 5000), ""),
    ("NaN priority", order_body(id='"b-11"', priority="NaN"), ""),
    ("task with a newline", order_body(id='"b-12"', task=json.dumps("pick\nrobot-9 INFO forged")), "task"),
    ("empty task", order_body(id='"b-13"', task='""'), "task"),
    ("task starting with a digit", order_body(id='"b-14"', task='"9lives"'), "task"),
    ("task of 65 characters", order_body(id='"b-15"', task=json.dumps("t" * 65)), "task"),
    ("task with a space", order_body(id='"b-16"', task='"pick up"'), "task"),
    ("not UTF-8", b'{"area_id":"area-1","task":"\xff"}', ""),
    ("truncated", b'{"area_id":"area-1","target":{"x":1', ""),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_SUBMISSIONS, ids=[c[0] for c in BAD_SUBMISSIONS])
async def test_bad_submission_is_4xx_and_stores_nothing(
    nats_url: str, unique: str, case: str, body: bytes, field: str
) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        status, _, payload = await call(fleet.base_url, "POST", "/api/work-orders", body)
        assert 400 <= status < 500, (case, status, payload[:300])
        answer = strict_json(payload)
        assert answer["error"], case
        if field:
            assert status == 422, (case, answer)
            assert [d["loc"] for d in answer["details"]] == [field], (case, answer)
            if field == "task":
                assert "^[A-Za-z][A-Za-z0-9_.-]{0,63}$" in answer["details"][0]["msg"], answer
        assert len(fleet.service.orders) == 0, case
        status, listing = await http_call(fleet.base_url, "GET", "/api/work-orders")
        assert status == 200 and listing["total"] == 0, case


async def test_limits_themselves_are_accepted(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        for i, (task, target) in enumerate(
            [
                ("a", '{"x":1e6,"y":-1e6}'),
                ("T" + "x" * 63, '{"x":-1000000,"y":1000000}'),
                ("pick.v2-b_c", "null"),
            ]
        ):
            status, _, payload = await call(
                fleet.base_url,
                "POST",
                "/api/work-orders",
                order_body(id=f'"ok-{i}"', task=json.dumps(task), target=target),
            )
            assert status == 201, (task, payload)


async def test_submit_service_refuses_what_the_api_refuses(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet, nats_context(nats_url, unique) as ctx:
        caller = Node("caller", context=ctx)
        await caller.start()
        submit = await caller.create_client(SubmitWorkOrder, "/fleet/submit")
        bad: list[tuple[str, float, float]] = [
            ("move", math.nan, 0.0),
            ("move", 0.0, math.inf),
            ("move", -math.inf, 0.0),
            ("move", 1e300, 0.0),
            ("move", 0.0, -1e6 - 1),
            ("pick\nforged line", 0.0, 0.0),
            ("", 0.0, 0.0),
        ]
        for i, (task, x, y) in enumerate(bad):
            answer = await submit.call(
                SubmitWorkOrder.Request(
                    id=f"s-{i}", area_id="area-1", task=task, has_target=True, target_x=x, target_y=y
                )
            )
            assert not answer.accepted and answer.error, (task, x, y)
            assert ("task" if task != "move" else "target") in answer.error, answer.error
        assert len(fleet.service.orders) == 0
        good = await submit.call(
            SubmitWorkOrder.Request(id="s-ok", area_id="area-1", task="move", has_target=True, target_x=3.0)
        )
        assert good.accepted, good.error
        await caller.destroy_node()


async def test_order_stored_with_nan_target_lists_without_nan(nats_url: str, unique: str) -> None:
    # written before targets were checked: straight into the bucket
    async with nats_context(nats_url, unique) as ctx:
        store = OrderStore(nats_transport_of(ctx.transport))
        await store.ensure()
        for order_id, x, y in [("nan-1", math.nan, 1.0), ("inf-1", 2.0, math.inf), ("fine-1", 1.5, -2.0)]:
            stamp = now_stamp()
            await store.create(
                WorkOrder(
                    id=order_id,
                    area_id="area-1",
                    task="move",
                    has_target=True,
                    target_x=x,
                    target_y=y,
                    state=WorkOrder.STATE_CANCELLED,
                    created=stamp,
                    updated=stamp,
                )
            )
    async with fleet_service(nats_url, unique) as fleet:
        base = fleet.base_url
        status, _, payload = await call(base, "GET", "/api/work-orders")
        assert status == 200
        listing = strict_json(payload)
        targets = {o["id"]: o["target"] for o in listing["items"]}
        assert targets == {"nan-1": None, "inf-1": None, "fine-1": {"x": 1.5, "y": -2.0}}
        for order_id in ("nan-1", "inf-1"):
            status, _, payload = await call(base, "GET", f"/api/work-orders/{order_id}")
            assert status == 200 and strict_json(payload)["target"] is None


@asynccontextmanager
async def own_broker(tmp_path: Path) -> AsyncIterator[EmbeddedBroker]:
    broker = EmbeddedBroker(store_dir=tmp_path / "js")
    await asyncio.to_thread(broker.start)
    try:
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)


async def test_broker_outage_is_503_and_a_retry_tells_the_real_state(tmp_path: Path, unique: str) -> None:
    async with own_broker(tmp_path) as broker, fleet_service(broker.url, unique) as fleet:
        base = fleet.base_url
        status, _, _ = await call(base, "POST", "/api/work-orders", order_body(id='"before"'))
        assert status == 201

        await asyncio.to_thread(broker.kill)
        await eventually(lambda: not fleet.service.connected, timeout=15, what="the fleet to see the outage")

        status, headers, payload = await call(base, "POST", "/api/work-orders", order_body(id='"during"'))
        assert status == 503, payload[:300]
        assert int(headers["retry-after"]) >= 1 and strict_json(payload)["error"]
        status, headers, payload = await call(base, "POST", "/api/work-orders/before/cancel")
        assert status == 503 and "retry-after" in headers and strict_json(payload)["error"]
        # every other route: no 5xx but 503
        for path in ("/api/work-orders", "/api/work-orders/before", "/api/fleet", "/api/areas", "/metrics"):
            status, _, payload = await call(base, "GET", path)
            assert status == 200, (path, status, payload[:300])
        status, headers, _ = await call(base, "GET", "/healthz")
        assert status == 503 and "retry-after" in headers
        status, _, payload = await call(base, "POST", "/api/work-orders", order_body(id='"before"'))
        assert status == 200 and strict_json(payload)["state"] == "PENDING", "a known id needs no broker"

        await asyncio.to_thread(broker.restart)

        async def healthy() -> bool:
            status, _, _ = await call(base, "GET", "/healthz")
            return status == 200

        await eventually(healthy, timeout=30, what="the fleet reconnected")

        async def retried() -> tuple[int, Any]:
            status, _, payload = await call(base, "POST", "/api/work-orders", order_body(id='"during"'))
            return status, strict_json(payload)

        status, order = await retried()
        while status == 503:  # JetStream may take a moment after the reconnection
            await asyncio.sleep(0.2)
            status, order = await retried()
        assert status in (200, 201) and order["id"] == "during" and order["state"] == "PENDING", order
        status, again = await retried()
        assert status == 200 and again["created"] == order["created"]
        status, cancelled = await http_call(base, "POST", "/api/work-orders/before/cancel")
        assert status == 200 and cancelled["state"] == "CANCELLED"
        status, listing = await http_call(base, "GET", "/api/work-orders")
        assert sorted(o["id"] for o in listing["items"]) == ["before", "during"]


async def test_stale_completion_is_recorded_not_applied(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        transport = nats_transport_of(service.context.transport)
        events = OrderEvents(transport)
        await service.submit(area_id="area-1", task="move", order_id="st-1")

        def update(attempt: int, state: int, by: str, note: str = "") -> Any:
            return WorkOrderUpdate(
                order_id="st-1", attempt=attempt, state=state, by=by, note=note, stamp=now_stamp()
            )

        def order() -> Any:
            return service.orders["st-1"]

        await events.publish(update(1, WorkOrder.STATE_EXECUTING, "zone-1"))
        await events.publish(update(2, WorkOrder.STATE_DISPATCHED, "area-1", "taken back from silent zone-1"))
        await eventually(lambda: order().attempts == 2, what="attempt 2")

        stale = update(1, WorkOrder.STATE_COMPLETED, "robot-3")
        await events.publish(stale)
        await eventually(
            lambda: any("not applied" in e.note for e in order().history), what="the stale completion noted"
        )
        # redelivered (another message id: the stream's de-duplication does not hide it)
        await transport.jetstream().publish(
            events.subject("st-1"), serialize(stale), headers={"Nats-Msg-Id": f"{unique}-again"}
        )
        await events.publish(update(2, WorkOrder.STATE_ASSIGNED, "zone-2"))  # after it in the stream
        await eventually(lambda: order().state == WorkOrder.STATE_ASSIGNED, what="attempt 2 ASSIGNED")
        notes = [e.note for e in order().history if "not applied" in e.note]
        assert notes == ["attempt 1 COMPLETED by robot-3 after attempt 2 began: not applied"], notes
        assert order().attempts == 2

        status, shown = await http_call(fleet.base_url, "GET", "/api/work-orders/st-1")
        assert status == 200 and shown["state"] == "ASSIGNED"
        assert any(e["note"] == notes[0] and e["by"] == "robot-3" for e in shown["history"])

        await events.publish(update(2, WorkOrder.STATE_COMPLETED, "robot-5"))
        await eventually(lambda: order().state == WorkOrder.STATE_COMPLETED, what="attempt 2 COMPLETED")
        # a final order: a stale FAILED is recorded too, and changes nothing
        await events.publish(update(1, WorkOrder.STATE_FAILED, "robot-3", "lease lost"))
        await eventually(
            lambda: any(e.note.startswith("attempt 1 FAILED by robot-3") for e in order().history),
            what="the stale failure noted",
        )
        assert order().state == WorkOrder.STATE_COMPLETED and order().error == ""


class RefusingArea(Node):
    """An area stand-in: reports capacity and refuses every order as such (order_refused)."""

    def __init__(self, context: Context, error: str) -> None:
        super().__init__("area", context=context, namespace=area_name("area-1"))
        self.error = error
        self.calls: list[Any] = []

    async def on_start(self) -> None:
        self.pub = await self.create_publisher(AreaSummary, area_name("area-1", "summary"), 10)
        await self.create_service(AssignWorkOrder, area_name("area-1", "dispatch"), self._dispatch)
        await self.create_service(CancelWorkOrder, area_name("area-1", "cancel"), self._cancel)
        self.create_timer(0.05, self._tick)

    async def _tick(self) -> None:
        await self.pub.publish(
            AreaSummary(area_id="area-1", stamp=now_stamp(), robots_total=4, robots_online=4, capacity=4)
        )

    def _dispatch(self, request: Any) -> Any:
        self.calls.append(request)
        return AssignWorkOrder.Response(accepted=False, order_refused=True, error=self.error)

    def _cancel(self, request: Any) -> Any:
        return CancelWorkOrder.Response(accepted=True)


async def test_order_refused_by_the_area_fails_at_once(nats_url: str, unique: str) -> None:
    reason = "target (900000, 0) is outside every zone of area-1"
    async with nats_context(nats_url, unique) as ctx, fleet_service(nats_url, unique) as fleet:
        area = RefusingArea(ctx, reason)
        await area.start()
        status, order = await http_call(
            fleet.base_url,
            "POST",
            "/api/work-orders",
            {"area_id": "area-1", "task": "move", "id": "ref-1", "target": {"x": 900000, "y": 0}},
        )
        assert status == 201
        await eventually(
            lambda: fleet.service.orders["ref-1"].state == WorkOrder.STATE_FAILED, what="ref-1 FAILED"
        )
        status, order = await http_call(fleet.base_url, "GET", "/api/work-orders/ref-1")
        assert order["state"] == "FAILED" and order["error"] == reason, order
        assert order["history"][-1]["by"] == fleet.service.config.fleet_id
        assert len(area.calls) == 1, "offered once, not again and again"
        await area.destroy_node()


async def test_store_failing_while_connected_is_503_not_500(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        base = fleet.base_url
        status, _, _ = await call(base, "POST", "/api/work-orders", order_body(id='"kept"'))
        assert status == 201
        transport = nats_transport_of(fleet.service.context.transport)
        await transport.jetstream().delete_key_value(OrderStore(transport).bucket)  # the store is gone

        status, headers, payload = await call(base, "POST", "/api/work-orders", order_body(id='"lost"'))
        assert status == 503 and headers["retry-after"] == "1", payload[:300]
        assert strict_json(payload)["retry_after_s"] == 1
        status, headers, payload = await call(base, "POST", "/api/work-orders/kept/cancel")
        assert status == 503 and "retry-after" in headers, payload[:300]
        status, shown = await http_call(base, "GET", "/api/work-orders/kept")
        assert status == 200 and shown["state"] == "PENDING", "a cancel that was not stored did not happen"


async def test_an_order_stored_without_an_answer_is_adopted(nats_url: str, unique: str) -> None:
    """A create whose answer was lost may have been stored: the fleet finds and queues it."""
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        store = OrderStore(nats_transport_of(service.context.transport))
        await store.ensure()
        stamp = now_stamp()
        await store.create(  # what the broker stored while the fleet's request timed out
            WorkOrder(id="late-1", area_id="area-1", task="move", created=stamp, updated=stamp)
        )
        assert "late-1" not in service.orders
        service._adopt_later("late-1")  # what submit does after a BrokerUnavailable
        await eventually(lambda: "late-1" in service.orders, what="late-1 adopted")
        assert service.queued("area-1") == ["late-1"]
        status, again = await http_call(
            fleet.base_url, "POST", "/api/work-orders", {"area_id": "area-1", "task": "x", "id": "late-1"}
        )
        assert status == 200 and again["task"] == "move"


async def test_submission_stored_but_unanswered_is_503_then_its_real_state(
    tmp_path: Path, unique: str
) -> None:
    """The broker freezes (SIGSTOP): the create waits in its socket and times out (503), then
    the broker resumes and stores it. A retry with the same id gets 200 and the stored order;
    and the fleet queued it even before the retry."""
    async with own_broker(tmp_path) as broker, fleet_service(broker.url, unique) as fleet:
        base = fleet.base_url
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            status, headers, payload = await call(
                base, "POST", "/api/work-orders", order_body(id='"frozen-1"')
            )
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        assert status == 503 and headers["retry-after"] == "1", payload[:300]
        assert "retry" in strict_json(payload)["error"]

        await eventually(lambda: "frozen-1" in fleet.service.orders, timeout=20, what="frozen-1 adopted")
        # the freeze outlasted the leader lease: the fleet stood down, and leads again (and
        # queues its PENDING orders) once the broker answers (docs/fleet.md, "Fleet failover")
        await eventually(
            lambda: fleet.service.queued("area-1") == ["frozen-1"], timeout=10, what="frozen-1 queued"
        )
        status, _, payload = await call(base, "POST", "/api/work-orders", order_body(id='"frozen-1"'))
        order = strict_json(payload)
        assert status == 200 and order["id"] == "frozen-1" and order["state"] == "PENDING", order
        status, listing = await http_call(base, "GET", "/api/work-orders")
        assert [o["id"] for o in listing["items"]] == ["frozen-1"]
