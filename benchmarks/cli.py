"""``rfos topic echo`` and ``rfos topic hz`` under load: can they keep up with 20,000 msg/s?

A publisher in this process offers ``geometry_msgs/msg/PoseStamped`` on one topic at a
paced 20,000 msg/s for a few seconds; ``rfos topic echo`` and ``rfos topic hz`` run as
separate processes (as a user runs them), echo's stdout read here. Reported:

- ``echo_msgs_per_s``: messages echo printed per second while the load ran;
- ``echo_delivered``: printed / published (1.0 = kept up, nothing dropped);
- ``hz_reported``: the median rate ``topic hz`` printed (should be ~the offered rate);
- ``offered_msgs_per_s``: what the publisher actually achieved;
- ``record_msgs_per_s`` / ``record_delivered``: a second run with ``rfos bag record`` as
  the only consumer, messages counted in the MCAP file it wrote (read with ``mcap``).

Prints one JSON line. ``python benchmarks/cli.py [RATE] [SECONDS]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

RFOS = str(Path(sys.executable).parent / "rfos")
TOPIC = "/bench/pose"
TYPE = "geometry_msgs/msg/PoseStamped"


async def _publish(pub: Any, rate: float, seconds: float) -> tuple[int, float]:
    from geometry_msgs.msg import PoseStamped  # type: ignore[import-not-found]

    msg = PoseStamped.model_validate(
        {
            "header": {"frame_id": "map", "stamp": {"sec": 1, "nanosec": 2}},
            "pose": {"position": {"x": 1.5, "y": -2.25, "z": 0.0}, "orientation": {"w": 1.0}},
        }
    )
    batch = max(1, int(rate / 1000))  # one batch per millisecond
    sent = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for _ in range(batch):
            await pub.publish(msg)
        sent += batch
        delay = start + sent / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return sent, time.perf_counter() - start


async def _count_echo(stream: asyncio.StreamReader, counter: list[int]) -> None:
    tail = b""
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            return
        data = tail + chunk
        counter[0] += data.count(b"\n---\n")
        tail = data[-4:]


async def _record(env: dict[str, str], pub: Any, rate: float, seconds: float) -> tuple[int, int, float]:
    """Run ``rfos bag record`` alone under the same load; count what its file holds."""
    from mcap.reader import make_reader

    with tempfile.TemporaryDirectory(prefix="rfos-bench-bag-") as tmp:
        out = Path(tmp) / "bag"
        recorder = await asyncio.create_subprocess_exec(
            RFOS, "bag", "record", TOPIC, "-o", str(out), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(1.5)  # subscribed
        sent, took = await _publish(pub, rate, seconds)
        await asyncio.sleep(1.0)  # let it drain
        recorder.send_signal(2)
        await recorder.wait()
        count = 0
        for path in sorted(out.glob("*.mcap")):
            with path.open("rb") as f:
                summary = make_reader(f).get_summary()
                if summary is not None and summary.statistics is not None:
                    count += summary.statistics.message_count
    return count, sent, took


async def main(rate: float, seconds: float) -> dict[str, object]:
    root = f"bench{os.getpid()}"
    with EmbeddedBroker() as broker:
        env = {**os.environ, "RFOS_SUBJECT_ROOT": root, "MESSAGING_URL": broker.url}
        transport = NatsTransport(broker.url, mapper=SubjectMapper(root=root))
        async with Context(transport=transport, enable_rosout=False) as context:
            node = Node("bench_pub", context=context)
            await node.start()
            from geometry_msgs.msg import PoseStamped

            pub = await node.create_publisher(PoseStamped, TOPIC, 10)
            await asyncio.sleep(0.2)  # announced
            echo = await asyncio.create_subprocess_exec(
                RFOS, "topic", "echo", TOPIC, TYPE, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            hz = await asyncio.create_subprocess_exec(
                RFOS, "topic", "hz", TOPIC, "--graph-wait", "0.1", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            assert echo.stdout is not None and hz.stdout is not None
            printed = [0]
            reader = asyncio.create_task(_count_echo(echo.stdout, printed))
            await asyncio.sleep(1.5)  # both subscribed (hz asks the graph first)
            before = printed[0]
            sent, took = await _publish(pub, rate, seconds)
            await asyncio.sleep(1.2)  # drain, and one more hz report
            echoed = printed[0] - before
            for proc in (echo, hz):
                proc.send_signal(2)
            hz_out = (await hz.communicate())[0].decode()
            await echo.wait()
            reader.cancel()
            rates = [
                float(line.split()[-1]) for line in hz_out.splitlines() if line.startswith("average rate")
            ]
            recorded, rec_sent, rec_took = await _record(env, pub, rate, seconds)
            await transport.close()
    return {
        "benchmark": "cli",
        "offered_msgs_per_s": round(sent / took),
        "echo_msgs_per_s": round(echoed / took),
        "echo_delivered": round(echoed / sent, 4),
        "hz_reported": round(statistics.median(rates), 1) if rates else None,
        "record_msgs_per_s": round(recorded / rec_took),
        "record_delivered": round(recorded / rec_sent, 4),
        "messages": sent,
        "type": TYPE,
    }


if __name__ == "__main__":
    offered = float(sys.argv[1]) if len(sys.argv) > 1 else 20000.0
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    print(json.dumps(asyncio.run(main(offered, duration))))
