"""nats-server's MQTT listener on every member of a 3-server cluster (`nats_cluster:=3` with
`mqtt_port`): a retained message published on one member is read on another (once that
member has it: nats-server spreads retained messages through a replicated stream)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
from vda5050_messages import connection_message

from robotfleet_nodes.broker import EmbeddedCluster
from robotfleet_nodes.vda5050 import validate
from robotfleet_nodes.vda5050.topics import VehicleTopics, default_robot_id

TIMEOUT = 20.0
#: One MQTT connection attempt: a young cluster may leave a CONNECT unanswered; try again.
ATTEMPT_S = 2.0


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_retained_connection_crosses_cluster_members(tmp_path: Path) -> None:
    t = VehicleTopics("Acme", "SN.5")
    msg = connection_message(t, "ONLINE", 1)
    with EmbeddedCluster(3, store_dir=tmp_path / "nats", mqtt=True) as cluster:
        urls = cluster.mqtt_urls
        assert len(urls) == 3 and len({_port(u) for u in urls}) == 3
        assert all(u.startswith("mqtt://127.0.0.1:") for u in urls)
        robot = default_robot_id("Acme", "SN.5")
        await asyncio.wait_for(_publish_retained(_port(urls[0]), t.topic("connection"), msg, robot), TIMEOUT)
        # member 3 learns retained messages from the replicated stream asynchronously: a
        # subscriber there may come too early, so it polls (a fresh session each time)
        master = f"{robot}-master"
        got = await asyncio.wait_for(_retained(_port(urls[2]), t.topic("connection"), master), TIMEOUT)
        validate("connection", got)
        assert got == msg


async def _publish_retained(port: int, topic: str, msg: dict[str, object], identifier: str) -> None:
    """Publish ``msg`` retained, connecting again while the young cluster cannot yet place the
    account's MQTT session stream (nats-server refuses the CONNECT, "no suitable peers", or
    leaves it unanswered: each attempt waits :data:`ATTEMPT_S`)."""
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier=identifier, timeout=ATTEMPT_S) as vehicle:
                await vehicle.publish(topic, json.dumps(msg).encode(), qos=1, retain=True)
                return
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)  # polling a server that refused; not synchronisation


async def _retained(port: int, topic: str, identifier: str) -> dict[str, object]:
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier=identifier, timeout=ATTEMPT_S) as client:
                await client.subscribe(topic, qos=1)
                async with asyncio.timeout(1.0):
                    async for message in client.messages:
                        assert message.retain and isinstance(message.payload, bytes)
                        body: dict[str, object] = json.loads(message.payload)
                        return body
        except (TimeoutError, aiomqtt.MqttError):
            continue  # not there yet, or the member left the CONNECT unanswered: a new session
