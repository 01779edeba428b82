"""Messages beyond ``max_payload`` (issue 17): chunked publish to delivery, per server limit.

Two NATS transports (publisher and subscriber connections in one process, as two contexts
would be) on a private nats-server with ``max_payload`` 1 MiB (nats-server's default) and
with 8 MiB (ours). Per case: a 1920x1080 rgb8 ``sensor_msgs/Image`` (6.2 MB) and a 64 MiB
``std_msgs/UInt8MultiArray``, both CDR (``encoding="auto"``); each published ``--rounds``
times, one at a time; the time from ``publish()`` to the subscriber's callback (encode,
chunk, send, reassemble, decode). One JSON line on stdout: per case the median and best
seconds and MB/s of the median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import type_hash_of
from robotfleet_nodes.transport import EndpointInfo
from robotfleet_nodes.transport.nats import NatsTransport

MIB = 1024 * 1024


def _messages() -> dict[str, Any]:
    image: Any = default_registry().get_class("sensor_msgs/msg/Image")
    blob: Any = default_registry().get_class("std_msgs/msg/UInt8MultiArray")
    pixels = bytes(range(256)) * (1920 * 1080 * 3 // 256)
    return {
        "image_1080p_6MB": image(height=1080, width=1920, encoding="rgb8", step=1920 * 3, data=pixels),
        "uint8_64MiB": blob(data=bytes(range(256)) * (64 * MIB // 256)),
    }


async def _case(url: str, msg: Any, rounds: int) -> list[float]:
    a, b = NatsTransport(url), NatsTransport(url)
    await a.connect()
    await b.connect()
    cls = type(msg)
    ep = EndpointInfo(name="/bench_large", type_name=cls.__ros_type__, type_hash=type_hash_of(cls))
    got: asyncio.Queue[float] = asyncio.Queue()
    await b.create_subscription(ep, cls, lambda _m: got.put_nowait(time.perf_counter()))
    pub = await a.create_publisher(ep, cls)
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            await pub.publish(msg)
            times.append(await asyncio.wait_for(got.get(), 120) - start)
    finally:
        await a.close()
        await b.close()
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    messages = _messages()
    results: dict[str, Any] = {}
    for label, max_payload in (("1MiB", MIB), ("8MiB", 8 * MIB)):
        with tempfile.TemporaryDirectory() as tmp:
            conf = Path(tmp) / "nats.conf"
            conf.write_text(f"max_payload: {max_payload}\n")
            with EmbeddedBroker(
                config_file=conf, host="127.0.0.1", port=0, store_dir=Path(tmp) / "js"
            ) as server:
                for name, msg in messages.items():
                    print(f"{label} {name} ...", file=sys.stderr)
                    times = await _case(server.url, msg, args.rounds)
                    size = len(bytes(msg.data))
                    median = statistics.median(times)
                    results[f"{label}/{name}"] = {
                        "median_s": round(median, 4),
                        "best_s": round(min(times), 4),
                        "mb_per_s": round(size / median / 1e6, 1),
                    }
    print(json.dumps({"benchmark": "large_messages", "rounds": args.rounds, "results": results}))


if __name__ == "__main__":
    asyncio.run(main())
