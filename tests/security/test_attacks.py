"""Every attack of issue 14, made with robot-8's, viewer's and a zone's credentials on a real
nats-server started from the generated configuration: each is refused with a permission
violation (the client's error callback says so, the server logs it), nothing is lost, and
the attacker's connection keeps working for what it may do. Without credentials the
connection is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import pytest
from nats.js import api
from secured_server import SecuredServer

P = "rfos.0"
EVENTS = "RFOS_rfos_0_ORDER_EVENTS"
BUCKET = "RFOS_rfos_0_ORDERS"
FACTSHEETS = "RFOS_rfos_0_FACTSHEETS"
TIMEOUT = 5.0


@dataclass
class Client:
    """A connection as one identity, recording the errors the server sent it."""

    name: str
    nc: Any = None
    errors: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_error(self, exc: Exception) -> None:
        self.errors.append(str(exc))
        self.changed.set()

    async def violation(self, subject: str, what: str) -> str:
        """Wait for the server's permission violation about ``subject``."""
        needle = f'permissions violation for {what} to "{subject}"'.lower()

        def found() -> str | None:
            return next((e for e in self.errors if needle in e.lower()), None)

        async with asyncio.timeout(TIMEOUT):
            while (hit := found()) is None:
                self.changed.clear()
                await self.changed.wait()
        return hit


async def _connect(server: SecuredServer, name: str) -> Client:
    client = Client(name)
    client.nc = await server.connect(name, error_cb=client.on_error)
    return client


@pytest.fixture(scope="module")
async def prepared(server: SecuredServer) -> SecuredServer:
    """The order-events stream and the order bucket exist, with one order, as the fleet makes them."""
    fleet = await server.connect("fleet")
    js = fleet.jetstream()
    await js.add_stream(api.StreamConfig(name=EVENTS, subjects=[f"{P}.w.orders.>"]))
    kv = await js.create_key_value(api.KeyValueConfig(bucket=BUCKET, history=1))
    await kv.put("wo-1", b'{"id": "wo-1", "state": 1}')
    await fleet.close()
    return server


ATTACKERS = ["robot-8", "viewer", "zone-2"]


async def _publish(client: Client, subject: str, data: bytes = b"{}") -> None:
    await client.nc.publish(subject, data, reply=client.nc.new_inbox())
    await client.nc.flush()


def _other_robot(attacker: str) -> str:
    return "robot-1" if attacker == "zone-2" else "robot-20"  # never the attacker's own robot


async def attack_subscribe_everything(client: Client) -> tuple[str, str]:
    await client.nc.subscribe(">")
    return ">", "subscription"


async def attack_fake_status(client: Client) -> tuple[str, str]:
    subject = f"{P}.t.robots.robot-7.status"
    await _publish(client, subject, b'{"robot_id": "robot-7", "battery": 1}')
    return subject, "publish"


async def attack_fake_completion(client: Client) -> tuple[str, str]:
    """An order event posing as zone-1 (events name their publisher: ``w.orders.<tier>.<id>``;
    under its own id a zone is heard only about the orders it holds, tests/fleet/test_service.py)."""
    subject = f"{P}.w.orders.zone-1.wo-1"
    await _publish(client, subject, b'{"order_id": "wo-1", "state": 4}')
    return subject, "publish"


async def attack_cancel_anyones_order(client: Client) -> tuple[str, str]:
    subject = f"{P}.s.fleet.cancel"
    await _publish(client, subject, b'{"order_id": "wo-1"}')
    return subject, "publish"


async def attack_rewrite_bucket(client: Client) -> tuple[str, str]:
    subject = f"$KV.{BUCKET}.wo-1"
    await _publish(client, subject, b'{"id": "wo-1", "state": 6}')
    return subject, "publish"


async def attack_write_another_robots_factsheet(client: Client) -> tuple[str, str]:
    subject = f"$KV.{FACTSHEETS}.{_other_robot(client.name)}"
    await _publish(client, subject, b'{"robot_id": "robot-x", "factsheet": {}}')
    return subject, "publish"


async def attack_goal_to_another_robot(client: Client) -> tuple[str, str]:
    subject = f"{P}.a.robots.{_other_robot(client.name)}.execute._action.send_goal"
    await _publish(client, subject, b'{"goal": {}}')
    return subject, "publish"


async def attack_join_assign_queue(client: Client) -> tuple[str, str]:
    subject = f"{P}.s.zones.zone-1.assign"
    await client.nc.subscribe(subject, queue="rfos")
    return subject, "subscription"


async def attack_delete_streams(client: Client) -> tuple[str, str]:
    await _publish(client, f"$JS.API.STREAM.DELETE.KV_{BUCKET}", b"")
    subject = f"$JS.API.STREAM.DELETE.{EVENTS}"
    await _publish(client, subject, b"")
    return subject, "publish"


ATTACKS: list[Callable[[Client], Any]] = [
    attack_subscribe_everything,
    attack_fake_status,
    attack_fake_completion,
    attack_cancel_anyones_order,
    attack_rewrite_bucket,
    attack_write_another_robots_factsheet,
    attack_goal_to_another_robot,
    attack_join_assign_queue,
    attack_delete_streams,
]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("attacker", ATTACKERS)
async def test_attack_is_refused(
    prepared: SecuredServer, attacker: str, attack: Callable[[Client], Any]
) -> None:
    client = await _connect(prepared, attacker)
    try:
        subject, what = await attack(client)
        await client.violation(subject, what)
        assert client.nc.is_connected  # refused, not disconnected: the node keeps working
    finally:
        await client.nc.close()
    logged = " ".join(prepared.violations())
    assert subject in logged


async def test_nothing_was_lost(prepared: SecuredServer) -> None:
    for attacker in ATTACKERS:
        client = await _connect(prepared, attacker)
        try:
            await attack_delete_streams(client)
            await attack_rewrite_bucket(client)
            await client.violation(f"$KV.{BUCKET}.wo-1", "publish")
        finally:
            await client.nc.close()
    operator = await prepared.connect("operator")
    try:
        js = operator.jetstream()
        assert (await js.stream_info(EVENTS)).config.name == EVENTS
        entry = await (await js.key_value(BUCKET)).get("wo-1")
        assert entry.value == b'{"id": "wo-1", "state": 1}'
    finally:
        await operator.close()


async def test_attacker_keeps_doing_what_it_may(prepared: SecuredServer) -> None:
    zone = await prepared.connect("zone-1")
    robot = await _connect(prepared, "robot-8")
    try:
        got: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_status(msg: Any) -> None:
            await got.put(msg.data)

        await zone.subscribe(f"{P}.t.robots.robot-8.status", cb=on_status)
        await zone.flush()
        await attack_fake_status(robot)
        await robot.violation(f"{P}.t.robots.robot-7.status", "publish")
        await robot.nc.publish(f"{P}.t.robots.robot-8.status", b'{"robot_id": "robot-8"}')
        assert await asyncio.wait_for(got.get(), TIMEOUT) == b'{"robot_id": "robot-8"}'
    finally:
        await robot.nc.close()
        await zone.close()


async def test_viewer_reads_topics_but_joins_no_queue_group(prepared: SecuredServer) -> None:
    viewer = await _connect(prepared, "viewer")
    try:
        await viewer.nc.subscribe(f"{P}.t.robots.robot-1.status")
        await viewer.nc.subscribe(f"{P}.t.zones.zone-1.summary", queue="q")
        await viewer.violation(f"{P}.t.zones.zone-1.summary", "subscription")
        assert not any("robot-1.status" in e for e in viewer.errors)
    finally:
        await viewer.nc.close()


async def test_no_credentials_no_connection(prepared: SecuredServer) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await prepared.connect(None)


async def test_no_tls_no_connection(prepared: SecuredServer) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 - nats-py raises what the TLS layer gives
        await nats.connect(
            prepared.url,
            user_credentials=str(prepared.secrets / "robot-8.creds"),
            allow_reconnect=False,
            connect_timeout=2,
        )


async def test_another_identitys_inbox_is_closed(prepared: SecuredServer) -> None:
    robot = await _connect(prepared, "robot-8")
    try:
        await robot.nc.subscribe("_INBOX.fleet.>")
        await robot.violation("_INBOX.fleet.>", "subscription")
    finally:
        await robot.nc.close()


async def test_container_speaks_for_exactly_its_robots(prepared: SecuredServer) -> None:
    container = await _connect(prepared, "robots-6-10")
    try:
        for n in range(6, 11):
            await container.nc.publish(f"{P}.t.robots.robot-{n}.status", b"{}")
        await container.nc.subscribe(f"{P}.a.robots.robot-10.execute._action.send_goal")
        await _publish(container, f"{P}.t.robots.robot-11.status")
        await container.violation(f"{P}.t.robots.robot-11.status", "publish")
        assert not [e for e in container.errors if "robot-11" not in e]
    finally:
        await container.nc.close()


async def test_viewer_answers_graph_queries(prepared: SecuredServer) -> None:
    viewer = await _connect(prepared, "viewer")
    asker = await prepared.connect("zone-1")
    try:

        async def answer(msg: Any) -> None:
            await msg.respond(b'{"nodes": []}')

        await viewer.nc.subscribe(f"{P}.g.query", cb=answer)
        await viewer.nc.flush()
        reply = await asker.request(f"{P}.g.query", b"", timeout=TIMEOUT)
        assert reply.data == b'{"nodes": []}'
        assert not [e for e in viewer.errors if "violation" in e.lower()]
    finally:
        await asker.close()
        await viewer.nc.close()
