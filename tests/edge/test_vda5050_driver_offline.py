"""A VDA 5050 vehicle that drops with an order, against a real zone (and area and fleet).

VDA 5050 has no lease and a vehicle cannot pause itself: while it is OFFLINE its order is
kept (the edge goes on heartbeating state OFFLINE with the order, the zone renews its lease
and reassigns nothing) until it reports again, or until ``offline_reassign_s`` passes.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import eventually, http_call, journal_records
from vda5050_vehicle import ScriptedVehicle

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import EdgeConfig, Vda5050DriverConfig
from robotfleet_nodes.edge.vda5050 import Vda5050Driver

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fleet"))
from topology import Topology, small_fleet

pytestmark = pytest.mark.timeout(90)

OFFLINE, IDLE = 4, 0
VDA = "robot-1"


@pytest.fixture(scope="module")
def mqtt_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(mqtt_port=-1) as broker:
        yield broker


@asynccontextmanager
async def fleet_with_vehicle(
    broker: EmbeddedBroker, root: str, serial: str, robots: int, **vda: Any
) -> AsyncIterator[Topology]:
    """One zone; ``robot-1`` is the vehicle's edge, the others (stopped) simulated robots."""
    async with small_fleet(broker.url, root, zones=1, robots=robots) as topo:
        for config in list(topo.edge_configs):
            await topo.kill_edge(config.robot_id)
        settings = Vda5050DriverConfig(
            manufacturer="Acme", serial_number=serial, mqtt_url=broker.mqtt_url, **vda
        )
        topo.edge_configs[0] = EdgeConfig(
            robot_id=VDA, zone_id="zone-1", status_rate_hz=10.0, driver="vda5050", vda5050=settings
        )
        await topo.start_edge(VDA)
        yield topo


def slot(topo: Topology, robot_id: str = VDA) -> Any:
    return topo.zones["zone-1"]._ex.robots[robot_id]


def order_slot(topo: Topology, order_id: str) -> Any:
    return topo.zones["zone-1"]._ex.orders.get(order_id)


async def order_state(topo: Topology, order_id: str) -> str:
    status, body = await http_call(topo.base_url, "GET", f"/api/work-orders/{order_id}")
    assert status == 200, (status, body)
    return str(body["state"])


async def submit(topo: Topology, order_id: str) -> None:
    status, body = await http_call(
        topo.base_url, "POST", "/api/work-orders", {"area_id": "area-1", "task": "pick", "id": order_id}
    )
    assert status == 201, (status, body)


def journal(robot_id: str, order_id: str) -> list[tuple[str, int, str]]:
    return [
        (r["e"], int(r["a"]), r.get("s", "")) for r in journal_records(robot_id) if r.get("o") == order_id
    ]


async def joined(broker: EmbeddedBroker, serial: str, topo: Topology) -> ScriptedVehicle:
    assert broker.mqtt_url is not None
    v = await ScriptedVehicle(broker.mqtt_url, "Acme", serial).connect()
    await v.state()
    await eventually(
        lambda: (
            slot(topo).status is not None
            and slot(topo).status.state == IDLE
            and slot(topo).status.kind == "vda5050"
        ),
        what="the vehicle IDLE in the zone",
    )
    return v


async def test_order_is_kept_while_the_vehicle_is_offline(mqtt_broker: EmbeddedBroker, unique: str) -> None:
    serial = "SN.keep"
    async with fleet_with_vehicle(mqtt_broker, unique, serial, robots=1) as topo:
        v = await joined(mqtt_broker, serial, topo)
        try:
            await submit(topo, "vk-1")
            order = await v.accept()
            assert order["orderId"].startswith("vk-1.")
            await eventually(lambda: order_state(topo, "vk-1"), what="the order known")
            await eventually(
                lambda: slot(topo).status.current_order_id == "vk-1", what="the zone sees it running"
            )
            v.drop()  # last will: CONNECTIONBROKEN
            await eventually(lambda: slot(topo).status.state == OFFLINE, what="the zone sees OFFLINE at once")
            assert slot(topo).online, "heartbeats go on"
            assert slot(topo).status.current_order_id == "vk-1", "the order is kept"
            summary_online = topo.zones["zone-1"].summary().robots_online
            assert summary_online == 0
            # Longer than the robot lease plus margin (2 s + 0.5 s): were the lease not renewed,
            # the zone would have moved the order by now.
            seq = slot(topo).status.seq
            await eventually(lambda: slot(topo).status.seq >= seq + 30, what="3 s of OFFLINE heartbeats")
            kept = order_slot(topo, "vk-1")
            assert kept is not None and kept.robot_id == VDA and not kept.releasing, "not reassigned"
            assert await order_state(topo, "vk-1") == "EXECUTING"
        finally:
            await v.close()

        # The vehicle comes back with the order and finishes it.
        back = await ScriptedVehicle(mqtt_broker.mqtt_url or "", "Acme", serial).connect()
        try:
            back.order_id, back.last_node_id = order["orderId"], order["nodes"][-1]["nodeId"]
            action = order["nodes"][-1]["actions"][0]
            await back.state(actionStates=[{"actionId": action["actionId"], "actionStatus": "FINISHED"}])
            await eventually(
                lambda: _is(order_state(topo, "vk-1"), "COMPLETED"), what="COMPLETED", timeout=20
            )
            ends = [r for r in journal(VDA, "vk-1") if r[0] == "end"]
            assert ends == [("end", ends[0][1], "SUCCEEDED")], ends
            assert not back.invalid and not v.invalid
        finally:
            await back.close()


async def _is(state: Any, expected: str) -> bool:
    return bool(await state == expected)


async def test_offline_reassign_gives_the_order_up_and_fences_it(
    mqtt_broker: EmbeddedBroker, unique: str
) -> None:
    serial = "SN.give-up"
    async with fleet_with_vehicle(mqtt_broker, unique, serial, robots=2, offline_reassign_s=1.0) as topo:
        v = await joined(mqtt_broker, serial, topo)
        try:
            await submit(topo, "vg-1")
            order = await v.accept()
            await eventually(lambda: slot(topo).status.current_order_id == "vg-1", what="running")
            v.drop()
            await topo.start_edge("robot-2")  # a simulated robot to take it over
            await eventually(
                lambda: _is(order_state(topo, "vg-1"), "COMPLETED"), what="COMPLETED elsewhere", timeout=30
            )
            ends = journal(VDA, "vg-1")
            assert ends[-1][0] == "end" and ends[-1][2] == "FAILED", ends
            assert [r for r in journal("robot-2", "vg-1") if r[0] == "end"][-1][2] == "SUCCEEDED"
            driver = topo.edges[VDA].driver
            assert isinstance(driver, Vda5050Driver)
        finally:
            await v.close()

        # The vehicle comes back still running the given-up order: it is cancelled (fencing).
        back = await ScriptedVehicle(mqtt_broker.mqtt_url or "", "Acme", serial).connect()
        try:
            back.order_id = order["orderId"]
            target = order["nodes"][-1]
            await back.state(
                nodeStates=[
                    {"nodeId": target["nodeId"], "sequenceId": target["sequenceId"], "released": True}
                ]
            )
            await back.next_action("cancelOrder")
            assert not back.invalid and not v.invalid
        finally:
            await back.close()
