"""FleetService without HTTP: store, scheduler, back-pressure, events, restart, cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from topology import (
    FakeZone,
    eventually,
    fast_area_config,
    fleet_service,
    nats_context,
)

from robotfleet_nodes.area.node import AreaNode
from robotfleet_nodes.fleet.protocol import OrderEvents, OrderStore, nats_transport_of, now_stamp
from robotfleet_nodes.fleet.service import FleetService, SubmitError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.msg import WorkOrder, WorkOrderUpdate
from robotfleet_nodes.node import Context, Node

SubmitWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/SubmitWorkOrder")
GetWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/GetWorkOrder")
CancelWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/CancelWorkOrder")


@asynccontextmanager
async def area_with_zone(nats_url: str, root: str, capacity: int) -> AsyncIterator[tuple[FakeZone, Context]]:
    """area-1 (a real AreaNode) with one FakeZone ``zone-1``, in their own connection."""
    async with nats_context(nats_url, root) as ctx:
        zone = FakeZone("zone-1", context=ctx, capacity=capacity)
        area = AreaNode(fast_area_config("area-1", ["zone-1"]), context=ctx)
        await zone.start()
        await area.start()
        yield zone, ctx


def state(service: FleetService, order_id: str) -> int:
    return int(service.orders[order_id].state)


async def area_summaries_seen(service: FleetService, count: int) -> None:
    """Wait until ``count`` more AreaSummary messages arrived at the fleet."""
    start = messages(service, "in", "area_summary")
    await eventually(
        lambda: messages(service, "in", "area_summary") >= start + count, what=f"{count} area summaries"
    )


def messages(service: FleetService, direction: str, kind: str) -> float:
    """The fleet's ``rfos_messages_<direction>_total{kind}`` counter, as /metrics shows it."""
    value = service.metrics.get_sample_value(f"rfos_messages_{direction}_total", {"kind": kind})
    return value or 0.0


async def test_submit_stores_pending_and_is_idempotent(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        order, created = await service.submit(area_id="area-1", task="pick", priority=7, order_id="wo-1")
        assert created and order.state == WorkOrder.STATE_PENDING and order.priority == 7
        again, created_again = await service.submit(area_id="area-1", task="other", order_id="wo-1")
        assert not created_again and again.task == "pick"
        generated, _ = await service.submit(area_id="area-1", task="move")
        assert generated.id.startswith("wo-") and generated.id != "wo-1"

        store = OrderStore(nats_transport_of(service.context.transport))
        await store.ensure()
        stored = await store.get("wo-1")
        assert stored is not None and stored[0].task == "pick" and stored[0].state == WorkOrder.STATE_PENDING
        assert [e.state for e in stored[0].history] == [WorkOrder.STATE_PENDING]
        assert service.counts()["PENDING"] == 2

        for kwargs, field in (
            ({"area_id": "area-9"}, "area_id"),
            ({"area_id": "area-1", "priority": 12}, "priority"),
            ({"area_id": "area-1", "order_id": "bad id!"}, "id"),
        ):
            with pytest.raises(SubmitError) as refused:
                await service.submit(task="x", **kwargs)
            assert refused.value.field == field


async def test_priority_first_then_fifo_and_back_pressure(nats_url: str, unique: str) -> None:
    async with (
        area_with_zone(nats_url, unique, capacity=0) as (zone, _),
        fleet_service(nats_url, unique, max_in_flight=1) as fleet,
    ):
        service = fleet.service
        await area_summaries_seen(service, 3)  # the fleet knows: capacity 0 (else it may offer "a")
        for order_id, priority in (("a", 0), ("b", 5), ("c", 9), ("d", 5), ("e", 9)):
            await service.submit(area_id="area-1", task="move", priority=priority, order_id=order_id)
        assert service.queued("area-1") == ["c", "e", "b", "d", "a"]
        assert all(state(service, o) == WorkOrder.STATE_PENDING for o in "abcde")
        assert zone.calls == [], "no capacity: nothing is offered"

        zone.capacity = 5  # capacity returns
        await eventually(lambda: len(zone.assigned) == 5, what="all five dispatched")
        assert [r.order.id for r in zone.assigned] == ["c", "e", "b", "d", "a"]
        assert zone.assigned[0].idempotency_key == "c/0"
        await eventually(lambda: all(state(service, o) == WorkOrder.STATE_DISPATCHED for o in "abcde"))
        assert service.orders["c"].zone_id == "zone-1"
        assert service.orders["c"].history[-1].state == WorkOrder.STATE_DISPATCHED
        dispatched = {"stage": "dispatched"}
        assert service.metrics.get_sample_value("rfos_dispatch_latency_seconds_count", dispatched) == 5


async def test_unreachable_area_keeps_orders_pending(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        await service.submit(area_id="area-1", task="move", order_id="lonely")
        await eventually(lambda: messages(service, "out", "dispatch") >= 2, what="two dispatch attempts")
        assert state(service, "lonely") == WorkOrder.STATE_PENDING
        assert service.orders["lonely"].zone_id == ""


async def test_events_move_orders_forward_and_stale_ones_are_ignored(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        await service.submit(area_id="area-1", task="move", order_id="wo-7")
        events = OrderEvents(nats_transport_of(service.context.transport))

        def update(state: int, attempt: int, **kw: Any) -> Any:
            return WorkOrderUpdate(
                order_id="wo-7", attempt=attempt, state=state, stamp=now_stamp(), by="zone-1", **kw
            )

        await events.publish(update(WorkOrder.STATE_DISPATCHED, 0, zone_id="zone-1"))
        await events.publish(update(WorkOrder.STATE_ASSIGNED, 1, zone_id="zone-1", robot_id="robot-3"))
        await events.publish(update(WorkOrder.STATE_EXECUTING, 1, robot_id="robot-3"))
        await events.publish(update(WorkOrder.STATE_DISPATCHED, 0, note="late"))  # stale
        await events.publish(update(WorkOrder.STATE_COMPLETED, 1, robot_id="robot-3"))
        await eventually(lambda: state(service, "wo-7") == WorkOrder.STATE_COMPLETED, what="COMPLETED")
        order = service.orders["wo-7"]
        assert (order.zone_id, order.robot_id, order.attempts) == ("zone-1", "robot-3", 1)
        assert [e.state for e in order.history] == [0, 1, 2, 3, 4]
        assert "late" not in [e.note for e in order.history]
        await events.publish(update(WorkOrder.STATE_FAILED, 2, note="too late"))
        await events.publish(update(WorkOrder.STATE_CANCELLED, 0, note="marker"))  # final stays final
        store = OrderStore(nats_transport_of(service.context.transport))
        await store.ensure()
        stored = await store.get("wo-7")
        assert stored is not None and stored[0].state == WorkOrder.STATE_COMPLETED
        assert service.counts()["COMPLETED"] == 1


async def test_a_zone_reports_only_about_the_orders_it_holds(nats_url: str, unique: str) -> None:
    """Events carry their publisher in the subject (a secured zone may publish under its own
    id only): zone-2's word about zone-1's order is ignored and counted, zone-1's applies."""
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        await service.submit(area_id="area-1", task="move", order_id="held")
        transport = nats_transport_of(service.context.transport)
        zone_1, zone_2 = OrderEvents(transport, "zone-1"), OrderEvents(transport, "zone-2")

        def update(state: int, zone: str, **kw: Any) -> Any:
            return WorkOrderUpdate(
                order_id="held", attempt=1, state=state, stamp=now_stamp(), by=zone, zone_id=zone, **kw
            )

        await zone_1.publish(update(WorkOrder.STATE_DISPATCHED, "zone-1"))
        await eventually(lambda: state(service, "held") == WorkOrder.STATE_DISPATCHED, what="DISPATCHED")
        await zone_2.publish(update(WorkOrder.STATE_COMPLETED, "zone-2", robot_id="robot-99"))
        await eventually(lambda: messages(service, "in", "order_event_refused") >= 1, what="refusal counted")
        assert state(service, "held") == WorkOrder.STATE_DISPATCHED
        await zone_1.publish(update(WorkOrder.STATE_COMPLETED, "zone-1", robot_id="robot-3"))
        await eventually(lambda: state(service, "held") == WorkOrder.STATE_COMPLETED, what="COMPLETED")
        order = service.orders["held"]
        assert (order.zone_id, order.robot_id) == ("zone-1", "robot-3")
        assert "robot-99" not in {e.by for e in order.history} | {order.robot_id}


async def test_restart_reloads_orders_and_resumes_the_consumer(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        await fleet.service.submit(area_id="area-1", task="move", order_id="keep-1", priority=9)
        await fleet.service.submit(area_id="area-1", task="move", order_id="keep-2")
    async with nats_context(nats_url, unique) as ctx:  # while the fleet is down
        events = OrderEvents(nats_transport_of(ctx.transport))
        await events.ensure()
        await events.publish(
            WorkOrderUpdate(
                order_id="keep-2", attempt=1, state=WorkOrder.STATE_EXECUTING, stamp=now_stamp(), by="robot-1"
            )
        )
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        assert set(service.orders) == {"keep-1", "keep-2"}
        assert service.orders["keep-1"].priority == 9
        await eventually(
            lambda: state(service, "keep-2") == WorkOrder.STATE_EXECUTING, what="resumed consumer"
        )
        assert state(service, "keep-1") == WorkOrder.STATE_PENDING


async def test_cancel_pending_dispatched_and_final(nats_url: str, unique: str) -> None:
    async with (
        area_with_zone(nats_url, unique, capacity=1) as (zone, _),
        fleet_service(nats_url, unique) as fleet,
    ):
        service = fleet.service
        await service.submit(area_id="area-1", task="move", order_id="go", priority=9)
        await eventually(lambda: state(service, "go") == WorkOrder.STATE_DISPATCHED, what="go dispatched")
        await area_summaries_seen(service, 2)  # capacity 0 now: "wait" stays PENDING
        await service.submit(area_id="area-1", task="move", order_id="wait")

        result = await service.cancel("wait", "not needed")
        assert result.accepted and result.order.state == WorkOrder.STATE_CANCELLED
        assert result.order.error == "not needed" and "wait" not in service.queued("area-1")
        assert zone.cancels == []

        result = await service.cancel("go")
        assert result.accepted and result.order.state == WorkOrder.STATE_CANCELLED
        assert zone.cancels == ["go"], "forwarded via the area to the zone"
        again = await service.cancel("go")
        assert again.accepted, "cancelling a cancelled order succeeds again"

        unknown = await service.cancel("nope")
        assert not unknown.accepted and unknown.order is None

        events = OrderEvents(nats_transport_of(service.context.transport))
        await service.submit(area_id="area-1", task="move", order_id="done")
        await events.publish(
            WorkOrderUpdate(order_id="done", attempt=1, state=WorkOrder.STATE_COMPLETED, stamp=now_stamp())
        )
        await eventually(lambda: state(service, "done") == WorkOrder.STATE_COMPLETED)
        final = await service.cancel("done")
        assert not final.accepted and final.final and "COMPLETED" in final.error


async def test_fleet_node_services(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet, nats_context(nats_url, unique) as ctx:
        caller = Node("caller", context=ctx)
        await caller.start()
        submit = await caller.create_client(SubmitWorkOrder, "/fleet/submit")
        get = await caller.create_client(GetWorkOrder, "/fleet/get")
        cancel = await caller.create_client(CancelWorkOrder, "/fleet/cancel")
        answer = await submit.call(SubmitWorkOrder.Request(id="srv-1", area_id="area-1", task="pick"))
        assert answer.accepted and answer.order.state == WorkOrder.STATE_PENDING
        bad = await submit.call(SubmitWorkOrder.Request(area_id="area-7", task="pick"))
        assert not bad.accepted and "area-7" in bad.error
        found = await get.call(GetWorkOrder.Request(id="srv-1"))
        assert found.found and found.order.task == "pick"
        missing = await get.call(GetWorkOrder.Request(id="nope"))
        assert not missing.found
        cancelled = await cancel.call(CancelWorkOrder.Request(id="srv-1", reason="test"))
        assert cancelled.accepted and cancelled.order.state == WorkOrder.STATE_CANCELLED
        assert fleet.service.fleet_summary().orders_cancelled == 1


def test_robot_rows_of_a_table_filter_by_state_and_pad_short_columns() -> None:
    from robotfleet_nodes.fleet.views import robot_state_names, table_rows

    table_cls: Any = default_registry().get_class("robotfleet_nodes/msg/RobotTable")
    table = table_cls(
        zone_id="zone-1",
        robot_ids=["robot-1", "robot-2", "robot-3"],
        x=[1.23456, 2.0, 3.0],
        y=[0.0, 0.0, 0.0],
        theta=[0.0, 0.0, 0.0],
        battery_percent=[99.456, 50.0, 20.0],
        states=[0, 1, 4],
        current_order_ids=["", "wo-1", ""],
        order_progress=[0.0, 0.5],  # one short: the last robot gets the default
    )
    names = robot_state_names()
    rows = table_rows(table, names, None)
    assert rows[0] == {
        "id": "robot-1",
        "zone_id": "zone-1",
        "kind": "sim",
        "x": 1.235,
        "y": 0.0,
        "theta": 0.0,
        "battery": 99.46,
        "state": "IDLE",
        "order_id": "",
        "progress": 0.0,
    }
    assert [r["state"] for r in rows] == ["IDLE", "EXECUTING", "OFFLINE"]
    assert rows[2]["progress"] == 0.0
    assert [r["id"] for r in table_rows(table, names, "EXECUTING")] == ["robot-2"]
