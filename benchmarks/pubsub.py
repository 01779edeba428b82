"""Typed pub/sub over NATS: this framework vs raw nats-py vs FastStream, in one run.

Each contender publishes the same RobotStatus-sized JSON message from one connection to
a subscriber on another connection (same broker, same process, same event loop):

- ``raw_bytes``: nats-py publishing pre-encoded bytes, the subscriber only counts them;
  the upper bound of any Python client.
- ``raw_typed``: nats-py plus the work a typed application does by hand: pydantic
  ``model_dump_json`` per publish and ``model_validate_json`` per message received.
- ``ours``: a Node publisher and subscription (headers with type and hash, decode and
  type check per message, callbacks) on the NATS transport.
- ``faststream``: FastStream's NatsBroker with the same pydantic model.

Throughput: N messages published back to back, timed until the last is received.
Latency: one message at a time, from publish to the subscriber's callback.
Prints one JSON line; ratios compare with the others measured in the same run.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from _common import (
    VALUES,
    PlainStatus,
    emit,
    percentiles_us,
    ratio,
    ros_status_class,
    run_contenders,
)

from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

N_FAST = 50_000
N_FASTSTREAM = 5_000
N_LATENCY = 2_000
TIMEOUT = 120.0

Sender = Callable[[int], Awaitable[None]]


class Contender:
    """Something that can send message ``i`` and tells ``received`` when one arrives."""

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.done = asyncio.Event()
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.latency_mode = False

    def received(self, seq: int) -> None:
        if self.latency_mode:
            self.latencies.append(time.perf_counter() - self.sent_at.pop(seq))
            self.done.set()
            return
        self.count += 1
        if self.count >= self.target:
            self.done.set()

    async def throughput(self, send: Sender, n: int) -> float:
        self.count, self.target = 0, n
        self.done.clear()
        start = time.perf_counter()
        for i in range(n):
            await send(i)
        await asyncio.wait_for(self.done.wait(), TIMEOUT)
        return n / (time.perf_counter() - start)

    async def latency(self, send: Sender, n: int) -> dict[str, float]:
        self.latency_mode = True
        self.latencies.clear()
        for i in range(n):
            self.done.clear()
            self.sent_at[i] = time.perf_counter()
            await send(i)
            await asyncio.wait_for(self.done.wait(), TIMEOUT)
        self.latency_mode = False
        return percentiles_us(self.latencies)


async def bench_raw(url: str, *, typed: bool) -> dict[str, Any]:
    pub_nc, sub_nc = await nats.connect(url), await nats.connect(url)
    subject = f"bench.{uuid.uuid4().hex[:8]}"
    c = Contender()
    template = PlainStatus(**VALUES)
    payload = template.model_dump_json().encode()

    async def on_msg(msg: Any) -> None:
        if typed:
            c.received(PlainStatus.model_validate_json(msg.data).stamp_ns)
        else:
            c.received(int(msg.headers["seq"]) if c.latency_mode else 0)

    await sub_nc.subscribe(subject, cb=on_msg)
    await sub_nc.flush()

    async def send(i: int) -> None:
        if typed:
            template.stamp_ns = i
            await pub_nc.publish(subject, template.model_dump_json().encode())
        elif c.latency_mode:
            await pub_nc.publish(subject, payload, headers={"seq": str(i)})
        else:
            await pub_nc.publish(subject, payload)

    try:
        rate = await c.throughput(send, N_FAST)
        lat = await c.latency(send, N_LATENCY)
    finally:
        await pub_nc.close()
        await sub_nc.close()
    return {"msgs_per_s": round(rate), **lat}


async def bench_ours(url: str) -> dict[str, Any]:
    Status = ros_status_class()
    root = f"b{uuid.uuid4().hex[:8]}"
    c = Contender()
    pub_tr = NatsTransport(url, mapper=SubjectMapper(root=root))
    sub_tr = NatsTransport(url, mapper=SubjectMapper(root=root))
    async with (
        Context(transport=pub_tr, enable_rosout=False) as pub_ctx,
        Context(transport=sub_tr, enable_rosout=False) as sub_ctx,
    ):
        talker = Node("talker", context=pub_ctx, start_parameter_services=False)
        listener = Node("listener", context=sub_ctx, start_parameter_services=False)
        await talker.start()
        await listener.start()
        await listener.create_subscription(Status, "status", lambda m: c.received(m.stamp_ns), 1000)
        pub = await talker.create_publisher(Status, "status", 1000)
        await asyncio.sleep(0.2)  # let the subscription reach the server before timing
        msg = Status(**VALUES)

        async def send(i: int) -> None:
            msg.stamp_ns = i
            await pub.publish(msg)

        rate = await c.throughput(send, N_FAST)
        lat = await c.latency(send, N_LATENCY)
    await pub_tr.close()
    await sub_tr.close()
    return {"msgs_per_s": round(rate), **lat}


async def bench_faststream(url: str) -> dict[str, Any]:
    try:
        from faststream.nats import NatsBroker
    except ImportError:
        return {"error": "faststream not installed: pip install 'faststream[nats]' (make bench does)"}
    subject = f"bench.{uuid.uuid4().hex[:8]}"
    c = Contender()
    # logger=None: FastStream logs two INFO lines per message by default.
    sub_broker, pub_broker = NatsBroker(url, logger=None), NatsBroker(url, logger=None)

    @sub_broker.subscriber(subject)
    async def handler(msg: PlainStatus) -> None:
        c.received(msg.stamp_ns)

    await sub_broker.start()
    await pub_broker.start()
    template = PlainStatus(**VALUES)

    async def send(i: int) -> None:
        template.stamp_ns = i
        await pub_broker.publish(template, subject)

    try:
        rate = await c.throughput(send, N_FASTSTREAM)
        lat = await c.latency(send, N_LATENCY // 4)
    finally:
        await pub_broker.stop()
        await sub_broker.stop()
    return {"msgs_per_s": round(rate), **lat}


async def main() -> None:
    results = await run_contenders(
        "pubsub",
        {
            "raw_bytes": lambda url: bench_raw(url, typed=False),
            "raw_typed": lambda url: bench_raw(url, typed=True),
            "ours": bench_ours,
            "faststream": bench_faststream,
        },
        best_by="msgs_per_s",
        higher_is_better=True,
    )
    ratios = {
        f"ours_vs_{peer}_throughput": ratio(results, "msgs_per_s", "ours", peer)
        for peer in ("raw_typed", "raw_bytes", "faststream")
    }
    emit(
        {
            "benchmark": "pubsub",
            "payload_bytes": len(PlainStatus(**VALUES).model_dump_json()),
            "n": N_FAST,
            **results,
            "ratios": ratios,
        }
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
