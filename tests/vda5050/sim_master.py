"""The master side of the simulator tests: a plain aiomqtt client, checking every message."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt

from robotfleet_nodes.vda5050 import SCHEMA_VERSION, validate
from robotfleet_nodes.vda5050.topics import VehicleTopics

__all__ = ["Master", "connect_master", "make_order"]

Message = dict[str, Any]


def make_order(
    order_id: str,
    points: list[tuple[float, float]],
    *,
    actions: dict[int, list[tuple[str, str]]] | None = None,
    update_id: int = 0,
    first_seq: int = 0,
    released: int | None = None,
    header: int = 0,
    vehicle: VehicleTopics,
) -> Message:
    """An order over ``points`` (node i at points[i]), node ``i`` running ``actions[i]``.

    Only the first ``released`` nodes are released (the rest is the horizon).
    """
    actions = actions or {}
    released = len(points) if released is None else released
    nodes, edges = [], []
    for i, (x, y) in enumerate(points):
        seq = first_seq + 2 * i
        nodes.append(
            {
                "nodeId": f"n{seq}",
                "sequenceId": seq,
                "released": i < released,
                "nodePosition": {"x": x, "y": y, "mapId": "map"},
                "actions": [
                    {"actionId": aid, "actionType": kind, "blockingType": "HARD"}
                    for aid, kind in actions.get(i, [])
                ],
            }
        )
        if i:
            edges.append(
                {
                    "edgeId": f"e{seq - 1}",
                    "sequenceId": seq - 1,
                    "released": i < released,
                    "startNodeId": f"n{seq - 2}",
                    "endNodeId": f"n{seq}",
                    "actions": [],
                }
            )
    return {
        "headerId": header,
        "timestamp": "2026-12-05T12:00:00.00Z",
        "version": SCHEMA_VERSION,
        "manufacturer": vehicle.manufacturer,
        "serialNumber": vehicle.serial_number,
        "orderId": order_id,
        "orderUpdateId": update_id,
        "nodes": nodes,
        "edges": edges,
    }


class Master:
    """Receives everything on one vehicle's topics; asserts the vehicle's messages are valid."""

    def __init__(self, client: aiomqtt.Client, vehicle: VehicleTopics) -> None:
        self.client = client
        self.vehicle = vehicle
        self.queues: dict[str, asyncio.Queue[Message]] = {
            t: asyncio.Queue() for t in ("state", "connection", "factsheet", "visualization")
        }
        self.header_ids: dict[str, int] = {}
        self.retained: list[tuple[str, bool]] = []
        self._headers = {"order": 0, "instantActions": 0}
        self.failure: BaseException | None = None

    async def pump(self) -> None:
        try:
            await self._pump()
        except Exception as exc:  # an invalid message: make the test fail, not just this task
            self.failure = exc
            for queue in self.queues.values():
                queue.put_nowait({})

    async def _pump(self) -> None:
        async for message in self.client.messages:
            name = str(message.topic).rsplit("/", 1)[-1]
            if name not in self.queues:
                continue  # our own order / instantActions
            assert isinstance(message.payload, bytes)
            body = json.loads(message.payload)
            validate(name, body)  # every message the vehicle sends is valid VDA 5050 2.1.0
            assert body["serialNumber"] == self.vehicle.serial_number
            if not message.retain:
                # headerId increases per topic (a retained message replays an old one)
                assert body["headerId"] > self.header_ids.get(name, -1), (name, body["headerId"])
                self.header_ids[name] = body["headerId"]
            self.retained.append((name, message.retain))
            self.queues[name].put_nowait(body)

    async def next(
        self, topic: str, match: Callable[[Message], bool] = lambda m: True, timeout: float = 10.0
    ) -> Message:
        """The next ``topic`` message for which ``match`` holds (earlier ones are dropped)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.queues[topic].get()
                if self.failure is not None:
                    raise AssertionError(f"the vehicle sent an invalid message: {self.failure}")
                if match(message):
                    return message

    async def send(self, topic: str, body: Message | bytes) -> None:
        if isinstance(body, dict):
            validate(topic, body)
            payload = json.dumps(body).encode()
        else:
            payload = body
        await self.client.publish(self.vehicle.topic(topic), payload, qos=0)

    async def order(self, order: Message) -> None:
        await self.send("order", order)

    async def instant(self, *actions: tuple[str, str]) -> None:
        """One ``instantActions`` message with (actionId, actionType) actions."""
        self._headers["instantActions"] += 1
        await self.send(
            "instantActions",
            {
                "headerId": self._headers["instantActions"],
                "timestamp": "2026-12-05T12:00:00.00Z",
                "version": SCHEMA_VERSION,
                "manufacturer": self.vehicle.manufacturer,
                "serialNumber": self.vehicle.serial_number,
                "actions": [
                    {"actionId": aid, "actionType": kind, "blockingType": "HARD"} for aid, kind in actions
                ],
            },
        )


@contextlib.asynccontextmanager
async def connect_master(
    mqtt_url: str, vehicle: VehicleTopics, client_id: str, *, tls_ca: str | None = None
) -> AsyncIterator[Master]:
    """A master subscribed to ``<vehicle prefix>/#`` (QoS 1, so retained QoS 1 arrive too)."""
    host, port = mqtt_url.split("://", 1)[1].rsplit(":", 1)
    tls = ssl.create_default_context(cafile=tls_ca) if mqtt_url.startswith("mqtts://") else None
    async with aiomqtt.Client(host, int(port), identifier=client_id, tls_context=tls) as client:
        master = Master(client, vehicle)
        await client.subscribe(f"{vehicle.prefix}/#", qos=1)
        pump = asyncio.create_task(master.pump())
        try:
            yield master
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if master.failure is not None:
            raise AssertionError(f"the vehicle sent an invalid message: {master.failure}")
