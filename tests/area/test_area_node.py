"""The area tier: zone choice, silence, refusal and idempotency (real NATS).

Grants and the take-back of a silent zone's orders: test_area_leases.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from shared_helpers import eventually

from robotfleet_nodes.area.node import AreaNode
from robotfleet_nodes.config import AreaConfig
from robotfleet_nodes.fleet.protocol import area_name, now_stamp, zone_name
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.msg import AreaSummary, WorkOrder, ZoneSummary
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

AssignWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/AssignWorkOrder")
CancelWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/CancelWorkOrder")

TIMEOUT = 10.0


class TestZone(Node):
    """A zone stand-in: publishes a ZoneSummary with ``capacity`` and accepts while it has some."""

    __test__ = False

    def __init__(self, zone_id: str, *, context: Context, capacity: int) -> None:
        super().__init__("zone", context=context, namespace=zone_name(zone_id))
        self.zone_id = zone_id
        self.capacity = capacity
        self.publishing = True
        self.assigned: list[Any] = []
        self.calls = 0
        self.cancels: list[str] = []

    async def on_start(self) -> None:
        self.pub = await self.create_publisher(ZoneSummary, zone_name(self.zone_id, "summary"), 10)
        await self.create_service(AssignWorkOrder, zone_name(self.zone_id, "assign"), self._assign)
        await self.create_service(CancelWorkOrder, zone_name(self.zone_id, "cancel"), self._cancel)
        self.create_timer(0.05, self._tick)

    async def _tick(self) -> None:
        if self.publishing:
            summary = ZoneSummary(
                zone_id=self.zone_id,
                area_id="area-1",
                stamp=now_stamp(),
                robots_total=4,
                robots_online=4,
                orders_active=len(self.assigned),
                capacity=self.capacity,
            )
            await self.pub.publish(summary)

    def _assign(self, request: Any) -> Any:
        self.calls += 1
        self.assigned.append(request)
        self.capacity = max(0, self.capacity - 1)
        return AssignWorkOrder.Response(accepted=True, zone_id=self.zone_id)

    def _cancel(self, request: Any) -> Any:
        self.cancels.append(request.id)
        return CancelWorkOrder.Response(accepted=True)


@asynccontextmanager
async def context_on(nats_url: str, root: str) -> AsyncIterator[Context]:
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=root))
    try:
        async with Context(transport=transport, enable_rosout=False) as context:
            yield context
    finally:
        await transport.close()


def area_config(zones: list[str]) -> AreaConfig:
    return AreaConfig(
        area_id="area-1", zones=zones, zone_silence_timeout_s=0.5, assign_timeout_s=2.0, summary_period_s=0.1
    )


async def dispatch(caller: Node, order: WorkOrder, key: str) -> Any:
    client = await caller.create_client(AssignWorkOrder, area_name("area-1", "dispatch"))
    assert await client.wait_for_service(5.0)
    request = AssignWorkOrder.Request(idempotency_key=key, by="fleet", target_id="area-1", order=order)
    return await client.call(request, timeout=5.0)


async def test_routes_to_the_zone_with_capacity(nats_url: str, unique: str) -> None:
    async with context_on(nats_url, unique) as ctx:
        full = TestZone("zone-1", context=ctx, capacity=0)
        free = TestZone("zone-2", context=ctx, capacity=3)
        area = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        caller = Node("caller", context=ctx)
        for node in (full, free, area, caller):
            await node.start()
        await eventually(lambda: len(area.live_zones()) == 2, what="both zones live")
        answer = await dispatch(caller, WorkOrder(id="wo-1", area_id="area-1"), "wo-1/0")
        assert answer.accepted and answer.zone_id == "zone-2"
        assert [r.order.id for r in free.assigned] == ["wo-1"] and full.calls == 0
        assert free.assigned[0].order.zone_id == "zone-2" and free.assigned[0].by == "area-1"

        again = await dispatch(caller, WorkOrder(id="wo-1", area_id="area-1"), "wo-1/0")
        assert again.accepted and again.duplicate and again.zone_id == "zone-2"
        assert free.calls == 1, "a repeated key never reaches the zone twice"
        assert area.zone_of("wo-1") == "zone-2"

        cancel = await caller.create_client(CancelWorkOrder, area_name("area-1", "cancel"))
        result = await cancel.call(CancelWorkOrder.Request(id="wo-1", reason="test"), timeout=5.0)
        assert result.accepted and free.cancels == ["wo-1"]

        received: asyncio.Queue[Any] = asyncio.Queue()
        await caller.create_subscription(AreaSummary, area_name("area-1", "summary"), received.put_nowait, 10)
        summary = await asyncio.wait_for(received.get(), TIMEOUT)
        assert summary.area_id == "area-1" and summary.robots_total == 8
        assert {z.zone_id for z in summary.zones} == {"zone-1", "zone-2"}


async def test_skips_a_silent_zone(nats_url: str, unique: str) -> None:
    async with context_on(nats_url, unique) as ctx:
        z1 = TestZone("zone-1", context=ctx, capacity=1)
        z2 = TestZone("zone-2", context=ctx, capacity=5)
        area = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        caller = Node("caller", context=ctx)
        for node in (z1, z2, area, caller):
            await node.start()
        await eventually(lambda: len(area.live_zones()) == 2, what="both zones live")
        z2.publishing = False
        await eventually(lambda: area.silent_zones() == ["zone-2"], what="zone-2 silent")
        answer = await dispatch(caller, WorkOrder(id="wo-2", area_id="area-1"), "wo-2/0")
        assert answer.accepted and answer.zone_id == "zone-1"
        assert z2.calls == 0
        # no capacity left anywhere live: the least loaded live zone still takes it
        answer = await dispatch(caller, WorkOrder(id="wo-3", area_id="area-1"), "wo-3/0")
        assert answer.accepted and answer.zone_id == "zone-1"
        assert "zone-2" in area.build_summary().silent_zones


async def test_refuses_when_no_zone_is_live(nats_url: str, unique: str) -> None:
    async with context_on(nats_url, unique) as ctx:
        area = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        caller = Node("caller", context=ctx)
        await area.start()
        await caller.start()
        answer = await dispatch(caller, WorkOrder(id="wo-4", area_id="area-1"), "wo-4/0")
        assert not answer.accepted
        assert "no live zone" in answer.error and "zone-1" in answer.error
        assert area.build_summary().capacity == 0


class SlowFirstAnswerZone(TestZone):
    """Takes the first hand-off but answers it only once ``release`` is set: to the area the
    answer is lost (a broker node dying between request and reply does that)."""

    __test__ = False

    def __init__(self, zone_id: str, *, context: Context, capacity: int) -> None:
        super().__init__(zone_id, context=context, capacity=capacity)
        self.release = asyncio.Event()
        self.keys: list[str] = []

    async def _assign(self, request: Any) -> Any:  # type: ignore[override]
        self.calls += 1
        first = not self.keys
        self.keys.append(request.idempotency_key)
        if first:
            self.assigned.append(request)
            await self.release.wait()
            return AssignWorkOrder.Response(accepted=True, zone_id=self.zone_id)
        return AssignWorkOrder.Response(accepted=True, duplicate=True, zone_id=self.zone_id)


async def test_a_hand_off_without_an_answer_stays_with_its_zone(nats_url: str, unique: str) -> None:
    """The zone may have taken the order: offering it to another zone could run it twice
    (found by benchmarks/cluster.py: a nats node killed mid hand-off, two zones ran one order)."""
    async with context_on(nats_url, unique) as ctx:
        slow = SlowFirstAnswerZone("zone-1", context=ctx, capacity=5)
        other = TestZone("zone-2", context=ctx, capacity=5)
        config = area_config(["zone-1", "zone-2"]).model_copy(update={"assign_timeout_s": 0.5})
        area = AreaNode(config, context=ctx)
        caller = Node("caller", context=ctx)
        for node in (slow, other, area, caller):
            await node.start()
        await eventually(lambda: len(area.live_zones()) == 2, what="both zones live")
        other.capacity = 1  # zone-1 is the first choice (more capacity)
        try:
            first = await dispatch(caller, WorkOrder(id="wo-9", area_id="area-1"), "wo-9/1")
            assert not first.accepted and "no answer from zone-1" in first.error
            assert other.calls == 0, "an order zone-1 may hold was offered to zone-2"
            # the fleet's retry (same key) goes to zone-1 again, which answers from its cache
            other.capacity = 5  # now zone-2 would be the first choice
            again = await dispatch(caller, WorkOrder(id="wo-9", area_id="area-1"), "wo-9/1")
            assert again.accepted and again.zone_id == "zone-1"
            assert slow.keys == ["wo-9/1", "wo-9/1"] and other.calls == 0
            # a new order is routed as usual
            fresh = await dispatch(caller, WorkOrder(id="wo-10", area_id="area-1"), "wo-10/1")
            assert fresh.accepted
        finally:
            slow.release.set()
