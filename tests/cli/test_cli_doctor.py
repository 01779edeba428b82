"""``rfos doctor`` on a healthy graph and on one with type-hash and QoS problems."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from std_msgs.msg import String  # type: ignore[import-not-found]

from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.node.qos import QOS_SENSOR_DATA, QoSProfile
from robotfleet_nodes.transport import EndpointInfo, NatsTransport, NodeInfo
from robotfleet_nodes.transport.nats._subjects import SubjectMapper


@pytest.fixture
async def context(nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Context]:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    ctx = Context(transport=transport, enable_rosout=False)
    await ctx.start()
    node = Node("talker", context=ctx)
    await node.start()
    await node.create_publisher(String, "chatter", 10)
    await node.create_subscription(String, "chatter", lambda m: None, 10)
    await asyncio.sleep(0.15)
    yield ctx
    await ctx.close()
    await transport.close()


async def rfos(nats_url: str, *argv: str) -> int:
    return await run_cli([*argv, "--url", nats_url, "--graph-wait", "0.2"])


async def test_healthy(context: Context, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "doctor") == 0
    out = capsys.readouterr().out
    assert "[ok]   broker: " in out and "nats-server " in out
    assert "[ok]   jetstream: enabled" in out
    assert "[skip] clock skew: unknown" in out
    assert "[ok]   qos: 1 publisher/subscription pairs compatible" in out
    assert "[ok]   dropping subscriptions: no subscription's queue dropped messages" in out
    assert out.splitlines()[-1].startswith("summary: healthy: ")


async def test_a_subscription_dropping_messages_is_named_by_doctor_and_topic_info(
    nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A depth-1 subscription whose (coroutine) callback is stuck on the first of 5 messages:
    of the 4 queued after it, the newest is kept and 3 are dropped; every process sees that
    through the graph."""
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    ctx = Context(transport=transport, enable_rosout=False)
    await ctx.start()
    entered, gate = asyncio.Event(), asyncio.Event()

    async def stuck(msg: Any) -> None:
        entered.set()
        await gate.wait()

    try:
        node = Node("viewer", context=ctx)
        await node.start()
        sub = await node.create_subscription(String, "camera", stuck, 1)
        pub = await node.create_publisher(String, "camera", 10)
        await pub.publish(String(data="0"))
        await asyncio.wait_for(entered.wait(), 10)
        # Until the (coalesced, delayed) announcement lists the subscription; each query's
        # window also leaves the stuck callback running well past SLOW_CALLBACK: behind.
        for _ in range(50):
            graph = await transport.graph(timeout=0.1)
            if any(n.subscriptions for p in graph for n in p.nodes if n.name == "viewer"):
                break
        for index in range(1, 5):
            await pub.publish(String(data=str(index)))
        for _ in range(200):  # received counts in the reading task: poll, with a bound
            if sub.stats.received == 5:
                break
            await asyncio.sleep(0.02)
        assert (sub.stats.received, sub.stats.dropped) == (5, 3)
        assert await rfos(nats_url, "doctor") == 1
        assert await rfos(nats_url, "topic", "info", "/camera") == 0
        assert await rfos(nats_url, "topic", "info", "-v", "/camera") == 0
    finally:
        gate.set()
        await ctx.close()
        await transport.close()
    out = capsys.readouterr().out
    assert "[FAIL] dropping subscriptions: 1 fall behind their publishers" in out
    assert "/viewer /camera: 3 dropped of 5 received" in out
    assert "  subscription: /viewer (reliable, volatile, depth 1, dropped 3)" in out
    assert "Dropped messages: 3 (3 queue full (callback too slow); 5 received)" in out


async def test_hash_mismatch_and_qos_incompatibility_fail(
    context: Context, nats_url: str, unique: str, capsys: Any
) -> None:
    rogue = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    await rogue.connect()
    try:
        wrong = EndpointInfo("/chatter", "std_msgs/msg/String", "RIHS01_" + "0" * 64, QoSProfile())
        best_effort = EndpointInfo("/chatter", "std_msgs/msg/String", _string_hash(), QOS_SENSOR_DATA)
        await rogue.announce(
            [NodeInfo("rogue", "/", subscriptions=[wrong]), NodeInfo("lossy", "/", publishers=[best_effort])]
        )
        assert await rfos(nats_url, "doctor") == 1
    finally:
        await rogue.close()
    out = capsys.readouterr().out
    assert "[FAIL] type hashes: 1 mismatched: topic /chatter:" in out and "by /rogue" in out
    assert "[FAIL] qos: 2 incompatible: /chatter: /lossy -> " in out
    assert "/lossy -> /rogue: subscription requests RELIABLE but publisher offers BEST_EFFORT" in out
    assert out.splitlines()[-1].startswith("summary: problems found: ")


async def test_no_broker(capsys: Any) -> None:
    assert await run_cli(["doctor", "--url", "nats://127.0.0.1:1"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] broker: no broker at nats://127.0.0.1:1: start one with `rfos broker`" in out


def _string_hash() -> str:
    from robotfleet_nodes.idl.codec import type_hash_of

    return type_hash_of(String)
