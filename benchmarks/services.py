"""Service calls over NATS: this framework vs raw nats-py request/reply vs FastStream.

Sequential calls (one in flight), each contender on two connections (server and client)
to one broker in this process:

- ``raw_bytes``: nats-py ``request`` with pre-encoded bytes, the server replies bytes.
- ``raw_typed``: the same plus pydantic encode/decode of request and response by hand.
- ``ours``: a Node service and client (queue group, headers, typed decode, error replies).
- ``faststream``: FastStream's ``broker.request`` with pydantic models.

Prints one JSON line with p50/p99 per contender and ratios measured in the same run.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pydantic
from _common import emit, percentiles_us, ratio, run_contenders

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

N_CALLS = 3_000
N_WARMUP = 200
SRV_NAME = "fleet_bench/srv/AddTwoInts"
SRV_TEXT = "int64 a\nint64 b\n---\nint64 sum\n"


class PlainRequest(pydantic.BaseModel):
    a: int
    b: int


class PlainResponse(pydantic.BaseModel):
    sum: int


async def measure(call: Callable[[int], Awaitable[int]], n: int) -> dict[str, float]:
    for i in range(N_WARMUP):
        await call(i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        result = await call(i)
        samples.append(time.perf_counter() - start)
        if result != i + 1:
            raise RuntimeError(f"wrong answer {result} for {i} + 1")
    return {**percentiles_us(samples), "calls_per_s": round(n / sum(samples))}


async def bench_raw(url: str, *, typed: bool) -> dict[str, Any]:
    server, client = await nats.connect(url), await nats.connect(url)
    subject = f"bench.{uuid.uuid4().hex[:8]}"

    async def handle(msg: Any) -> None:
        if typed:
            req = PlainRequest.model_validate_json(msg.data)
            await msg.respond(PlainResponse(sum=req.a + req.b).model_dump_json().encode())
        else:
            a, b = msg.data.split(b",")
            await msg.respond(str(int(a) + int(b)).encode())

    await server.subscribe(subject, queue="q", cb=handle)
    await server.flush()

    async def call(i: int) -> int:
        if typed:
            reply = await client.request(
                subject, PlainRequest(a=i, b=1).model_dump_json().encode(), timeout=5
            )
            return PlainResponse.model_validate_json(reply.data).sum
        reply = await client.request(subject, f"{i},1".encode(), timeout=5)
        return int(reply.data)

    try:
        return await measure(call, N_CALLS)
    finally:
        await server.close()
        await client.close()


async def bench_ours(url: str) -> dict[str, Any]:
    registry = default_registry()
    if SRV_NAME not in registry:
        registry.add_text(SRV_NAME, SRV_TEXT)
    srv = registry.get_interface(SRV_NAME)
    root = f"b{uuid.uuid4().hex[:8]}"
    server_tr = NatsTransport(url, mapper=SubjectMapper(root=root))
    client_tr = NatsTransport(url, mapper=SubjectMapper(root=root))
    async with (
        Context(transport=server_tr, enable_rosout=False) as s_ctx,
        Context(transport=client_tr, enable_rosout=False) as c_ctx,
    ):
        server = Node("server", context=s_ctx, start_parameter_services=False)
        caller = Node("caller", context=c_ctx, start_parameter_services=False)
        await server.start()
        await caller.start()
        await server.create_service(srv, "add", lambda req: srv.Response(sum=req.a + req.b))
        client = await caller.create_client(srv, "/add")
        if not await client.wait_for_service(timeout=5.0):
            raise RuntimeError("service did not appear")

        async def call(i: int) -> int:
            return int((await client.call(srv.Request(a=i, b=1), timeout=5.0)).sum)

        result = await measure(call, N_CALLS)
    await server_tr.close()
    await client_tr.close()
    return result


async def bench_faststream(url: str) -> dict[str, Any]:
    try:
        from faststream.nats import NatsBroker
    except ImportError:
        return {"error": "faststream not installed: pip install 'faststream[nats]' (make bench does)"}
    subject = f"bench.{uuid.uuid4().hex[:8]}"
    server, client = NatsBroker(url, logger=None), NatsBroker(url, logger=None)

    @server.subscriber(subject)
    async def handle(req: PlainRequest) -> PlainResponse:
        return PlainResponse(sum=req.a + req.b)

    await server.start()
    await client.start()

    async def call(i: int) -> int:
        reply = await client.request(PlainRequest(a=i, b=1), subject, timeout=5)
        return PlainResponse.model_validate_json(reply.body).sum

    try:
        return await measure(call, N_CALLS // 3)
    finally:
        await client.stop()
        await server.stop()


async def main() -> None:
    results = await run_contenders(
        "services",
        {
            "raw_bytes": lambda url: bench_raw(url, typed=False),
            "raw_typed": lambda url: bench_raw(url, typed=True),
            "ours": bench_ours,
            "faststream": bench_faststream,
        },
        best_by="p50_us",
        higher_is_better=False,
    )
    ratios = {
        f"ours_vs_{peer}_p50": ratio(results, "p50_us", "ours", peer)
        for peer in ("raw_typed", "raw_bytes", "faststream")
    }
    emit({"benchmark": "services", "n": N_CALLS, **results, "ratios": ratios})


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
