"""Topic <-> subject mapping and robot ids, checked against nats-server's own MQTT listener."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest
from nats.aio.msg import Msg

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import load_config
from robotfleet_nodes.errors import Vda5050ConfigError
from robotfleet_nodes.transport.nats import NatsTransport
from robotfleet_nodes.vda5050.topics import VehicleTopics, check_level, default_robot_id, subject, topic_of


def test_dot_in_serial_becomes_double_slash() -> None:
    t = VehicleTopics("Acme", "SN.1")
    assert t.topic("state") == "uagv/v2/Acme/SN.1/state"
    assert t.subject("state") == "uagv.v2.Acme.SN//1.state"
    assert topic_of(t.subject("order")) == "uagv/v2/Acme/SN.1/order"


def test_default_robot_id_is_subject_safe() -> None:
    assert default_robot_id("Acme", "SN.1") == "Acme-SN_1"
    assert default_robot_id("Acme", "SN-7") == "Acme-SN-7"
    assert default_robot_id("3M", "x") == "v_3M-x"


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "a+b", "a#b", "a*b", "a>b", "$SYS"])
def test_levels_a_topic_cannot_carry_are_refused(bad: str) -> None:
    with pytest.raises(Vda5050ConfigError):
        check_level(bad, "serialNumber")
    with pytest.raises(ValueError, match="VDA 5050"):  # also a ValueError, for callers that catch those
        VehicleTopics("Acme", bad)


@pytest.mark.parametrize("serial", ["SN-1", "SN.1", "a.b.c", "x_y"])
async def test_mapping_matches_nats_server(serial: str) -> None:
    """An MQTT publish on the vehicle's topic arrives on exactly the subject we compute,
    and a NATS publish on that subject reaches the MQTT subscriber of the topic."""
    with EmbeddedBroker(mqtt_port=-1) as broker:
        assert broker.mqtt_url is not None
        host, port = broker.mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
        t = VehicleTopics("Acme", serial)
        transport = NatsTransport(broker.url)
        await transport.connect()
        try:
            seen: asyncio.Queue[str] = asyncio.Queue()

            async def on_msg(msg: Msg) -> None:
                seen.put_nowait(msg.subject)

            await transport.subscribe_raw(f"{t.subject_prefix}.>", on_msg)
            await transport.flush()
            async with aiomqtt.Client(host, int(port), identifier=default_robot_id("Acme", serial)) as client:
                await client.subscribe(t.topic("order"))
                await client.publish(t.topic("state"), b"{}")
                assert await asyncio.wait_for(seen.get(), 10) == t.subject("state")
                assert subject(t.topic("state")) == t.subject("state")
                await (await transport.raw_publisher(t.subject("order"))).publish(b"{}")
                async with asyncio.timeout(10):
                    async for message in client.messages:
                        assert str(message.topic) == t.topic("order")
                        break
        finally:
            await transport.close()


def test_mqtt_listener_port_survives_restart() -> None:
    with EmbeddedBroker(mqtt_port=-1) as broker:
        first = broker.mqtt_url
        broker.restart()
        assert broker.mqtt_url == first


def test_a_vehicle_edge_without_robot_id_is_named_after_its_vehicle(tmp_path: Path) -> None:
    """``driver: vda5050`` and no ``robot_id``: ``<manufacturer>-<serialNumber>``, subject-safe;
    a ``robot_id`` in the file or ``EDGE_ROBOT_ID`` wins."""
    path = tmp_path / "edge.yaml"
    vehicle = "driver: vda5050\nvda5050:\n  manufacturer: Acme\n  serial_number: SN.1\n"
    path.write_text(vehicle)
    assert load_config("edge", str(path), environ={}).robot_id == "Acme-SN_1"
    assert load_config("edge", str(path), environ={"EDGE_ROBOT_ID": "agv-7"}).robot_id == "agv-7"
    path.write_text(
        "robot_id: agv-9\ndriver: vda5050\nvda5050:\n  manufacturer: Acme\n  serial_number: SN.1\n"
    )
    assert load_config("edge", str(path), environ={}).robot_id == "agv-9"
    path.write_text("driver: sim\n")
    assert load_config("edge", str(path), environ={}).robot_id == "robot-1"
