"""Real ROS 2 (rclpy on Fast DDS) against our DDS transport: ``std_msgs/String`` throughput.

Three pairs in one run, on one random ROS domain, loopback only (ours: the loopback Cyclone
configuration; real rclpy: ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``):

- ``real_to_real``: real rclpy talker -> real rclpy listener (the peer figure);
- ``real_to_ours``: real rclpy talker -> our core node on the DDS transport;
- ``ours_to_real``: our core node on the DDS transport -> real rclpy listener.

Real rclpy runs ``_ros2_string_peer.py`` with ``.venv-ros2/bin/python`` (``make ros2-oracle``);
our node runs in this process. Both sides are reliable, volatile, KEEP_LAST 1000 (as in
issue 15's measurement). After a warm-up message proved the pair matched, the talker
publishes ``BENCH_N`` messages back to back; the listener counts them. ``msg_per_s``: messages
received / seconds from the talker's first publish to the listener's last message
(``time.monotonic``, one clock for every process of the machine); ``lost``: sent - received
(a KEEP_LAST writer replaces samples its reader has not acknowledged yet);
``publish_msg_per_s``: the talker's publish loop alone. ``vs_real`` divides a pair's
``msg_per_s`` by real_to_real's. Prints one JSON line. ``python benchmarks/ros2_dds_interop.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import emit, progress

from robotfleet_nodes.transport.dds import LOOPBACK_CONFIG

os.environ["CYCLONEDDS_URI"] = LOOPBACK_CONFIG  # nothing leaves 127.0.0.1

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport.dds import DdsTransport

ROOT = Path(__file__).resolve().parent.parent
PEER = Path(__file__).with_name("_ros2_string_peer.py")
REAL_PYTHON = ROOT / ".venv-ros2" / "bin" / "python"
N = int(os.environ.get("BENCH_N", "20000"))
DEPTH = 1000
DOMAIN = random.randint(150, 229)
WARM_UP = "warm-up"
QUIET = 1.0  # the listener's count has stopped growing for this long: the rest was lost
DISCOVERY = 30.0
String: Any = default_registry().get_class("std_msgs/msg/String")


class _Real:
    """A ``_ros2_string_peer.py`` process under real rclpy, read one JSON line at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, *args: str) -> _Real:
        drop = ("PYTHONPATH", "CYCLONEDDS_URI", "RFOS_TRANSPORT", "RFOS_ROS2")
        env = {key: value for key, value in os.environ.items() if key not in drop}
        env.update(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID=str(DOMAIN))
        process = await asyncio.create_subprocess_exec(
            str(REAL_PYTHON),
            str(PEER),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        return cls(process)

    async def event(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None when none came within ``timeout`` seconds."""
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            return None
        if not line:
            raise RuntimeError(f"the real rclpy peer exited ({self.process.returncode})")
        event: dict[str, Any] = json.loads(line)
        return event

    async def wait_for(self, kind: str, timeout: float = DISCOVERY) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            event = await self.event(remaining)
            if event is not None and event["event"] == kind:
                return event
        raise RuntimeError(f"no {kind!r} from the real rclpy peer within {timeout} s")

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def close(self) -> None:
        """Close its stdin (its signal to finish) and wait for it."""
        assert self.process.stdin is not None
        if not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def _pair(node: Node, talker: str, listener: str) -> dict[str, Any]:
    topic = f"/bench_{uuid.uuid4().hex[:10]}"
    qos = QoSProfile(depth=DEPTH)
    ready = asyncio.Event()
    ours = {"count": 0, "last": 0.0}
    real_listener: _Real | None = None
    real_talker: _Real | None = None
    subscription = publisher = None

    def on_message(msg: Any) -> None:
        if msg.data == WARM_UP:
            ready.set()
            return
        ours["count"] += 1
        ours["last"] = time.monotonic()

    try:
        # -- the listener, then the talker; the warm-up proves they matched ---------------
        if listener == "ours":
            subscription = await node.create_subscription(String, topic, on_message, qos)
        else:
            real_listener = await _Real.start("listener", topic, str(DEPTH))
        if talker == "ours":
            publisher = await node.create_publisher(String, topic, qos)

            async def warm_up() -> None:
                while True:
                    await publisher.publish(String(data=WARM_UP))
                    await asyncio.sleep(0.1)

            task = asyncio.create_task(warm_up())
            try:
                assert real_listener is not None
                await real_listener.wait_for("ready")
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            start = time.monotonic()
            for i in range(N):
                await publisher.publish(String(data=f"b {i}"))
            end = time.monotonic()
        else:
            real_talker = await _Real.start("talker", topic, str(N), str(DEPTH))
            if real_listener is None:
                await asyncio.wait_for(ready.wait(), DISCOVERY)
            else:
                await real_listener.wait_for("ready")
            await real_talker.send("go")
            sent = await real_talker.wait_for("sent")
            start, end = sent["start"], sent["end"]
        # -- until everything arrived or the count stopped growing ------------------------
        if real_listener is None:
            seen = -1
            while ours["count"] != seen and ours["count"] < N:
                seen = ours["count"]
                await asyncio.sleep(QUIET)
            received, last = ours["count"], ours["last"]
        else:
            count = 0
            while count < N:
                event = await real_listener.event(QUIET)
                if event is None:
                    break
                count = event.get("count", count)
            await real_listener.close()
            final = await real_listener.wait_for("received")
            received, last = final["count"], final["last"]
    finally:
        for peer in (real_talker, real_listener):
            if peer is not None:
                await peer.close()
        if subscription is not None:
            await node.destroy_subscription(subscription)
        if publisher is not None:
            await node.destroy_publisher(publisher)
    return {
        "sent": N,
        "received": received,
        "lost": N - received,
        "msg_per_s": round(received / (last - start)) if received else 0,
        "publish_msg_per_s": round(N / (end - start)),
    }


async def main() -> None:
    if not REAL_PYTHON.exists():
        raise SystemExit(f"{REAL_PYTHON} is missing: run `make ros2-oracle`")
    pairs: dict[str, dict[str, Any]] = {}
    async with Context(transport=DdsTransport(DOMAIN)) as ctx:
        node = Node("bench_ours", context=ctx)
        await node.start()
        for name, talker, listener in (
            ("real_to_real", "real", "real"),
            ("real_to_ours", "real", "ours"),
            ("ours_to_real", "ours", "real"),
        ):
            progress(f"{name}: {N} messages")
            pairs[name] = await _pair(node, talker, listener)
            progress(f"{name}: {pairs[name]}")
    peer = pairs["real_to_real"]["msg_per_s"]
    for figures in pairs.values():
        figures["vs_real"] = round(figures["msg_per_s"] / peer, 2) if peer else None
    emit({"benchmark": "ros2_dds_interop", "type": "std_msgs/msg/String", "depth": DEPTH, **pairs})


if __name__ == "__main__":
    asyncio.run(main())
