"""The VDA 5050 vehicle simulator against nats-server's MQTT listener, the master played by a
plain MQTT client. Every message the vehicle sends is validated against the 2.1.0 schemas
(``Master`` asserts it), and headerIds must increase per topic."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.vda5050.sim import VehicleSim
from tests.shared_helpers import eventually
from tests.vda5050.sim_master import Master, connect_master, make_order


@pytest.fixture(scope="module")
def mqtt_url() -> Iterator[str]:
    with EmbeddedBroker(mqtt_port=-1) as server:
        assert server.mqtt_url is not None
        yield server.mqtt_url


@contextlib.asynccontextmanager
async def rig(mqtt_url: str, **options: Any) -> AsyncIterator[tuple[VehicleSim, Master]]:
    """A fresh vehicle (serial with a '.') and a master that subscribed before it connected."""
    options = {"speed": 20.0, "work_time_s": 0.05, "state_period_s": 5.0, "validate": True, **options}
    vehicle = VehicleSim("Acme", f"SN.{uuid.uuid4().hex[:8]}", mqtt_url=mqtt_url, **options)
    async with connect_master(mqtt_url, vehicle.topics, f"master-{uuid.uuid4().hex[:8]}") as master:
        await vehicle.start()
        try:
            yield vehicle, master
        finally:
            await vehicle.stop()
    assert vehicle.counters.invalid_sent == 0


def _status(state: dict[str, Any]) -> dict[str, str]:
    return {a["actionId"]: a["actionStatus"] for a in state["actionStates"]}


async def test_order_is_driven_to_the_end(mqtt_url: str) -> None:
    async with rig(mqtt_url) as (vehicle, master):
        online = await master.next("connection")
        assert online["connectionState"] == "ONLINE"
        factsheet = await master.next("factsheet")
        assert factsheet["protocolFeatures"]["agvActions"]
        order = make_order(
            "wo1.1",
            [(0, 0), (1, 0), (1, 2)],
            actions={1: [("a1", "pick")], 2: [("a2", "drop")]},
            vehicle=vehicle.topics,
        )
        await master.order(order)
        accepted = await master.next("state", lambda s: s["orderId"] == "wo1.1")
        assert _status(accepted) == {"a1": "WAITING", "a2": "WAITING"}
        assert [n["nodeId"] for n in accepted["nodeStates"]] in (["n0", "n2", "n4"], ["n2", "n4"])
        history = [accepted]
        while _status(history[-1]) != {"a1": "FINISHED", "a2": "FINISHED"}:
            history.append(await master.next("state"))
        done = history[-1]
        assert any(s["driving"] for s in history)
        running = [s for s in history if _status(s)["a1"] == "RUNNING"]
        assert running and running[0]["lastNodeId"] == "n2" and not running[0]["driving"]
        assert [n["nodeId"] for n in running[0]["nodeStates"]] == ["n4"]
        assert [e["edgeId"] for e in running[0]["edgeStates"]] == ["e3"]
        assert done["lastNodeId"] == "n4" and done["lastNodeSequenceId"] == 4
        assert done["nodeStates"] == [] and done["edgeStates"] == [] and not done["driving"]
        assert (done["agvPosition"]["x"], done["agvPosition"]["y"]) == (1, 2)
        assert done["errors"] == []
        assert done["batteryState"]["batteryCharge"] < 100
        await eventually(lambda: vehicle.counters.orders_finished == 1, timeout=10)
        assert vehicle.counters.orders_accepted == 1 and vehicle.counters.actions_finished == 2


async def test_same_order_twice_is_ignored_an_update_extends_it(mqtt_url: str) -> None:
    async with rig(mqtt_url, speed=5.0) as (vehicle, master):
        t = vehicle.topics
        order = make_order("wo2.1", [(0, 0), (1, 0), (2, 0)], released=2, vehicle=t)
        await master.order(order)
        await master.next("state", lambda s: s["orderId"] == "wo2.1")
        received: list[str] = []
        vehicle.add_listener(lambda topic, payload: received.append(topic))
        await master.order(order)  # same orderId, same orderUpdateId: already received (6.6.4)
        await eventually(lambda: vehicle.counters.orders_ignored == 1, timeout=10)
        assert received == ["order"]
        at_base_end = await master.next("state", lambda s: s["lastNodeId"] == "n2" and not s["driving"])
        assert [(n["nodeId"], n["released"]) for n in at_base_end["nodeStates"]] == [("n4", False)]
        update = make_order("wo2.1", [(1, 0), (2, 0), (3, 0)], first_seq=2, update_id=1, header=1, vehicle=t)
        await master.order(update)
        done = await master.next("state", lambda s: s["lastNodeId"] == "n6" and not s["nodeStates"])
        assert done["orderUpdateId"] == 1 and done["agvPosition"]["x"] == 3
        stale = make_order("wo2.1", [(3, 0)], first_seq=6, header=2, vehicle=t)  # orderUpdateId 0 < 1
        await master.order(stale)
        refused = await master.next("state", lambda s: bool(s["errors"]))
        assert refused["errors"][0]["errorType"] == "orderUpdateError"
        assert refused["orderUpdateId"] == 1
        c = vehicle.counters
        assert (c.orders_accepted, c.orders_updated, c.orders_ignored, c.orders_rejected) == (1, 1, 1, 1)


async def test_another_order_while_busy_is_refused(mqtt_url: str) -> None:
    async with rig(mqtt_url, speed=1.0) as (vehicle, master):
        t = vehicle.topics
        await master.order(make_order("wo3.1", [(0, 0), (50, 0)], vehicle=t))
        await master.next("state", lambda s: s["driving"])
        await master.order(make_order("wo4.1", [(0, 0), (1, 0)], header=1, vehicle=t))
        refused = await master.next("state", lambda s: bool(s["errors"]))
        error = refused["errors"][0]
        assert error["errorType"] == "orderError" and error["errorLevel"] == "WARNING"
        refs = {r["referenceKey"]: r["referenceValue"] for r in error["errorReferences"]}
        assert refs["orderId"] == "wo4.1" and refs["headerId"] == "1"
        assert refused["orderId"] == "wo3.1"


async def test_cancel_mid_order(mqtt_url: str) -> None:
    async with rig(mqtt_url, speed=1.0) as (vehicle, master):
        t = vehicle.topics
        order = make_order("wo5.1", [(0, 0), (50, 0), (60, 0)], actions={1: [("p", "pick")]}, vehicle=t)
        await master.order(order)
        await master.next("state", lambda s: s["driving"])
        await master.instant(("c1", "cancelOrder"))
        cancelled = await master.next("state", lambda s: _status(s).get("c1") == "FINISHED")
        assert cancelled["nodeStates"] == [] and cancelled["edgeStates"] == []
        assert not cancelled["driving"] and _status(cancelled)["p"] == "FAILED"
        assert cancelled["orderId"] == "wo5.1"
        assert cancelled["agvPosition"]["x"] < 50
        await master.instant(("c2", "cancelOrder"))  # nothing left to cancel
        nothing = await master.next("state", lambda s: _status(s).get("c2") == "FAILED")
        assert nothing["errors"][-1]["errorType"] == "noOrderToCancel"
        assert vehicle.counters.orders_cancelled == 1
        # a new order after a cancel is accepted
        await master.order(make_order("wo6.1", [(1, 0), (2, 0)], header=1, vehicle=t))
        await master.next("state", lambda s: s["orderId"] == "wo6.1" and s["lastNodeId"] == "n2")


async def test_pause_stops_motion_until_resumed(mqtt_url: str) -> None:
    async with rig(mqtt_url, speed=2.0) as (vehicle, master):
        t = vehicle.topics
        await master.order(make_order("wo7.1", [(0, 0), (3, 0)], vehicle=t))
        await master.next("state", lambda s: s["driving"])
        await master.instant(("p1", "startPause"))
        paused = await master.next("state", lambda s: _status(s).get("p1") == "FINISHED")
        assert paused["paused"] and not paused["driving"]
        await master.instant(("s1", "stateRequest"))
        later = await master.next("state", lambda s: _status(s).get("s1") == "FINISHED")
        assert later["paused"] and not later["driving"]
        assert later["agvPosition"]["x"] == pytest.approx(paused["agvPosition"]["x"], abs=0.6)
        assert later["lastNodeId"] == "n0"
        await master.instant(("p2", "stopPause"))
        resumed = await master.next("state", lambda s: _status(s).get("p2") == "FINISHED")
        assert not resumed["paused"]
        await master.next("state", lambda s: s["lastNodeId"] == "n2")


async def test_charging_only_when_idle(mqtt_url: str) -> None:
    async with rig(mqtt_url, speed=1.0, battery=50.0) as (vehicle, master):
        t = vehicle.topics
        await master.instant(("ch1", "startCharging"))
        charging = await master.next("state", lambda s: _status(s).get("ch1") == "FINISHED")
        assert charging["batteryState"]["charging"]
        await master.instant(("ch2", "stopCharging"))
        stopped = await master.next("state", lambda s: _status(s).get("ch2") == "FINISHED")
        assert not stopped["batteryState"]["charging"]
        await master.order(make_order("wo8.1", [(0, 0), (50, 0)], vehicle=t))
        await master.next("state", lambda s: s["driving"])
        await master.instant(("ch3", "startCharging"))
        refused = await master.next("state", lambda s: _status(s).get("ch3") == "FAILED")
        assert not refused["batteryState"]["charging"]
        assert refused["errors"][-1]["errorType"] == "chargingError"


async def test_fail_action_fails_with_an_error(mqtt_url: str) -> None:
    async with rig(mqtt_url) as (vehicle, master):
        order = make_order("wo9.1", [(0, 0), (1, 0)], actions={1: [("f1", "fail")]}, vehicle=vehicle.topics)
        await master.order(order)
        failed = await master.next("state", lambda s: _status(s).get("f1") == "FAILED")
        error = failed["errors"][-1]
        assert "f1" in error["errorDescription"] and error["errorLevel"] == "WARNING"
        assert vehicle.counters.actions_failed == 1


async def test_malformed_and_invalid_orders_are_refused_and_the_vehicle_goes_on(mqtt_url: str) -> None:
    async with rig(mqtt_url) as (vehicle, master):
        t = vehicle.topics
        await master.send("order", b"{not json")
        first = await master.next("state", lambda s: bool(s["errors"]))
        assert first["errors"][0]["errorType"] == "validationError"
        bad = make_order("wo10.1", [(0, 0)], vehicle=t)
        del bad["nodes"][0]["released"]
        await master.send("order", json.dumps(bad).encode())
        second = await master.next("state", lambda s: len(s["errors"]) == 2)
        error = second["errors"][1]
        assert error["errorType"] == "validationError" and "released" in error["errorDescription"]
        refs = {r["referenceKey"]: r["referenceValue"] for r in error["errorReferences"]}
        assert refs["orderId"] == "wo10.1" and refs["topic"] == "order"
        await master.send("instantActions", b"[]")
        await eventually(lambda: vehicle.counters.schema_errors == 3, timeout=10)
        assert vehicle.counters.orders_rejected == 2 and second["orderId"] == ""
        await master.order(make_order("wo11.1", [(0, 0), (1, 0)], vehicle=t))
        done = await master.next("state", lambda s: s["orderId"] == "wo11.1" and s["lastNodeId"] == "n2")
        assert done["errors"] == []  # accepting a new order clears them


async def test_factsheet_and_state_on_request(mqtt_url: str) -> None:
    async with rig(mqtt_url) as (_, master):
        await master.next("factsheet")
        await master.instant(("fs", "factsheetRequest"), ("st", "stateRequest"))
        again = await master.next("factsheet")
        assert again["typeSpecification"]["agvKinematic"] == "DIFF"
        await master.next("state", lambda s: _status(s) == {"fs": "FINISHED", "st": "FINISHED"})


async def test_drop_sends_the_last_will_stop_says_offline_and_both_are_retained(mqtt_url: str) -> None:
    async with rig(mqtt_url) as (vehicle, master):
        assert (await master.next("connection"))["connectionState"] == "ONLINE"
        await vehicle.drop()
        broken = await master.next("connection")
        assert broken["connectionState"] == "CONNECTIONBROKEN"
        async with connect_master(mqtt_url, vehicle.topics, f"late-{uuid.uuid4().hex[:8]}") as late:
            retained = await late.next("connection")
            assert retained["connectionState"] == "CONNECTIONBROKEN"
            assert ("connection", True) in late.retained
        await vehicle.start()  # a dropped vehicle can come back
        assert (await master.next("connection"))["connectionState"] == "ONLINE"
        await vehicle.stop()
        assert (await master.next("connection"))["connectionState"] == "OFFLINE"
        async with connect_master(mqtt_url, vehicle.topics, f"late-{uuid.uuid4().hex[:8]}") as late:
            assert (await late.next("connection"))["connectionState"] == "OFFLINE"
            assert (await late.next("factsheet"))["serialNumber"] == vehicle.serial_number


async def test_instant_actions_do_not_pile_up_in_the_state(mqtt_url: str) -> None:
    async with rig(mqtt_url) as (_, master):
        await master.instant(*((f"s{i}", "stateRequest") for i in range(15)))
        state = await master.next("state", lambda s: _status(s).get("s14") == "FINISHED")
        assert 0 < len(state["actionStates"]) <= 11


async def test_vehicle_reconnects_after_the_broker_restarts() -> None:
    with EmbeddedBroker(mqtt_port=-1) as broker:
        assert broker.mqtt_url is not None
        url = broker.mqtt_url
        vehicle = VehicleSim("Acme", f"SN.{uuid.uuid4().hex[:8]}", mqtt_url=url, validate=True)
        await vehicle.start()
        try:
            broker.restart()
            await eventually(lambda: not vehicle.connected.is_set(), timeout=10, what="the loss seen")
            await eventually(vehicle.connected.is_set, timeout=20, what="the vehicle back")
            async with connect_master(url, vehicle.topics, f"m-{uuid.uuid4().hex[:8]}") as master:
                await master.instant(("after", "stateRequest"))  # its subscriptions are back too
                await master.next("state", lambda s: _status(s).get("after") == "FINISHED")
        finally:
            await vehicle.stop()


async def test_an_order_right_after_a_cancel_runs(mqtt_url: str) -> None:
    async with rig(mqtt_url, speed=1.0) as (vehicle, master):
        t = vehicle.topics
        await master.order(make_order("wo12.1", [(0, 0), (50, 0)], vehicle=t))
        await master.next("state", lambda s: s["driving"])
        await master.instant(("c", "cancelOrder"))  # no wait in between: both may arrive in one read
        await master.order(make_order("wo13.1", [(0, 0), (0.5, 0)], header=1, vehicle=t))
        await master.next("state", lambda s: s["orderId"] == "wo13.1" and s["lastNodeId"] == "n2")
        assert vehicle.counters.orders_cancelled == 1 and vehicle.counters.orders_finished == 1


async def test_a_vehicle_back_after_a_drop_finishes_its_order(mqtt_url: str) -> None:
    async with rig(mqtt_url, speed=4.0) as (vehicle, master):
        await master.order(make_order("wo14.1", [(0, 0), (2, 0)], vehicle=vehicle.topics))
        await master.next("state", lambda s: s["driving"])
        await vehicle.drop()
        await master.next("connection", lambda c: c["connectionState"] == "CONNECTIONBROKEN")
        await vehicle.start()
        done = await master.next("state", lambda s: s["lastNodeId"] == "n2")
        assert done["nodeStates"] == [] and done["agvPosition"]["x"] == 2
