"""The dispatch loop tells the scheduler what happened: accepted, refused, freed (real NATS).

``tests/fleet/test_scheduler.py`` pins the rules; these tests pin that
``fleet/_dispatcher.py`` and ``fleet/service.py`` feed them: an acceptance counts as handed,
a refusal backs the area off and puts the order back at its place, and an order that ends
frees its robot for the next order before the area's next summary.
"""

from __future__ import annotations

import asyncio
from typing import Any

from topology import eventually, fast_fleet_config, fleet_service, nats_context

from robotfleet_nodes.config import SchedulerConfig
from robotfleet_nodes.fleet.protocol import OrderEvents, area_name, nats_transport_of, now_stamp
from robotfleet_nodes.fleet.service import FleetService
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.msg import AreaSummary, WorkOrder, WorkOrderUpdate
from robotfleet_nodes.node import Context, Node

AssignWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/AssignWorkOrder")
CancelWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/CancelWorkOrder")


class FakeArea(Node):
    """``area-1`` stand-in: records each dispatch call; summaries only when :meth:`report` is called.

    A call waits while ``hold`` is set and not released; ``refusals`` calls are refused.
    """

    def __init__(self, *, context: Context) -> None:
        super().__init__("area", context=context, namespace=area_name("area-1"))
        self.calls: list[str] = []
        self.refusals = 0
        self.hold: asyncio.Event | None = None

    async def on_start(self) -> None:
        self.pub = await self.create_publisher(AreaSummary, area_name("area-1", "summary"), 10)
        await self.create_service(AssignWorkOrder, area_name("area-1", "dispatch"), self._dispatch)
        await self.create_service(CancelWorkOrder, area_name("area-1", "cancel"), self._cancel)

    async def report(self, capacity: int) -> None:
        await self.pub.publish(AreaSummary(area_id="area-1", stamp=now_stamp(), capacity=capacity))

    async def _dispatch(self, request: Any) -> Any:
        self.calls.append(request.order.id)
        if self.hold is not None:
            await self.hold.wait()
        if self.refusals > 0:
            self.refusals -= 1
            return AssignWorkOrder.Response(accepted=False, error="refused by the test")
        return AssignWorkOrder.Response(accepted=True, zone_id="zone-1")

    def _cancel(self, request: Any) -> Any:
        return CancelWorkOrder.Response(accepted=True)


def quiet_area_config() -> Any:
    """The test fleet config, but an area is not silent for a minute (no probing meanwhile)."""
    config = fast_fleet_config()
    scheduler = SchedulerConfig(dispatch_interval_s=0.05, dispatch_timeout_s=5.0, area_silence_timeout_s=60.0)
    return config.model_copy(update={"scheduler": scheduler})


def state(service: FleetService, order_id: str) -> int:
    return int(service.orders[order_id].state)


async def test_an_order_that_ends_frees_its_robot_before_the_next_summary(nats_url: str, unique: str) -> None:
    async with (
        nats_context(nats_url, unique) as ctx,
        fleet_service(nats_url, unique, quiet_area_config()) as fleet,
    ):
        area = FakeArea(context=ctx)
        await area.start()
        service = fleet.service
        await area.report(capacity=1)  # the only summary of this test
        await eventually(lambda: service.areas()[0]["capacity"] == 1, what="the area's summary")
        await service.submit(area_id="area-1", task="move", order_id="first")
        await service.submit(area_id="area-1", task="move", order_id="second")
        await eventually(
            lambda: state(service, "first") == WorkOrder.STATE_DISPATCHED, what="first DISPATCHED"
        )
        assert service._dispatcher.areas["area-1"].handed == 1  # the acceptance used the area's capacity
        assert service.queued("area-1") == ["second"]

        events = OrderEvents(nats_transport_of(service.context.transport))
        await events.publish(
            WorkOrderUpdate(order_id="first", attempt=0, state=WorkOrder.STATE_COMPLETED, stamp=now_stamp())
        )
        await eventually(
            lambda: area.calls == ["first", "second"], what="second offered without a new summary"
        )
        await eventually(
            lambda: state(service, "second") == WorkOrder.STATE_DISPATCHED, what="second DISPATCHED"
        )


async def test_a_refused_order_backs_the_area_off_and_keeps_its_place(nats_url: str, unique: str) -> None:
    async with (
        nats_context(nats_url, unique) as ctx,
        fleet_service(nats_url, unique, quiet_area_config(), max_in_flight=1) as fleet,
    ):
        area = FakeArea(context=ctx)
        area.hold = asyncio.Event()
        await area.start()
        service = fleet.service
        await area.report(capacity=5)
        await eventually(lambda: service.areas()[0]["capacity"] == 5, what="the area's summary")
        await service.submit(area_id="area-1", task="move", order_id="early")
        await eventually(lambda: area.calls == ["early"], what="early being dispatched")
        await service.submit(area_id="area-1", task="move", order_id="late")  # same priority, later
        area.refusals = 1
        area.hold.set()
        await eventually(
            lambda: service._dispatcher.areas["area-1"].backoff_until > 0, what="the area backed off"
        )
        await eventually(lambda: len(area.calls) == 3, what="both dispatched after the refusal")
        assert area.calls == ["early", "early", "late"]
        await eventually(lambda: state(service, "late") == WorkOrder.STATE_DISPATCHED, what="late DISPATCHED")
        assert state(service, "early") == WorkOrder.STATE_DISPATCHED
