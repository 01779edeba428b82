"""``driver: vda5050`` on a real broker: a real EdgeNode masters a scripted vehicle over MQTT.

The vehicle (:mod:`vda5050_vehicle`) is an aiomqtt client speaking VDA 5050 2.1.0 to
nats-server's MQTT listener; the edge's driver reads and writes the same topics as NATS
subjects. Every message either side publishes is validated against the schemas.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from shared_helpers import eventually, journal_records
from vda5050_vehicle import ScriptedVehicle

from robotfleet_nodes.action import ActionClient, ClientGoalHandle, ExecuteTask, GoalStatus
from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import EdgeConfig, load_config
from robotfleet_nodes.edge.node import STATUS_QOS, EdgeNode, driver_from_config
from robotfleet_nodes.edge.vda5050 import Vda5050Driver
from robotfleet_nodes.msg import RobotStatus
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.vda5050 import validate
from robotfleet_nodes.vda5050.sim import factsheet_body
from robotfleet_nodes.vda5050.topics import default_robot_id

pytestmark = pytest.mark.timeout(60)

OFFLINE, IDLE, EXECUTING = 4, 0, 1


@pytest.fixture(scope="module")
def mqtt_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(mqtt_port=-1) as broker:
        yield broker


def vda_config(serial: str, **vda: Any) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "robot_id": default_robot_id("Acme", serial),
            "zone_id": "zone-1",
            "status_rate_hz": 10.0,
            "driver": "vda5050",
            "vda5050": {"manufacturer": "Acme", "serial_number": serial, **vda},
        }
    )


class Master:
    """The edge (real EdgeNode, driver from its config) and a zone-side client of it."""

    def __init__(self, edge: EdgeNode, node: Node, client: ActionClient) -> None:
        self.edge = edge
        self.node = node
        self.client = client
        self.statuses: list[Any] = []

    @property
    def driver(self) -> Vda5050Driver:
        assert isinstance(self.edge.driver, Vda5050Driver)
        return self.edge.driver

    async def goal(self, order_id: str, attempt: int = 1, task: str = "pick") -> ClientGoalHandle:
        goal = ExecuteTask.Goal(
            order_id=order_id, task=task, has_target=True, target_x=3.0, target_y=4.0, attempt=attempt
        )
        handle = await self.client.send_goal(goal)
        assert handle.accepted
        return handle

    async def status(self, what: str, check: Any) -> Any:
        def latest() -> Any:
            return self.statuses[-1] if self.statuses and check(self.statuses[-1]) else None

        return await eventually(latest, what=what)


@asynccontextmanager
async def master(broker: EmbeddedBroker, root: str, config: EdgeConfig) -> AsyncIterator[Master]:
    config = config.model_copy(
        update={"vda5050": config.vda5050.model_copy(update={"mqtt_url": broker.mqtt_url})}
    )
    transport = NatsTransport(broker.url, mapper=SubjectMapper(root=root))
    zone_transport = NatsTransport(broker.url, mapper=SubjectMapper(root=root))
    try:
        async with (
            Context(transport=transport, enable_rosout=False) as ctx,
            Context(transport=zone_transport, enable_rosout=False) as zctx,
        ):
            edge = EdgeNode(config, context=ctx)
            await edge.start()
            node = Node("zone", context=zctx, namespace="/zones/zone-1")
            await node.start()
            client = await ActionClient.create(
                node, ExecuteTask, f"/robots/{config.robot_id}/execute", status_qos=STATUS_QOS
            )
            assert await client.wait_for_server(timeout=10.0)
            m = Master(edge, node, client)
            await node.create_subscription(
                RobotStatus, f"/robots/{config.robot_id}/status", m.statuses.append, STATUS_QOS
            )
            try:
                yield m
            finally:
                await client.destroy()
                await node.destroy_node()
                await edge.destroy_node()
    finally:
        await transport.close()
        await zone_transport.close()


@asynccontextmanager
async def vehicle(broker: EmbeddedBroker, serial: str) -> AsyncIterator[ScriptedVehicle]:
    assert broker.mqtt_url is not None
    v = await ScriptedVehicle(broker.mqtt_url, "Acme", serial).connect()
    try:
        yield v
        assert not v.invalid, v.invalid  # everything the master sent validates
    finally:
        await v.close()


def _ends(robot_id: str, order_id: str) -> list[str]:
    """The end states ``robot_id``'s journal holds for ``order_id``."""
    return [r["s"] for r in journal_records(robot_id) if r.get("o") == order_id and r.get("e") == "end"]


async def test_vehicle_joins_takes_an_order_and_completes_it(
    mqtt_broker: EmbeddedBroker, unique: str
) -> None:
    """Serial ``SN.1`` (subject token ``SN//1``): ONLINE retained before the edge started,
    status visible; the order validates, runs and SUCCEEDS once."""
    serial = "SN.1"
    config = vda_config(serial)
    async with vehicle(mqtt_broker, serial) as v:
        await v.state()  # before the edge: a NATS subscriber never sees it
        async with master(mqtt_broker, unique, config) as m:
            # the retained ONLINE came through MQTT; the master asks for a state and a factsheet
            await v.next_action("factsheetRequest")
            await v.next_action("stateRequest")
            v.last_node_id = "dock"
            await v.state(loads=[{"loadId": "box-1"}])
            first = await m.status(
                "the vehicle IDLE", lambda s: s.state == IDLE and s.battery_percent == 80.0
            )
            assert (first.kind, first.last_node_id, first.map_id, first.loads) == (
                "vda5050",
                "dock",
                "map",
                1,
            )
            assert (first.pose.x, first.pose.y) == (1.0, 2.0)

            handle = await m.goal("wo-1", attempt=3)
            order = await v.accept()
            assert order["orderId"] == "wo-1.3" and order["orderUpdateId"] == 0
            assert [n["sequenceId"] for n in order["nodes"]] == [0, 2]
            assert order["nodes"][0]["nodeId"] == "dock", "the start node is where the vehicle is"
            assert order["nodes"][-1]["nodePosition"]["x"] == 3.0
            action = order["nodes"][-1]["actions"][0]
            assert (action["actionType"], action["blockingType"]) == ("pick", "HARD")
            running = await m.status("EXECUTING", lambda s: s.state == EXECUTING and s.driving)
            assert running.current_order_id == "wo-1"
            assert m.driver.orders_accepted == 1

            target = order["nodes"][-1]["nodeId"]
            v.last_node_id = target
            v.x, v.y = 3.0, 4.0
            done_state = {"actionId": action["actionId"], "actionType": "pick", "actionStatus": "FINISHED"}
            await v.state(actionStates=[done_state])
            await v.state(actionStates=[done_state])  # repeated: still finished once
            response = await handle.get_result(timeout=10.0)
            assert response.status == GoalStatus.SUCCEEDED and response.result.success
            assert _ends(config.robot_id, "wo-1").count("SUCCEEDED") == 1
            await m.status("IDLE again", lambda s: s.state == IDLE and s.last_node_id == target)
            assert m.driver.malformed == 0


async def test_cancel_mid_order_sends_cancel_order(mqtt_broker: EmbeddedBroker, unique: str) -> None:
    serial = "SN-cancel"
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, vda_config(serial)) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        handle = await m.goal("wo-c")
        await v.accept()
        await m.status("EXECUTING", lambda s: s.state == EXECUTING)
        await handle.cancel_goal()
        action = await v.next_action("cancelOrder")
        assert action["blockingType"] in ("NONE", "SOFT", "HARD")
        response = await handle.get_result(timeout=10.0)
        assert response.status == GoalStatus.CANCELED and response.result.message == "cancelled"


async def test_failed_action_fails_the_order_with_the_vehicles_text(
    mqtt_broker: EmbeddedBroker, unique: str
) -> None:
    serial = "SN-fail"
    config = vda_config(serial)
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, config) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        handle = await m.goal("wo-f")
        order = await v.accept()
        action = order["nodes"][-1]["actions"][0]
        failed = {
            "actionId": action["actionId"],
            "actionStatus": "FAILED",
            "resultDescription": "gripper jammed at shelf 4",
        }
        await v.state(actionStates=[failed])
        response = await handle.get_result(timeout=10.0)
        assert response.status == GoalStatus.ABORTED
        assert response.result.message == "gripper jammed at shelf 4"
        assert _ends(config.robot_id, "wo-f")[-1] == "FAILED"


async def test_order_not_acknowledged_fails(mqtt_broker: EmbeddedBroker, unique: str) -> None:
    serial = "SN-deaf"
    config = vda_config(serial, order_ack_timeout_s=0.5)
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, config) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        handle = await m.goal("wo-d")
        await v.next("order")  # and never shows it
        response = await handle.get_result(timeout=10.0)
        assert not response.result.success
        assert "did not take order wo-d.1 within 0.5 s" in response.result.message


async def test_malformed_messages_are_counted_and_dropped(
    mqtt_broker: EmbeddedBroker, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    serial = "SN-bad"
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, vda_config(serial)) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        caplog.set_level(logging.DEBUG, logger="robotfleet_nodes.edge.vda5050")
        await v.publish("state", b"{not json")
        await v.publish("state", b"[1, 2]")
        await v.publish("state", b'{"headerId": 1}')  # schema: most fields missing
        other = v.state_msg()
        other["serialNumber"] = "SN-other"
        await v.publish("state", json.dumps(other).encode())
        await v.publish("state", b"{not json either")
        await eventually(lambda: m.driver.malformed == 5, what="5 malformed messages counted")
        warnings = [
            r for r in caplog.records if r.levelno == logging.WARNING and "malformed" in r.getMessage()
        ]
        assert len(warnings) == 4, "logged once per kind"
        await v.state(batteryState={"batteryCharge": 55.5, "charging": True})
        await m.status("still mastered", lambda s: s.battery_percent == 55.5 and s.charging)


async def test_factsheet_is_validated_and_stored(mqtt_broker: EmbeddedBroker, unique: str) -> None:
    serial = "SN-facts"
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, vda_config(serial)) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        await v.next_action("factsheetRequest")
        await v.publish("factsheet", json.dumps({**v.header("factsheet"), "typeSpecification": {}}).encode())
        await eventually(lambda: m.driver.malformed == 1, what="an invalid factsheet dropped")
        assert m.driver.factsheet is None
        sheet = factsheet(v)
        await v.publish("factsheet", json.dumps(sheet).encode())
        stored = await eventually(lambda: m.driver.factsheet, what="the factsheet")
        assert stored == sheet
        assert m.edge.driver.factsheet is stored, "the same object until it changes"


def factsheet(v: ScriptedVehicle) -> dict[str, Any]:
    sheet = {**v.header("factsheet"), **factsheet_body(speed=2.0, work_time_s=0.5, state_period_s=5.0)}
    validate("factsheet", sheet)
    return sheet


async def test_last_will_makes_an_idle_vehicle_offline_at_once(
    mqtt_broker: EmbeddedBroker, unique: str
) -> None:
    serial = "SN-will"
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, vda_config(serial)) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        v.drop()
        await m.status("status with state OFFLINE", lambda s: s.state == OFFLINE)
        seen = len(m.statuses)
        await eventually(lambda: len(m.statuses) >= seen + 3, what="heartbeats go on while OFFLINE")
        assert all(s.state == OFFLINE for s in m.statuses[seen:])


def test_driver_from_config_and_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("robot_id: r1\ndriver: vda5050\nvda5050: {serial_number: SN.9}\n")
    monkeypatch.setenv("EDGE_VDA5050_MQTT_URL", "mqtt://10.0.0.1:1884")
    monkeypatch.setenv("EDGE_VDA5050_MQTT_CREDS", "vehicle.creds")
    config = load_config("edge", path)
    assert config.vda5050.mqtt_url == "mqtt://10.0.0.1:1884"
    assert config.vda5050.mqtt_credentials == "vehicle.creds"
    driver = driver_from_config(config)
    assert isinstance(driver, Vda5050Driver) and driver.kind == "vda5050"
    assert driver.topics.subject("order") == "uagv.v2.RobotFleet.SN//9.order"


async def test_not_started_without_a_transport() -> None:
    driver = driver_from_config(vda_config("SN-x"))
    with pytest.raises(Exception, match="NATS transport"):
        await driver.start()
    await driver.close()
    await asyncio.sleep(0)


async def test_lease_loss_pauses_the_vehicle_and_resume_unpauses(
    mqtt_broker: EmbeddedBroker, unique: str
) -> None:
    """on_lease_loss pause: the edge calls pause_task -> ``startPause``; resume -> ``stopPause``."""
    serial = "SN-pause"
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, vda_config(serial)) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        goal = ExecuteTask.Goal(
            order_id="wo-p",
            task="pick",
            attempt=1,
            lease_s=0.3,  # never renewed: lost after 0.3 s
            on_lease_loss=ExecuteTask.Goal.LEASE_LOSS_PAUSE,
        )
        handle = await m.client.send_goal(goal)
        await v.accept()
        await v.next_action("startPause")
        await m.status("paused", lambda s: s.paused and s.current_order_id == "wo-p")
        assert m.driver.resume_task("wo-p") and not m.driver.resume_task("wo-p")
        await v.next_action("stopPause")
        await handle.cancel_goal()
        await v.next_action("cancelOrder")


async def test_charge_task_sends_start_charging(mqtt_broker: EmbeddedBroker, unique: str) -> None:
    serial = "SN-charge"
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, vda_config(serial)) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        goal = ExecuteTask.Goal(order_id="wo-ch", task="charge", attempt=1)
        handle = await m.client.send_goal(goal)
        await v.next_action("startCharging")
        await v.state(batteryState={"batteryCharge": 20.0, "charging": True})
        response = await handle.get_result(timeout=10.0)
        assert response.result.success
        await m.status("CHARGING", lambda s: s.state == 2)


async def test_state_silence_is_offline_and_a_lost_order_fails(
    mqtt_broker: EmbeddedBroker, unique: str
) -> None:
    """No state for state_timeout_s: OFFLINE, the order kept; the vehicle reports again
    without it (it lost it): the task fails."""
    serial = "SN-silent"
    config = vda_config(serial, state_timeout_s=0.5)
    async with vehicle(mqtt_broker, serial) as v, master(mqtt_broker, unique, config) as m:
        await v.state()
        await m.status("IDLE", lambda s: s.state == IDLE)
        handle = await m.goal("wo-s")
        await v.accept()
        await m.status("EXECUTING", lambda s: s.state == EXECUTING)
        offline = await m.status("OFFLINE after 0.5 s of silence", lambda s: s.state == OFFLINE)
        assert offline.current_order_id == "wo-s", "the order is kept"
        v.order_id = ""
        await v.state()
        response = await handle.get_result(timeout=10.0)
        assert not response.result.success
        assert "no longer has order wo-s.1" in response.result.message
