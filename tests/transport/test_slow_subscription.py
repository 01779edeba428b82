"""A slow subscription drops by its QoS inside our client; the server never cuts the connection.

A publisher in another thread (its own loop and connection) sends ~1 MB messages far faster
than a subscription whose plain callback blocks for 50 ms. Before bounded per-subscription
queues, that callback ran in the connection's reading task: the socket went unread, more
than the server's ``max_pending`` piled up and nats-server disconnected the whole
connection as a slow consumer. Counters and events only: no assertion on elapsed time.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from typing import Any

import pytest

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import Encoding, type_hash_of
from robotfleet_nodes.qos import History, QoSProfile, Reliability
from robotfleet_nodes.transport import (
    ConnectionState,
    EndpointInfo,
    IntraProcessTransport,
    NatsTransport,
    SubscriptionHandle,
    Transport,
)
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

TIMEOUT = 30.0
SLOW_CALLBACK = 0.05  # the slow subscriber's work per message (it blocks the loop)
PACE = 0.01  # the publisher's pause between big messages: 5x faster than the subscriber
COUNT = 120
SIZE = 1_000_000

ARRAY: Any = default_registry().get_class("std_msgs/msg/UInt8MultiArray")
STRING: Any = default_registry().get_class("std_msgs/msg/String")


def _endpoint(name: str, cls: Any, qos: QoSProfile) -> EndpointInfo:
    return EndpointInfo(name=name, type_name=cls.__ros_type__, type_hash=type_hash_of(cls), qos=qos)


def _varz(monitor: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{monitor}/varz", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


def _publish_in_thread(url: str, root: str, count: int, qos: QoSProfile) -> threading.Thread:
    """``count`` big messages on /big (sequence number in ``layout.data_offset``), each
    followed by a small one on /small, from another thread's loop and connection."""

    async def run() -> None:
        transport = NatsTransport(url, mapper=SubjectMapper(root=root), encoding=Encoding.CDR)
        await transport.connect()
        try:
            big = await transport.create_publisher(_endpoint("/big", ARRAY, qos), ARRAY)
            small = await transport.create_publisher(_endpoint("/small", STRING, QoSProfile()), STRING)
            payload = bytes(range(256)) * (SIZE // 256)
            for seq in range(count):
                message = ARRAY(data=payload)
                message.layout.data_offset = seq
                await big.publish(message)
                await small.publish(STRING(data=str(seq)))
                await asyncio.sleep(PACE)  # pacing the publisher, not synchronisation
            await transport.flush(10.0)
        finally:
            await transport.close()

    thread = threading.Thread(target=lambda: asyncio.run(run()), name="big-publisher")
    thread.start()
    return thread


class _Slow:
    """The slow subscriber's record: sequence numbers handled; ``done`` once all are accounted for."""

    def __init__(self) -> None:
        self.got: list[int] = []
        self.handle: SubscriptionHandle | None = None
        self.done = asyncio.Event()

    def __call__(self, message: Any) -> None:
        self.got.append(message.layout.data_offset)
        time.sleep(SLOW_CALLBACK)  # a subscriber busy with each message (it blocks the loop)
        self.check()

    def check(self, _lost: int = 0) -> None:
        if self.handle is not None and len(self.got) + self.handle.stats.dropped >= COUNT:
            self.done.set()


async def _run(
    unique: str, stack: str, qos: QoSProfile, lost: list[int] | None = None
) -> tuple[_Slow, list[int], list[str]]:
    """Publish COUNT big and small messages to a slow subscription and a fast one on one connection.

    Returns the slow record, the small messages received and the connection's state changes;
    asserts the server counted no slow consumer.
    """
    root = f"slow{unique}"
    slow = _Slow()
    small: list[int] = []
    all_small = asyncio.Event()

    def fast(message: Any) -> None:
        small.append(int(message.data))
        if len(small) == COUNT:
            all_small.set()

    states: list[str] = []
    with EmbeddedBroker(monitor_port=-1) as broker:
        assert broker.monitor_url is not None
        nats = NatsTransport(broker.url, mapper=SubjectMapper(root=root), encoding=Encoding.CDR)
        # A node's default: the in-process transport in front (remote messages pass through).
        transport: Transport = IntraProcessTransport(nats) if stack == "intra+nats" else nats
        transport.add_connection_listener(lambda state: states.append(str(state)))
        await transport.connect()
        try:
            slow.handle = await transport.create_subscription(_endpoint("/big", ARRAY, qos), ARRAY, slow)
            if lost is not None:

                def on_lost(total: int) -> None:
                    lost.append(total)
                    slow.check()

                slow.handle.on_message_lost = on_lost
            await transport.create_subscription(_endpoint("/small", STRING, QoSProfile()), STRING, fast)
            publisher = _publish_in_thread(broker.url, root, COUNT, qos)
            try:
                async with asyncio.timeout(TIMEOUT):
                    await all_small.wait()
                    await slow.done.wait()
            finally:
                await asyncio.to_thread(publisher.join, TIMEOUT)
            assert int(_varz(broker.monitor_url)["slow_consumers"]) == 0
        finally:
            await transport.close()
            await nats.close()
    return slow, small, states


STACKS = pytest.mark.parametrize("stack", ["nats", "intra+nats"])


@STACKS
async def test_a_slow_keep_last_subscription_keeps_the_newest_and_the_connection_stays_up(
    unique: str, stack: str
) -> None:
    slow, small, states = await _run(unique, stack, QoSProfile(depth=5, reliability=Reliability.BEST_EFFORT))
    assert ConnectionState.DISCONNECTED.value not in states, states
    assert small == list(range(COUNT))  # the fast subscription on the same connection: all, in order
    stats = slow.handle.stats if slow.handle is not None else None
    assert stats is not None and stats.received == COUNT
    assert stats.dropped > 0, "the subscription was not slower than its publisher"
    assert len(slow.got) + stats.dropped == COUNT
    assert slow.got == sorted(slow.got)  # in order, with gaps where the oldest were dropped
    assert slow.got[-1] == COUNT - 1  # the newest is always kept: the last published comes last


@STACKS
async def test_a_slow_keep_all_subscription_reports_what_it_loses(
    unique: str, stack: str, monkeypatch: Any
) -> None:
    from robotfleet_nodes.transport.nats import _delivery

    monkeypatch.setattr(_delivery, "KEEP_ALL_LIMIT", 10)  # a bound the publisher overruns
    lost: list[int] = []
    slow, small, states = await _run(unique, stack, QoSProfile(history=History.KEEP_ALL, depth=1), lost)
    assert ConnectionState.DISCONNECTED.value not in states, states
    assert small == list(range(COUNT))
    dropped = slow.handle.stats.dropped if slow.handle is not None else 0
    assert dropped > 0
    assert lost == list(range(1, dropped + 1))  # rclpy's total_count, one call per loss
    assert slow.got == sorted(slow.got) and slow.got[0] == 0  # KEEP_ALL keeps the oldest


async def test_a_coroutine_callback_may_close_its_own_subscription(nats_url: str, unique: str) -> None:
    """The drainer awaiting the callback is not cancelled by the close it makes."""
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    await transport.connect()
    closed = asyncio.Event()
    handle: SubscriptionHandle | None = None

    async def once(message: Any) -> None:
        assert handle is not None
        await handle.close()
        await asyncio.sleep(0)  # any await after closing (a pending cancellation would land here)
        closed.set()

    try:
        handle = await transport.create_subscription(_endpoint("/once", STRING, QoSProfile()), STRING, once)
        publisher = await transport.create_publisher(_endpoint("/once", STRING, QoSProfile()), STRING)
        await publisher.publish(STRING(data="bye"))
        await asyncio.wait_for(closed.wait(), TIMEOUT)
    finally:
        await transport.close()
