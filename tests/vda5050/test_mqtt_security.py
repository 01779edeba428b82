"""VDA 5050 vehicles on a secured broker, from `rfos fleet gen-config --vda5050 2`'s own files.

nats-server (operator mode, TLS from secrets/nats-mqtt.conf) takes a vehicle's bearer user
JWT as its MQTT password. What it does with a vehicle that oversteps, found here and asserted:
a publish on another vehicle's topic is dropped (the client stays connected; the server logs a
"Publish Violation"); a subscription to another vehicle's topic is refused in the SUBACK
(return code 0x80). Every message these tests put on `uagv/#` validates against the 2.1.0
schemas.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import aiomqtt
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from shared_helpers import eventually
from vda5050_messages import connection, header

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.security.creds import read_creds
from robotfleet_nodes.vda5050 import validate
from robotfleet_nodes.vda5050.topics import VehicleTopics

V1, V2 = VehicleTopics("RobotFleetSim", "SN.1"), VehicleTopics("RobotFleetSim", "SN.2")
R1, R2 = "RobotFleetSim-SN_1", "RobotFleetSim-SN_2"
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vda-secure")
    generate_deployment(out, robots=1, zones=1, containers=1, vda5050=2)
    return out


@pytest.fixture(scope="module")
def broker(deployment: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    secrets = deployment / "secrets"
    with EmbeddedBroker(
        host="127.0.0.1",
        port=0,
        config_file=secrets / "nats-server.conf",
        store_dir=tmp_path_factory.mktemp("vda-js"),
        mqtt_port=-1,
        mqtt_config=secrets / "nats-mqtt.conf",
    ) as server:
        yield server


def state(t: VehicleTopics, header_id: int) -> bytes:
    msg = {
        **header(t, header_id),
        "orderId": "",
        "orderUpdateId": 0,
        "lastNodeId": "",
        "lastNodeSequenceId": 0,
        "nodeStates": [],
        "edgeStates": [],
        "driving": False,
        "actionStates": [],
        "batteryState": {"batteryCharge": 80.0, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }
    validate("state", msg)
    return json.dumps(msg).encode()


def order(t: VehicleTopics, order_id: str) -> bytes:
    msg = {
        **header(t, 0),
        "orderId": order_id,
        "orderUpdateId": 0,
        "nodes": [{"nodeId": "n1", "sequenceId": 0, "released": True, "actions": []}],
        "edges": [],
    }
    validate("order", msg)
    return json.dumps(msg).encode()


def _tls(deployment: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(deployment / "secrets" / "ca.pem"))


def _password(deployment: Path, name: str) -> str:
    return read_creds(deployment / "secrets" / "vda5050" / f"{name}.creds").jwt


@asynccontextmanager
async def mqtt(
    broker: EmbeddedBroker, deployment: Path, name: str, *, will: aiomqtt.Will | None = None
) -> AsyncIterator[aiomqtt.Client]:
    """An MQTT client over TLS logged in as identity ``vda5050/<name>`` (client id = name)."""
    assert broker.mqtt_url is not None and broker.mqtt_url.startswith("mqtts://")
    port = int(broker.mqtt_url.rsplit(":", 1)[1])
    client = aiomqtt.Client(
        "localhost",
        port,
        identifier=name,
        username=name,
        password=_password(deployment, name),
        tls_context=_tls(deployment),
        will=will,
        timeout=TIMEOUT,
    )
    async with client:
        yield client


async def nats_as(broker: EmbeddedBroker, deployment: Path, creds: str) -> NatsClient:
    return await nats.connect(
        broker.url,
        user_credentials=str(deployment / "secrets" / creds),
        tls=_tls(deployment),
        tls_hostname="localhost",
        allow_reconnect=False,
        connect_timeout=TIMEOUT,
    )


async def collect(nc: NatsClient, subject: str) -> asyncio.Queue[Msg]:
    seen: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        seen.put_nowait(msg)

    await nc.subscribe(subject, cb=on_msg)
    await nc.flush()
    return seen


async def _first_of(seen: asyncio.Queue[Msg], publish: Callable[[], Awaitable[None]]) -> Msg:
    """The first message ``seen`` gets while ``publish`` is repeated every second (a rare
    lost first delivery under load was seen once in a while; retrying keeps the point:
    whatever comes first must not be the retained message)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            await publish()
            with suppress(TimeoutError):
                return await asyncio.wait_for(seen.get(), 1.0)
    raise AssertionError("unreachable")


async def next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(TIMEOUT):
        async for message in client.messages:
            return message
    raise AssertionError("no MQTT message")


async def test_vehicle_state_reaches_its_edge_and_the_edge_orders_it(
    broker: EmbeddedBroker, deployment: Path
) -> None:
    """Both NATS identities of the vehicle's edge (its own, edges:=process; the vehicles'
    container's, edges:=composed) read its state and send it orders."""
    for edge_creds in (f"{R1}.creds", "vehicles-1-2.creds"):  # containers=1: one part, 1-2
        edge = await nats_as(broker, deployment, edge_creds)
        try:
            states = await collect(edge, V1.subject("state"))
            async with mqtt(broker, deployment, R1) as vehicle:
                await vehicle.subscribe(V1.topic("order"), qos=1)
                await vehicle.publish(V1.topic("state"), state(V1, 1), qos=1)
                got = await asyncio.wait_for(states.get(), TIMEOUT)
                validate("state", json.loads(got.data))
                await edge.publish(V1.subject("order"), order(V1, "wo-1.1"))
                message = await next_message(vehicle)
                assert str(message.topic) == V1.topic("order")
                assert isinstance(message.payload, bytes)
                validate("order", json.loads(message.payload))
        finally:
            await edge.close()


async def test_vehicle_cannot_publish_on_another_vehicles_topics(
    broker: EmbeddedBroker, deployment: Path
) -> None:
    """The forbidden publish is dropped, the connection stays: the vehicle's next (allowed)
    message arrives, and nothing arrived before it on the other vehicle's subjects."""
    operator = await nats_as(broker, deployment, "operator.creds")
    try:
        seen = await collect(operator, "uagv.>")
        async with mqtt(broker, deployment, R1) as vehicle:
            for qos in (0, 1):
                await vehicle.publish(V2.topic("state"), state(V2, qos), qos=qos)
                await vehicle.publish(V2.topic("connection"), connection(V2, "OFFLINE"), qos=qos)
            await vehicle.publish(V1.topic("state"), state(V1, 7), qos=1)
            first = await asyncio.wait_for(seen.get(), TIMEOUT)
            assert first.subject == V1.subject("state")
        assert seen.empty()
    finally:
        await operator.close()
    assert any(f'Publish Violation - Subject "{V2.subject("state")}"' in line for line in broker._tail)


async def test_vehicle_cannot_subscribe_to_another_vehicles_order(
    broker: EmbeddedBroker, deployment: Path
) -> None:
    edge = await nats_as(broker, deployment, "operator.creds")
    try:
        async with mqtt(broker, deployment, R1) as vehicle:
            granted = await vehicle.subscribe(V1.topic("order"), qos=1)
            refused = await vehicle.subscribe(V2.topic("order"), qos=1)
            wildcard = await vehicle.subscribe("uagv/#", qos=1)
            assert [code.value for code in granted] == [1]  # type: ignore[union-attr]
            assert [code.value for code in refused] == [0x80]  # type: ignore[union-attr]
            assert [code.value for code in wildcard] == [0x80]  # type: ignore[union-attr]
            await edge.publish(V2.subject("order"), order(V2, "wo-2.1"))
            await edge.publish(V1.subject("order"), order(V1, "wo-3.1"))
            message = await next_message(vehicle)  # the first one it gets is its own
            assert str(message.topic) == V1.topic("order")
            assert isinstance(message.payload, bytes)
            assert json.loads(message.payload)["orderId"] == "wo-3.1"
    finally:
        await edge.close()


@pytest.mark.parametrize("name", [R1, f"{R1}-master"])
async def test_mqtt_identities_are_refused_on_the_nats_port(
    broker: EmbeddedBroker, deployment: Path, name: str
) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats_as(broker, deployment, f"vda5050/{name}.creds")


async def test_retained_connection_for_a_late_mqtt_subscriber_not_a_late_nats_one(
    broker: EmbeddedBroker, deployment: Path
) -> None:
    """The master identity reads vehicle 2's retained `connection` through MQTT (and nothing
    else: another subscription is refused); a NATS subscriber arriving late misses it."""
    async with mqtt(broker, deployment, R2) as vehicle:
        await vehicle.publish(V2.topic("connection"), connection(V2, "ONLINE", 3), qos=1, retain=True)
        async with mqtt(broker, deployment, f"{R2}-master") as master:
            assert [c.value for c in await master.subscribe(V2.topic("state"), qos=1)] == [0x80]  # type: ignore[union-attr]
            assert [c.value for c in await master.subscribe(V1.topic("connection"), qos=1)] == [0x80]  # type: ignore[union-attr]
            assert [c.value for c in await master.subscribe(V2.topic("connection"), qos=1)] == [1]  # type: ignore[union-attr]
            message = await next_message(master)
            assert str(message.topic) == V2.topic("connection") and message.retain
            assert isinstance(message.payload, bytes)
            body = json.loads(message.payload)
            validate("connection", body)
            assert body["headerId"] == 3
            # nor may it publish: dropped, as the server's log says
            await master.publish(V2.topic("connection"), connection(V2, "OFFLINE", 99), qos=1)
            violation = f'"{R2}-master" - Publish Violation - Subject "{V2.subject("connection")}"'
            await eventually(
                lambda: any(violation in line for line in broker._tail), timeout=TIMEOUT, what=violation
            )
        edge = await nats_as(broker, deployment, f"{R2}.creds")
        try:
            late = await collect(edge, f"{V2.subject_prefix}.>")
            first = await _first_of(late, lambda: vehicle.publish(V2.topic("state"), state(V2, 4), qos=1))
            assert first.subject == V2.subject("state")  # not the retained connection
        finally:
            await edge.close()


async def test_last_will_is_published_with_the_vehicles_own_permissions(
    broker: EmbeddedBroker, deployment: Path
) -> None:
    """The broker publishes the last will (CONNECTIONBROKEN) when the vehicle's connection
    breaks: its `connection` permission is all that needs."""
    edge = await nats_as(broker, deployment, f"{R1}.creds")
    try:
        seen = await collect(edge, V1.subject("connection"))
        will = aiomqtt.Will(V1.topic("connection"), connection(V1, "CONNECTIONBROKEN", 9), qos=1, retain=True)
        with suppress(aiomqtt.MqttError):
            async with mqtt(broker, deployment, R1, will=will) as vehicle:
                await vehicle.publish(V1.topic("connection"), connection(V1, "ONLINE", 8), qos=1, retain=True)
                assert json.loads((await asyncio.wait_for(seen.get(), TIMEOUT)).data)["headerId"] == 8
                sock = vehicle._client.socket()  # break the connection without DISCONNECT
                assert sock is not None
                sock.shutdown(2)
        got = json.loads((await asyncio.wait_for(seen.get(), TIMEOUT)).data)
        validate("connection", got)
        assert got["connectionState"] == "CONNECTIONBROKEN"
    finally:
        await edge.close()


async def test_a_revoked_vehicle_cannot_log_in_again(tmp_path: Path) -> None:
    """`rfos security revoke vda5050/<robot_id> --url ...`: the server gets the new account
    JWT and refuses the vehicle's next MQTT login; the other vehicle still logs in."""
    from robotfleet_nodes.security.revocation import revoke

    out = tmp_path / "dep"
    generate_deployment(out, robots=1, zones=1, containers=1, vda5050=2)
    secrets = out / "secrets"
    with EmbeddedBroker(
        host="127.0.0.1",
        port=0,
        config_file=secrets / "nats-server.conf",
        store_dir=tmp_path / "js",
        mqtt_port=-1,
        mqtt_config=secrets / "nats-mqtt.conf",
    ) as server:
        password = _password(out, R1)  # the JWT issued before the revocation
        async with mqtt(server, out, R1):
            pass
        result = await revoke(out, f"vda5050/{R1}", url=server.url, ca=str(secrets / "ca.pem"))
        assert result.pushed
        port = int(str(server.mqtt_url).rsplit(":", 1)[1])
        refused = aiomqtt.Client(
            "localhost",
            port,
            identifier=R1,
            username=R1,
            password=password,
            tls_context=_tls(out),
            timeout=TIMEOUT,
        )
        with pytest.raises(aiomqtt.MqttError):
            async with refused:
                pass
        async with mqtt(server, out, R2):
            pass
