"""The fleet applies order events in batches: per-order order, one store write, no global lock."""

from __future__ import annotations

import asyncio
from typing import Any

from topology import eventually, fleet_service

from robotfleet_nodes.fleet.protocol import OrderEvents, OrderStore, nats_transport_of, now_stamp
from robotfleet_nodes.fleet.service import OrderIndex
from robotfleet_nodes.msg import WorkOrder, WorkOrderEvent, WorkOrderUpdate


def update(order_id: str, state: int, attempt: int, **kw: Any) -> Any:
    return WorkOrderUpdate(
        order_id=order_id, attempt=attempt, state=state, stamp=now_stamp(), by="zone-1", **kw
    )


def test_order_index_keeps_final_orders_compact_and_lists_newest_first() -> None:
    index = OrderIndex()
    for n, state in enumerate(
        (WorkOrder.STATE_PENDING, WorkOrder.STATE_COMPLETED, WorkOrder.STATE_EXECUTING)
    ):
        stamp = now_stamp().model_copy(update={"sec": 1000 + n})
        index[f"o{n}"] = WorkOrder(
            id=f"o{n}",
            area_id="area-1" if n else "area-2",
            state=state,
            created=stamp,
            history=[WorkOrderEvent(state=state, stamp=stamp, by="t")],
        )
    assert len(index) == 3 and set(index) == {"o0", "o1", "o2"} and "o1" in index and "o9" not in index
    assert [o.id for o in index.live()] == ["o0", "o2"], "a final order is not kept as a message"
    final = index["o1"]
    assert final.state == WorkOrder.STATE_COMPLETED and final.history[0].by == "t"
    items, total = index.select(state=None, area_id=None, limit=2)
    assert [o.id for o in items] == ["o2", "o1"] and total == 3
    items, total = index.select(state=WorkOrder.STATE_COMPLETED, area_id="area-1", limit=10)
    assert [o.id for o in items] == ["o1"] and total == 1
    assert index.select(state=None, area_id="area-2", limit=10)[1] == 1
    del index["o1"]
    assert "o1" not in index and index.get("o1") is None
    index.clear()
    assert len(index) == 0


async def test_events_of_one_order_are_applied_in_order_and_stored_once(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        await service.submit(area_id="area-1", task="move", order_id="b-1")
        store = service._store
        assert store is not None
        writes: list[int] = []
        put = store.put

        async def counting_put(order: Any) -> None:
            writes.append(int(order.state))
            await put(order)

        store.put = counting_put  # type: ignore[method-assign]
        moved = await service._apply_all(
            "b-1",
            [
                update("b-1", WorkOrder.STATE_DISPATCHED, 0, zone_id="zone-1"),
                update("b-1", WorkOrder.STATE_ASSIGNED, 1, robot_id="robot-1"),
                update("b-1", WorkOrder.STATE_DISPATCHED, 0, note="late"),  # stale: ignored
                update("b-1", WorkOrder.STATE_EXECUTING, 1),
                update("b-1", WorkOrder.STATE_COMPLETED, 1),
            ],
        )
        assert moved is not None and moved.state == WorkOrder.STATE_COMPLETED
        assert writes == [WorkOrder.STATE_COMPLETED], "one write with the final state"
        assert [e.state for e in service.orders["b-1"].history] == [0, 1, 2, 3, 4]
        assert service.counts()["COMPLETED"] == 1 and service.counts()["PENDING"] == 0
        for stage in ("dispatched", "executing"):
            count = service.metrics.get_sample_value("rfos_dispatch_latency_seconds_count", {"stage": stage})
            assert count == 1, stage
        again = await service._apply_all("b-1", [update("b-1", WorkOrder.STATE_COMPLETED, 1)])
        assert again is None and writes == [WorkOrder.STATE_COMPLETED], "a re-delivery writes nothing"
        reader = OrderStore(nats_transport_of(service.context.transport))
        await reader.ensure()
        stored = await reader.get("b-1")
        assert stored is not None and stored[0].state == WorkOrder.STATE_COMPLETED


async def test_submissions_do_not_wait_behind_event_application(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        await service.submit(area_id="area-1", task="move", order_id="slow")
        store = service._store
        assert store is not None
        gate = asyncio.Event()
        put = store.put

        async def blocked_put(order: Any) -> None:
            if order.id == "slow":
                await gate.wait()
            await put(order)

        store.put = blocked_put  # type: ignore[method-assign]
        events = OrderEvents(nats_transport_of(service.context.transport))
        await events.publish(update("slow", WorkOrder.STATE_ASSIGNED, 1, robot_id="robot-1"))
        await events.publish(update("slow", WorkOrder.STATE_EXECUTING, 1))
        await asyncio.sleep(0.3)  # the consumer is stuck writing "slow"
        order, created = await asyncio.wait_for(
            service.submit(area_id="area-1", task="move", order_id="fast"), timeout=2.0
        )
        assert created and order.state == WorkOrder.STATE_PENDING
        assert service.orders["slow"].state == WorkOrder.STATE_PENDING, "not applied before it is stored"
        gate.set()
        await eventually(lambda: service.orders["slow"].state == WorkOrder.STATE_EXECUTING, what="applied")
        assert [e.state for e in service.orders["slow"].history] == [0, 2, 3]
