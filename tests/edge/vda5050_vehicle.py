"""Test helper (not a test module): a scripted VDA 5050 vehicle on real MQTT (aiomqtt).

The test says what the vehicle reports (:meth:`ScriptedVehicle.state`) and reads what its
master sent (:meth:`ScriptedVehicle.next`). Every message either way is validated against
the 2.1.0 schemas: what the vehicle publishes before sending, what it receives on
``order`` / ``instantActions`` on arrival (an invalid one is recorded in :attr:`invalid`,
which the tests assert empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from datetime import UTC, datetime
from typing import Any

import aiomqtt

from robotfleet_nodes.vda5050 import SCHEMA_VERSION, errors, validate
from robotfleet_nodes.vda5050.topics import VehicleTopics, default_robot_id

TIMEOUT = 10.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ScriptedVehicle:
    """One vehicle: connects with a last will, publishes what the test scripts, records what comes."""

    def __init__(self, mqtt_url: str, manufacturer: str, serial: str, *, tls_ca: str | None = None) -> None:
        host, port = mqtt_url.removeprefix("mqtt://").removeprefix("mqtts://").rsplit(":", 1)
        self.tls = ssl.create_default_context(cafile=tls_ca) if tls_ca else None
        self.host, self.port = host, int(port)
        self.topics = VehicleTopics(manufacturer, serial)
        self.client_id = default_robot_id(manufacturer, serial)
        self._headers: dict[str, int] = {}
        self.received: dict[str, asyncio.Queue[dict[str, Any]]] = {
            "order": asyncio.Queue(),
            "instantActions": asyncio.Queue(),
        }
        self.invalid: list[str] = []
        self.client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self.order_id = ""
        self.last_node_id = ""
        self.x, self.y = 1.0, 2.0

    def header(self, topic: str) -> dict[str, Any]:
        self._headers[topic] = self._headers.get(topic, 0) + 1
        return {
            "headerId": self._headers[topic],
            "timestamp": _now(),
            "version": SCHEMA_VERSION,
            "manufacturer": self.topics.manufacturer,
            "serialNumber": self.topics.serial_number,
        }

    def connection(self, state: str) -> bytes:
        msg = {**self.header("connection"), "connectionState": state}
        validate("connection", msg)
        return json.dumps(msg).encode()

    async def connect(self) -> ScriptedVehicle:
        """Connect (will: CONNECTIONBROKEN, retained), publish ONLINE retained, listen."""
        will = aiomqtt.Will(self.topics.topic("connection"), self.connection("CONNECTIONBROKEN"), 1, True)
        self.client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            will=will,
            clean_session=True,
            timeout=2.0,
            tls_context=self.tls,
        )
        await self.client.__aenter__()
        await self.client.subscribe(self.topics.topic("order"), qos=0)
        await self.client.subscribe(self.topics.topic("instantActions"), qos=0)
        self._reader = asyncio.ensure_future(self._read(self.client))
        await self.client.publish(
            self.topics.topic("connection"), self.connection("ONLINE"), qos=1, retain=True
        )
        return self

    async def _read(self, client: aiomqtt.Client) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in client.messages:
                name = str(message.topic).rsplit("/", 1)[-1]
                assert isinstance(message.payload, bytes)
                msg = json.loads(message.payload)
                problems = errors(name, msg)
                if problems:
                    self.invalid.append(f"{name}: {problems}")
                self.received[name].put_nowait(msg)

    async def next(self, topic: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next ``order`` / ``instantActions`` message from the master."""
        return await asyncio.wait_for(self.received[topic].get(), timeout)

    async def next_action(self, action_type: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next instant action of ``action_type`` (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.received["instantActions"].get()
                for action in msg["actions"]:
                    if action["actionType"] == action_type:
                        return dict(action)

    async def accept(self, **state: Any) -> dict[str, Any]:
        """Read the next order and report it accepted (driving, its nodes and edge still to
        go, its action WAITING); the order."""
        order = await self.next("order")
        self.order_id = order["orderId"]
        target = order["nodes"][-1]
        action = target["actions"][0]
        await self.state(
            nodeStates=[{"nodeId": target["nodeId"], "sequenceId": target["sequenceId"], "released": True}],
            edgeStates=[
                {"edgeId": e["edgeId"], "sequenceId": e["sequenceId"], "released": True}
                for e in order["edges"]
            ],
            actionStates=[
                {
                    "actionId": action["actionId"],
                    "actionType": action["actionType"],
                    "actionStatus": "WAITING",
                }
            ],
            driving=True,
            velocity={"vx": 1.0, "vy": 0.0, "omega": 0.0},
            **state,
        )
        return order

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        assert self.client is not None
        await self.client.publish(self.topics.topic(topic), payload, qos=1, retain=retain)

    def state_msg(self, **fields: Any) -> dict[str, Any]:
        msg: dict[str, Any] = {
            **self.header("state"),
            "orderId": self.order_id,
            "orderUpdateId": 0,
            "lastNodeId": self.last_node_id,
            "lastNodeSequenceId": 0,
            "nodeStates": [],
            "edgeStates": [],
            "driving": False,
            "actionStates": [],
            "batteryState": {"batteryCharge": 80.0, "charging": False},
            "operatingMode": "AUTOMATIC",
            "errors": [],
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
            "agvPosition": {
                "x": self.x,
                "y": self.y,
                "theta": 0.0,
                "mapId": "map",
                "positionInitialized": True,
            },
        }
        msg.update(fields)
        validate("state", msg)
        return msg

    async def state(self, **fields: Any) -> dict[str, Any]:
        """Publish a (valid) state: the defaults, ``orderId`` / ``lastNodeId`` as set, ``fields``."""
        msg = self.state_msg(**fields)
        await self.publish("state", json.dumps(msg).encode())
        return msg

    async def disconnect(self) -> None:
        """A clean goodbye: OFFLINE (retained), then DISCONNECT (no last will)."""
        if self.client is None:
            return
        await self.publish("connection", self.connection("OFFLINE"), retain=True)
        await self.close()

    def drop(self) -> None:
        """Vanish without DISCONNECT: the broker publishes the last will (CONNECTIONBROKEN)."""
        assert self.client is not None
        sock = self.client._client.socket()
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)  # the broker sees the connection die; the fd stays valid

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.__aexit__(None, None, None)
            self.client = None
