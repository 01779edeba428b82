"""Raw NATS clients on the transport's two hot paths, in one run.

Contenders (each on its own two connections to one embedded nats-server, one event loop):

- ``fast``: :class:`FastRfosClient`, what the NATS transport uses: a pre-encoded HPUB
  per publisher, inline dispatch, cached header parsing (nats-py internals).
- ``public``: :class:`RfosClient`, the transport's fallback on nats-py's public API.
- ``nats_py``: plain nats-py ``publish(headers=...)`` / ``subscribe(cb=...)`` / ``request``.
- ``nats_core``: the newer official client ``nats-core`` (``nats.client``), consuming
  with ``async for``; ``nats_core_cb`` receives with its synchronous ``add_callback``.
  nats-core needs Python >= 3.13: on an older Python it is reported as skipped, with why.

Every contender moves the same bytes: a RobotStatus-sized JSON payload with the five
headers a typed publisher sends.

- publish: N messages back to back to a subscriber on the other connection, timed until
  the last one arrives (messages per second).
- request: one request at a time to an echo server on the other connection (p50/p99).

Prints one JSON line; best of 5 interleaved rounds per contender (``_common``).
Run it with the project's venv, and with a Python 3.13 venv holding nats-core too.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import platform
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from _common import VALUES, emit, percentiles_us, ratio, run_contenders

from robotfleet_nodes.transport.nats._client import hpub_prefix
from robotfleet_nodes.transport.nats._fastclient import new_client
from robotfleet_nodes.transport.nats._headers import encode_block

N_PUBLISH = 50_000
N_REQUEST = 2_000
WARMUP = 200
ROUNDS = 5
TIMEOUT = 120.0

PAYLOAD = json.dumps(VALUES).encode()
HEADERS = {
    "rfos-type": "fleet_bench/msg/Status",
    "rfos-hash": "RIHS01_" + "0" * 64,
    "rfos-enc": "json",
    "rfos-gid": uuid.uuid4().hex,
    "rfos-qos": "r.v.10",
}
BLOCK = encode_block(HEADERS)

try:
    from nats import client as _nats_core  # nats-core's package (namespace ``nats.client``)

    CORE_SKIP = ""
except ImportError as exc:
    _nats_core = None  # type: ignore[assignment]
    CORE_SKIP = f"nats-core not importable here (Python {platform.python_version()}): {exc}"


def _subject() -> str:
    return f"bench.{uuid.uuid4().hex[:8]}"


async def _throughput(publish: Callable[[], Awaitable[None]], done: asyncio.Event) -> dict[str, Any]:
    start = time.perf_counter()
    for _ in range(N_PUBLISH):
        await publish()
    await asyncio.wait_for(done.wait(), TIMEOUT)
    elapsed = time.perf_counter() - start
    return {"n": N_PUBLISH, "msgs_per_s": round(N_PUBLISH / elapsed)}


async def _latency(call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    for _ in range(WARMUP):
        await call()
    samples: list[float] = []
    for _ in range(N_REQUEST):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return {"n": N_REQUEST, **percentiles_us(samples)}


async def _synced(client: Any) -> None:
    """nats-py's ``flush()`` may overtake a queued SUB: a message to itself proves the server has it."""
    inbox = client.new_inbox()
    sub = await client.subscribe(inbox, max_msgs=1)
    await client.publish(inbox, b"")
    await sub.next_msg(timeout=TIMEOUT)


class _Counter:
    def __init__(self) -> None:
        self.count = 0
        self.done = asyncio.Event()

    def hit(self) -> None:
        self.count += 1
        if self.count == N_PUBLISH:
            self.done.set()


# -- ours (fast and public) and plain nats-py ----------------------------------------------
async def pub_ours(url: str, *, fast: bool) -> dict[str, Any]:
    pub, sub = new_client(fast=fast), new_client(fast=fast)
    await pub.connect(url)
    await sub.connect(url)
    subject, counter = _subject(), _Counter()
    await sub.subscribe_inline(subject, lambda reply, data, headers: counter.hit())
    await sub.roundtrip(5.0)
    prefix = hpub_prefix(subject, BLOCK)
    try:
        return await _throughput(lambda: pub.publish_encoded(prefix, BLOCK, PAYLOAD), counter.done)
    finally:
        await pub.close()
        await sub.close()


async def req_ours(url: str, *, fast: bool) -> dict[str, Any]:
    cli, srv = new_client(fast=fast), new_client(fast=fast)
    await cli.connect(url)
    await srv.connect(url)
    subject = _subject()
    await srv.subscribe_inline(
        subject, lambda reply, data, headers: srv.publish_nowait(reply.decode(), BLOCK, data), queue=subject
    )
    await srv.roundtrip(5.0)
    try:
        return await _latency(lambda: cli.request_prebuilt(subject, BLOCK, PAYLOAD, 5.0))
    finally:
        await cli.close()
        await srv.close()


async def pub_nats_py(url: str) -> dict[str, Any]:
    pub, sub = await nats.connect(url), await nats.connect(url)
    subject, counter = _subject(), _Counter()

    async def on_msg(msg: Any) -> None:
        counter.hit()

    await sub.subscribe(subject, cb=on_msg)
    await _synced(sub)
    try:
        return await _throughput(lambda: pub.publish(subject, PAYLOAD, headers=HEADERS), counter.done)
    finally:
        await pub.close()
        await sub.close()


async def req_nats_py(url: str) -> dict[str, Any]:
    cli, srv = await nats.connect(url), await nats.connect(url)
    subject = _subject()

    async def echo(msg: Any) -> None:
        await srv.publish(msg.reply, msg.data, headers=HEADERS)

    await srv.subscribe(subject, queue=subject, cb=echo)
    await _synced(srv)
    try:
        return await _latency(lambda: cli.request(subject, PAYLOAD, timeout=5.0, headers=HEADERS))
    finally:
        await cli.close()
        await srv.close()


# -- nats-core -----------------------------------------------------------------------------
async def pub_nats_core(url: str, *, callback: bool) -> dict[str, Any]:
    assert _nats_core is not None
    pub, sub = await _nats_core.connect(url), await _nats_core.connect(url)
    subject, counter = _subject(), _Counter()
    subscription = await sub.subscribe(subject, max_pending_messages=None, max_pending_bytes=None)
    consumer: asyncio.Task[None] | None = None
    if callback:
        subscription.add_callback(lambda msg: counter.hit())
    else:

        async def consume() -> None:
            async for _ in subscription:
                counter.hit()

        consumer = asyncio.create_task(consume())
    await sub.flush()
    try:
        return await _throughput(lambda: pub.publish(subject, PAYLOAD, headers=HEADERS), counter.done)
    finally:
        if consumer is not None:
            consumer.cancel()
        await pub.close()
        await sub.close()


async def req_nats_core(url: str) -> dict[str, Any]:
    assert _nats_core is not None
    cli, srv = await _nats_core.connect(url), await _nats_core.connect(url)
    subject = _subject()
    subscription = await srv.subscribe(subject, queue=subject)

    async def serve() -> None:
        async for msg in subscription:
            await srv.publish(msg.reply, msg.data, headers=HEADERS)

    server = asyncio.create_task(serve())
    await srv.flush()
    try:
        return await _latency(lambda: cli.request(subject, PAYLOAD, timeout=5.0, headers=HEADERS))
    finally:
        server.cancel()
        await cli.close()
        await srv.close()


async def main() -> None:
    publishers: dict[str, Callable[[str], Awaitable[dict[str, Any]]]] = {
        "fast": lambda url: pub_ours(url, fast=True),
        "public": lambda url: pub_ours(url, fast=False),
        "nats_py": pub_nats_py,
    }
    requests: dict[str, Callable[[str], Awaitable[dict[str, Any]]]] = {
        "fast": lambda url: req_ours(url, fast=True),
        "public": lambda url: req_ours(url, fast=False),
        "nats_py": req_nats_py,
    }
    if not CORE_SKIP:
        publishers["nats_core"] = lambda url: pub_nats_core(url, callback=False)
        publishers["nats_core_cb"] = lambda url: pub_nats_core(url, callback=True)
        requests["nats_core"] = req_nats_core
    publish = await run_contenders(
        "nats_clients publish", publishers, best_by="msgs_per_s", higher_is_better=True, rounds=ROUNDS
    )
    request = await run_contenders(
        "nats_clients request", requests, best_by="p50_us", higher_is_better=False, rounds=ROUNDS
    )
    ratios: dict[str, Any] = {
        "publish_fast_vs_nats_py": ratio(publish, "msgs_per_s", "fast", "nats_py"),
        "publish_public_vs_nats_py": ratio(publish, "msgs_per_s", "public", "nats_py"),
        "request_p50_fast_vs_nats_py": ratio(request, "p50_us", "fast", "nats_py"),
        "request_p50_public_vs_nats_py": ratio(request, "p50_us", "public", "nats_py"),
    }
    if not CORE_SKIP:
        ratios["publish_nats_core_vs_fast"] = ratio(publish, "msgs_per_s", "nats_core", "fast")
        ratios["publish_nats_core_cb_vs_fast"] = ratio(publish, "msgs_per_s", "nats_core_cb", "fast")
        ratios["request_p50_nats_core_vs_fast"] = ratio(request, "p50_us", "nats_core", "fast")
    emit(
        {
            "benchmark": "nats_clients",
            "python": platform.python_version(),
            "nats_py": importlib.metadata.version("nats-py"),
            "nats_core": CORE_SKIP or importlib.metadata.version("nats-core"),
            "publish": publish,
            "request": request,
            "ratios": ratios,
        }
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
