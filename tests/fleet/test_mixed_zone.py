"""A mixed zone: a simulated robot, a VDA 5050 vehicle and a ROS 2 robot behind the DDS bridge.

One zone of one area, the fleet with its HTTP API, on a broker with its MQTT listener:

- ``robot-1``: the built-in simulated robot (``driver: sim``);
- ``robot-2``: a VDA 5050 vehicle (``driver: vda5050``, serial ``SN.2``: the subjects carry
  ``//``), played by :class:`~robotfleet_nodes.vda5050.sim.VehicleSim` over MQTT only;
- ``robot-3``: a ROS 2 robot (``driver: dds``), played by ``tests/edge/dds_robot_peer.py``, a
  plain cyclonedds program on loopback.

Work orders without a target go round robin, so one after another each kind runs one; each
execution is counted where it happened: the simulated robot's journal, the vehicle's own
counters, the ROS 2 robot's reported goals. The API shows each robot's kind and the vehicle's
factsheet; every VDA 5050 message on the broker validates against the 2.1.0 schemas.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from nats.aio.msg import Msg
from shared_helpers import eventually, http_call, journal_records, json_lines_peer
from topology import Topology, small_fleet

from robotfleet_nodes import vda5050
from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import DdsDriverConfig, EdgeConfig, Vda5050DriverConfig
from robotfleet_nodes.fleet.protocol import nats_transport_of
from robotfleet_nodes.vda5050.sim import VehicleSim

pytest.importorskip("cyclonedds")
from robotfleet_nodes.edge.dds_bridge import DdsBridgeDriver
from robotfleet_nodes.transport.dds import LOOPBACK_CONFIG

PEER = Path(__file__).resolve().parent.parent / "edge" / "dds_robot_peer.py"
SIM, VDA, DDS = "robot-1", "robot-2", "robot-3"
TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def _dds_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """DDS stays on 127.0.0.1 (no multicast) for this process and the peer it starts."""
    monkeypatch.setenv("CYCLONEDDS_URI", LOOPBACK_CONFIG)


@pytest.fixture
def mqtt_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(mqtt_port=-1) as broker:
        yield broker


@asynccontextmanager
async def mixed_zone(broker: EmbeddedBroker, root: str, domain_id: int) -> AsyncIterator[Topology]:
    dds = DdsDriverConfig(domain_id=domain_id, orders="action", offline_timeout_s=3.0)
    drivers = {DDS: lambda config: DdsBridgeDriver(config.robot_id, dds)}
    async with small_fleet(broker.url, root, zones=1, robots=3, drivers=drivers) as topo:
        # robot-2 becomes the master of a VDA 5050 vehicle
        await topo.kill_edge(VDA)
        vehicle = Vda5050DriverConfig(manufacturer="Acme", serial_number="SN.2", mqtt_url=broker.mqtt_url)
        index = next(i for i, c in enumerate(topo.edge_configs) if c.robot_id == VDA)
        topo.edge_configs[index] = EdgeConfig(
            robot_id=VDA, zone_id="zone-1", status_rate_hz=10.0, driver="vda5050", vda5050=vehicle
        )
        await topo.start_edge(VDA)
        yield topo


async def robots(base: str) -> dict[str, dict[str, Any]]:
    status, rows = await http_call(base, "GET", "/api/robots")
    assert status == 200, rows
    return {row["id"]: row for row in rows}


async def test_one_zone_dispatches_to_simulated_vda5050_and_ros2_robots(
    mqtt_broker: EmbeddedBroker, unique: str
) -> None:
    domain_id = random.randint(1, 230)
    assert mqtt_broker.mqtt_url is not None
    seen: list[tuple[str, dict[str, Any]]] = []
    not_valid: list[str] = []
    vehicle = VehicleSim(
        "Acme", "SN.2", mqtt_url=mqtt_broker.mqtt_url, speed=20.0, work_time_s=0.05, validate=True
    )
    async with (
        json_lines_peer(PEER, str(domain_id), "0.8") as peer,
        mixed_zone(mqtt_broker, unique, domain_id) as topo,
    ):
        # Every VDA 5050 message on the broker, from the vehicle and from its master.
        async def on_uagv(msg: Msg) -> None:
            topic = msg.subject.rsplit(".", 1)[1]
            body = json.loads(msg.data)
            seen.append((topic, body))
            not_valid.extend(f"{topic}: {e}" for e in vda5050.errors(topic, body))

        sub = await nats_transport_of(topo.edges[SIM].context.transport).subscribe_raw("uagv.>", on_uagv)
        await vehicle.start()
        try:
            base = topo.base_url

            async def three_kinds_idle() -> dict[str, dict[str, Any]] | None:
                rows = await robots(base)
                ok = all(r in rows and rows[r]["state"] == "IDLE" for r in (SIM, VDA, DDS))
                return rows if ok else None

            rows = await eventually(three_kinds_idle, what="the three robots IDLE", timeout=TIMEOUT)
            assert {r: rows[r]["kind"] for r in (SIM, VDA, DDS)} == {SIM: "sim", VDA: "vda5050", DDS: "dds"}

            # Orders without a target go round robin: one per robot, one after another.
            done: dict[str, str] = {}
            for k in range(3):
                order_id = f"mix-{k}"
                body = {"area_id": "area-1", "task": "pick", "id": order_id}
                status, answer = await http_call(base, "POST", "/api/work-orders", body)
                assert status == 201, answer

                async def final(order_id: str = order_id) -> dict[str, Any] | None:
                    status, order = await http_call(base, "GET", f"/api/work-orders/{order_id}")
                    assert status == 200, order
                    return order if order["state"] in ("COMPLETED", "FAILED", "CANCELLED") else None

                order = await eventually(final, what=f"{order_id} final", timeout=TIMEOUT)
                assert order["state"] == "COMPLETED", order
                done[order_id] = order["robot_id"]
            assert sorted(done.values()) == [SIM, VDA, DDS], done

            # Each execution counted where it happened.
            by_robot = {robot: order for order, robot in done.items()}
            assert (by_robot[SIM], "SUCCEEDED") in [
                (r["o"], r.get("s", "")) for r in journal_records(SIM) if r.get("e") == "end"
            ]
            assert vehicle.counters.orders_finished == 1 and vehicle.counters.invalid_sent == 0
            goal = await peer.wait_for(lambda e: e["event"] == "goal" and e["order_id"] == by_robot[DDS])
            assert goal["task"] == "pick"
            orders = [b for t, b in seen if t == "order"]
            assert [o["orderId"] for o in orders] == [f"{by_robot[VDA]}.1"], orders

            # The vehicle's factsheet, as it sent it, through the fleet's API.
            async def factsheet() -> dict[str, Any] | None:
                status, body = await http_call(base, "GET", f"/api/robots/{VDA}/factsheet")
                return body if status == 200 else None

            sheet = await eventually(factsheet, what="the vehicle's factsheet in the API", timeout=TIMEOUT)
            assert sheet["robot_id"] == VDA
            assert sheet["factsheet"]["serialNumber"] == "SN.2"
            vda5050.validate("factsheet", sheet["factsheet"])
            status, _ = await http_call(base, "GET", f"/api/robots/{SIM}/factsheet")
            assert status == 404
        finally:
            await sub.unsubscribe()
            await vehicle.stop()
    topics = {t for t, _ in seen}
    assert {"connection", "state", "order", "factsheet"} <= topics, topics
    assert not not_valid, not_valid[:5]
