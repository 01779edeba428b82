"""Sensor-scale messages (issue 17): ours vs raw nats-py vs Zenoh vs real rclpy, per type.

A BASELINE of today's code. For each type of the matrix (``std_msgs/String`` up to a 4000x4000
``nav_msgs/OccupancyGrid``), cross-process (the publisher in a child process, the subscriber
here) and intra-process (both in one process), every contender publishes back to back for a
short time, then a few paced messages for latency:

- ``ours``: a Node publisher and subscription (default encoding, JSON today);
- ``raw_typed``: nats-py publishing the same object encoded with the same codec per message,
  decoded per message at the subscriber;
- ``raw_bytes``: nats-py publishing the same payload bytes (8-byte sequence prefix), no codec;
- ``zenoh``: eclipse-zenoh in peer mode with the same bytes as ``raw_bytes``; loopback TCP
  endpoints only, multicast and gossip scouting off; congestion control BLOCK;
- ``rclpy``: real rclpy (Fast DDS) from ``.venv-ros2`` (``make ros2-oracle``) with its own types,
  run by ``_ros2_sensor_peer.py`` with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``; reliable,
  KEEP_LAST (its ``bytes`` is its CDR size).

Per row: ``msg_per_s`` (received / seconds from the first publish to the last receipt),
``mb_per_s`` (times the payload size), ``drops`` (sent - received, counted at the subscriber),
latency ``p50_ms``/``p99_ms`` (paced messages, ``time.monotonic`` on both sides), or ``error``
(the publisher's exception text; today messages over the server's 1 MiB max_payload fail).
``ratios`` divide ours by raw_typed (the issue's target is >= 0.9), raw_bytes, zenoh, rclpy.
``memory``: a depth-5 subscriber 10x slower than its publisher of 1920x1080 images, RSS growth,
and what its bounded queue dropped (``dropped``) and whether the connection was cut
(``disconnects``): ``ours`` with a coroutine callback that awaits 0.5 s per message (the reader
keeps reading; the queue keeps the newest 5), ``ours_blocking`` with a plain callback that blocks
the loop 0.5 s per message (nothing reads the socket meanwhile: ~80 MB of JSON images arrive
per block, over nats-server's 64 MiB max_pending, so the server may still cut that connection).

One JSON line on stdout, progress on stderr. ``--quick`` (~30 s subset), ``--only REGEX``
(type names and ``memory``), ``--contenders a,b``. Internally ``--child ...`` is the publisher.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import emit, progress
from _proc import free_port, rss_mib

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import deserialize, serialize

ROOT = Path(__file__).resolve().parent.parent
RCLPY_PEER = Path(__file__).with_name("_ros2_sensor_peer.py")
REAL_PYTHON = ROOT / ".venv-ros2" / "bin" / "python"
WARM = 2_000_000  # sequence numbers: warm-up messages
LAT = 1_000_000  # sequence numbers from here on: paced latency messages
QUIET = 0.4  # the subscriber's count stopped growing this long: the rest is lost
READY = 20.0  # seconds for a publisher to reach the subscriber (process start, discovery)
CONTENDERS = ("ours", "raw_typed", "raw_bytes", "zenoh", "rclpy")
SEQ = struct.Struct("<Q")


@dataclass(frozen=True)
class Kind:
    """One type of the matrix: its name here, ROS type, and how many messages to try."""

    name: str
    ros_type: str
    max_n: int
    lat_n: int
    lat_gap: float
    depth: int


KINDS = (
    Kind("String", "std_msgs/msg/String", 100_000, 50, 0.005, 1000),
    Kind("Twist", "geometry_msgs/msg/Twist", 100_000, 50, 0.005, 1000),
    Kind("Imu", "sensor_msgs/msg/Imu", 100_000, 50, 0.005, 1000),
    Kind("Odometry", "nav_msgs/msg/Odometry", 100_000, 50, 0.005, 1000),
    Kind("LaserScan", "sensor_msgs/msg/LaserScan", 20_000, 50, 0.005, 1000),
    Kind("PointCloud2", "sensor_msgs/msg/PointCloud2", 500, 10, 0.03, 10),
    Kind("Image640", "sensor_msgs/msg/Image", 500, 10, 0.03, 10),
    Kind("Image1080", "sensor_msgs/msg/Image", 100, 10, 0.05, 10),
    Kind("OccupancyGrid", "nav_msgs/msg/OccupancyGrid", 20, 5, 0.2, 5),
)
QUICK = ("String", "Image640")
# The memory check: 1080p images at 20 Hz to a depth-5 subscriber taking 0.5 s per message.
MEMORY_KIND = Kind("Image1080", "sensor_msgs/msg/Image", 0, 60, 0.05, 5)
SLOW_CALLBACK = 0.5


def build(kind: Kind) -> Any:
    """The message of ``kind`` as our pydantic class (uint8[] are bytes, int8[] a list)."""
    cls = default_registry().get_class(kind.ros_type)
    if kind.name == "String":
        return cls(data="0" * 100)
    if kind.name == "LaserScan":
        return cls(ranges=[1.0] * 1080, intensities=[1.0] * 1080)
    if kind.name == "PointCloud2":
        return cls(height=1, width=1 << 16, point_step=16, row_step=1 << 20, data=bytes(1 << 20))
    if kind.name.startswith("Image"):
        w, h = (640, 480) if kind.name == "Image640" else (1920, 1080)
        return cls(height=h, width=w, encoding="rgb8", step=w * 3, data=bytes(w * h * 3))
    if kind.name == "OccupancyGrid":
        msg = cls(data=[0] * (4000 * 4000))
        msg.info.width = msg.info.height = 4000
        return msg
    return cls()


def with_seq(msg: Any, seq: int) -> Any:
    """A shallow copy of ``msg`` carrying ``seq`` (the big arrays are shared, not copied)."""
    if "header" in type(msg).model_fields:
        stamp = msg.header.stamp.model_copy(update={"sec": seq})
        return msg.model_copy(update={"header": msg.header.model_copy(update={"stamp": stamp})})
    if "linear" in type(msg).model_fields:
        return msg.model_copy(update={"linear": msg.linear.model_copy(update={"x": float(seq)})})
    return msg.model_copy(update={"data": f"{seq:010d}" + msg.data[10:]})


def seq_of(msg: Any) -> int:
    if "header" in type(msg).model_fields:
        return int(msg.header.stamp.sec)
    if "linear" in type(msg).model_fields:
        return int(msg.linear.x)
    return int(msg.data[:10])


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def _write(path: str, data: bytes) -> None:
    Path(path).write_bytes(data)


def kind_file_missing(path: str) -> bool:
    return not Path(path).exists()


# -- publishers: the same loop in a child process (cross) or in this one (intra) -------------


Send = Callable[[int], Awaitable[None]]


async def publish_loop(
    send: Send,
    seconds: float,
    kind: Kind,
    say: Callable[..., None],
    *,
    go: asyncio.Event,
    go_lat: asyncio.Event,
) -> None:
    """Warm-up until ``go``, then back to back for ``seconds``; once ``go_lat`` (the subscriber
    has drained its backlog), paced latency messages."""
    try:
        while not go.is_set():
            await send(WARM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(go.wait(), 0.05)
        start = time.monotonic()
        count = 0
        while count < kind.max_n and time.monotonic() - start < seconds:
            await send(count)
            count += 1
            if count % 64 == 0:
                await asyncio.sleep(0)
        say(event="sent", count=count, start=start, end=time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(go_lat.wait(), 60)
        times: dict[int, float] = {}
        for k in range(kind.lat_n):
            times[k] = time.monotonic()
            await send(LAT + k)
            await asyncio.sleep(kind.lat_gap)
        say(event="lat_sent", times=times)
    except Exception as exc:  # the row reports what failed, the run goes on
        say(event="error", error=f"{type(exc).__name__}: {exc}".strip())


def zenoh_config(listen: int | None, connect: int | None) -> Any:
    """Peer mode on loopback TCP only; no multicast or gossip scouting."""
    import zenoh

    conf = zenoh.Config()
    conf.insert_json5("mode", '"peer"')
    conf.insert_json5("scouting/multicast/enabled", "false")
    conf.insert_json5("scouting/gossip/enabled", "false")
    conf.insert_json5("transport/shared_memory/enabled", "false")  # TCP only, like NATS
    conf.insert_json5("listen/endpoints", json.dumps([f"tcp/127.0.0.1:{listen}"] if listen else []))
    conf.insert_json5("connect/endpoints", json.dumps([f"tcp/127.0.0.1:{connect}"] if connect else []))
    return conf


@dataclass
class Endpoint:
    """Where a contender's peers meet: the NATS url, the subject/namespace, the zenoh port."""

    url: str
    subject: str
    zenoh_port: int
    payload_file: str


async def make_sender(contender: str, kind: Kind, ep: Endpoint, closers: list[Any]) -> Send:
    """A coroutine that publishes message ``seq`` of ``kind`` for ``contender``."""
    if contender == "ours":
        from robotfleet_nodes.node import Context, Node

        ctx = Context(url=ep.url, enable_rosout=False)
        await ctx.__aenter__()
        closers.append(ctx)
        node = Node("sensors_pub", context=ctx, start_parameter_services=False)
        await node.start()
        pub = await node.create_publisher(type(build(kind)), ep.subject, kind.depth)
        msg = build(kind)

        async def send_ours(seq: int) -> None:
            await pub.publish(with_seq(msg, seq))

        return send_ours
    if contender == "raw_typed":
        import nats

        nc = await nats.connect(ep.url)
        closers.append(nc)
        msg = build(kind)

        async def send_typed(seq: int) -> None:
            await nc.publish(ep.subject, serialize(with_seq(msg, seq)))

        return send_typed
    payload = _read(ep.payload_file)
    if contender == "raw_bytes":
        import nats

        nc = await nats.connect(ep.url)
        closers.append(nc)

        async def send_bytes(seq: int) -> None:
            await nc.publish(ep.subject, SEQ.pack(seq) + payload)

        return send_bytes
    import zenoh

    session = zenoh.open(zenoh_config(None, ep.zenoh_port))
    closers.append(session)
    publisher = session.declare_publisher(ep.subject, congestion_control=zenoh.CongestionControl.BLOCK)

    async def send_zenoh(seq: int) -> None:
        publisher.put(SEQ.pack(seq) + payload)

    return send_zenoh


async def close_all(closers: list[Any]) -> None:
    for thing in reversed(closers):
        if hasattr(thing, "__aexit__"):
            await thing.__aexit__(None, None, None)
        elif asyncio.iscoroutinefunction(thing.close):
            await thing.close()
        else:
            thing.close()


async def child(args: list[str]) -> None:
    """``--child CONTENDER KIND URL SUBJECT ZENOH_PORT PAYLOAD_FILE SECONDS``: the publisher."""
    contender, kind_name, url, subject, port, payload_file, seconds = args
    kind = MEMORY_KIND if kind_name == "memory" else next(k for k in KINDS if k.name == kind_name)
    loop = asyncio.get_running_loop()
    go, go_lat = asyncio.Event(), asyncio.Event()

    def say(**event: Any) -> None:
        print(json.dumps(event), flush=True)

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "go":
                loop.call_soon_threadsafe(go.set)
            elif line.strip() == "lat":
                loop.call_soon_threadsafe(go_lat.set)
        loop.call_soon_threadsafe(go.set)
        loop.call_soon_threadsafe(go_lat.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    closers: list[Any] = []
    try:
        send = await make_sender(contender, kind, Endpoint(url, subject, int(port), payload_file), closers)
        await publish_loop(send, float(seconds), kind, say, go=go, go_lat=go_lat)
    except Exception as exc:  # the row reports what failed
        say(event="error", error=f"{type(exc).__name__}: {exc}".strip())
    finally:
        await close_all(closers)


# -- the subscriber side (always in this process, except for rclpy) --------------------------


class Sink:
    """Counts what a subscriber receives; thread-safe enough for zenoh's callback thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float = 0.0) -> None:
        self.loop = loop
        self.delay = delay  # seconds of (blocking) work per message: a slow subscriber
        self.cooperative = False  # ours: wait ``delay`` in a coroutine callback instead of blocking
        self.subscription: Any = None  # ours: the node subscription (its stats)
        self.disconnects = 0  # ours: connection losses seen by the subscriber's transport
        self.ready = asyncio.Event()
        self.count = 0
        self.last = 0.0
        self.lat: dict[int, float] = {}

    def record(self, seq: int) -> None:
        now = time.monotonic()
        if seq == WARM:
            if not self.ready.is_set():
                self.loop.call_soon_threadsafe(self.ready.set)
        elif seq >= LAT:
            self.lat[seq - LAT] = now
        else:
            self.count += 1
            self.last = now
        if self.delay and seq != WARM and not self.cooperative:
            time.sleep(self.delay)

    async def record_async(self, seq: int) -> None:
        """A slow subscriber that waits instead of blocking the loop (ours, cooperative)."""
        self.record(seq)
        if self.delay and seq != WARM:
            await asyncio.sleep(self.delay)


async def make_subscriber(contender: str, kind: Kind, ep: Endpoint, sink: Sink, closers: list[Any]) -> None:
    if contender == "ours":
        from robotfleet_nodes.node import Context, Node

        ctx = Context(url=ep.url, enable_rosout=False)
        await ctx.__aenter__()
        closers.append(ctx)
        node = Node("sensors_sub", context=ctx, start_parameter_services=False)
        await node.start()

        def lost(state: Any) -> None:
            sink.disconnects += str(state) == "disconnected"

        ctx.transport.add_connection_listener(lost)

        async def cooperative(m: Any) -> None:
            await sink.record_async(seq_of(m))

        callback: Any = cooperative if sink.cooperative else (lambda m: sink.record(seq_of(m)))
        msg_type = type(build(kind))
        sink.subscription = await node.create_subscription(msg_type, ep.subject, callback, kind.depth)
        await asyncio.sleep(0.1)
        return
    if contender in ("raw_typed", "raw_bytes"):
        import nats

        nc = await nats.connect(ep.url)
        closers.append(nc)
        cls = default_registry().get_class(kind.ros_type)

        async def on_msg(msg: Any) -> None:
            if contender == "raw_typed":
                sink.record(seq_of(deserialize(cls, msg.data)))
            else:
                sink.record(SEQ.unpack_from(msg.data)[0])

        await nc.subscribe(ep.subject, cb=on_msg)
        await nc.flush()
        return
    import zenoh

    session = zenoh.open(zenoh_config(ep.zenoh_port, None))
    closers.append(session)
    session.declare_subscriber(
        ep.subject, lambda sample: sink.record(SEQ.unpack_from(sample.payload.to_bytes())[0])
    )


def row(
    sent: dict[str, Any],
    lat_sent: dict[str, Any],
    *,
    count: int,
    last: float,
    lat: dict[Any, float],
    size: int,
) -> dict[str, Any]:
    """The figures of one cell (JSON turned the latency keys into strings on one side or both)."""
    received = {str(k): t for k, t in lat.items()}
    times = {str(k): t for k, t in lat_sent.get("times", {}).items()}
    latencies = sorted((float(received[k]) - float(t)) * 1e3 for k, t in times.items() if k in received)
    rate = count / (last - sent["start"]) if count and last > sent["start"] else 0.0
    out: dict[str, Any] = {
        "bytes": size,
        "sent": sent["count"],
        "received": count,
        "drops": sent["count"] - count,
        "msg_per_s": round(rate),
        "mb_per_s": round(rate * size / 1e6, 1),
    }
    if latencies:
        out["p50_ms"] = round(latencies[len(latencies) // 2], 3)
        out["p99_ms"] = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3)
    out["lat_lost"] = len(times) - len(latencies)
    return out


async def read_event(stream: asyncio.StreamReader, timeout: float) -> dict[str, Any] | None:
    try:
        line = await asyncio.wait_for(stream.readline(), timeout)
    except TimeoutError:
        return None
    if not line:
        raise RuntimeError("the publisher process exited")
    event: dict[str, Any] = json.loads(line)
    return event


async def wait_quiet(sink: Sink, sent: int) -> None:
    seen = -1
    while sink.count != seen and sink.count < sent:
        seen = sink.count
        await asyncio.sleep(QUIET)


async def cell_nats_zenoh(
    contender: str,
    kind: Kind,
    mode: str,
    ep: Endpoint,
    seconds: float,
    *,
    delay: float = 0.0,
    sink: Sink | None = None,
) -> dict[str, Any]:
    """One row for ours / raw_typed / raw_bytes / zenoh."""
    loop = asyncio.get_running_loop()
    sink = sink if sink is not None else Sink(loop, delay)
    closers: list[Any] = []
    size = len(_read(ep.payload_file)) + (SEQ.size if contender in ("raw_bytes", "zenoh") else 0)
    try:
        await make_subscriber(contender, kind, ep, sink, closers)
        if mode == "intra":
            events: dict[str, dict[str, Any]] = {}
            go, go_lat, phase_done = asyncio.Event(), asyncio.Event(), asyncio.Event()

            def say(**event: Any) -> None:
                events[event["event"]] = event
                phase_done.set()

            send = await make_sender(contender, kind, ep, closers)
            task = asyncio.create_task(publish_loop(send, seconds, kind, say, go=go, go_lat=go_lat))
            waiter = asyncio.create_task(sink.ready.wait())
            await asyncio.wait([task, waiter], timeout=READY, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            go.set()
            await asyncio.wait_for(phase_done.wait(), 120)
            if "sent" in events:
                await wait_quiet(sink, events["sent"]["count"])
            go_lat.set()
            await asyncio.wait_for(task, 120)
            if "error" in events:
                return {"bytes": size, "error": events["error"]["error"]}
            if not sink.ready.is_set():
                return {"bytes": size, "error": "the subscriber never got the warm-up message"}
            await asyncio.sleep(0.1)
            return row(
                events["sent"], events["lat_sent"], count=sink.count, last=sink.last, lat=sink.lat, size=size
            )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--child",
            contender,
            "memory" if sink.delay else kind.name,
            ep.url,
            ep.subject,
            str(ep.zenoh_port),
            ep.payload_file,
            str(seconds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            ready = asyncio.create_task(sink.ready.wait())
            first = asyncio.create_task(read_event(proc.stdout, READY))
            await asyncio.wait([ready, first], timeout=READY, return_when=asyncio.FIRST_COMPLETED)
            if first.done():
                ready.cancel()
                event = first.result()
                return {"bytes": size, "error": (event or {}).get("error", f"unexpected {event}")}
            if not ready.done():
                first.cancel()
                return {"bytes": size, "error": "the subscriber never got the warm-up message"}
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
            sent = await first
            if sent is None or sent["event"] != "sent":
                return {"bytes": size, "error": (sent or {}).get("error", "no 'sent' from the publisher")}
            await wait_quiet(sink, sent["count"])
            proc.stdin.write(b"lat\n")
            await proc.stdin.drain()
            lat_sent = await read_event(proc.stdout, 60) or {}
            if "error" in lat_sent:
                return {"bytes": size, "error": lat_sent["error"]}
            await asyncio.sleep(0.1)
            return row(sent, lat_sent, count=sink.count, last=sink.last, lat=sink.lat, size=size)
        finally:
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    finally:
        sink.delay = 0.0  # a slow subscriber's queued messages need not hold up closing
        await close_all(closers)


async def cell_rclpy(kind: Kind, mode: str, seconds: float, domain: int) -> dict[str, Any]:
    """One row for real rclpy: two peer processes (cross) or one (intra)."""
    if not REAL_PYTHON.exists():
        return {"error": f"{REAL_PYTHON} is missing: run `make ros2-oracle`"}
    drop = ("PYTHONPATH", "CYCLONEDDS_URI", "RFOS_TRANSPORT", "RFOS_ROS2")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID=str(domain))
    pub_args = [str(seconds), str(kind.max_n), str(kind.lat_n), str(kind.lat_gap), str(kind.depth)]

    async def start(*args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            str(REAL_PYTHON),
            str(RCLPY_PEER),
            *args,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )

    procs: list[asyncio.subprocess.Process] = []
    try:
        if mode == "intra":
            both = await start("both", kind.name, *pub_args)
            procs.append(both)
            assert both.stdout is not None
            events: dict[str, dict[str, Any]] = {}
            while "received" not in events:
                event = await read_event(both.stdout, 120)
                if event is None:
                    return {"error": "no result from the rclpy process"}
                events[event["event"]] = event
            recv = events["received"]
            return {
                **row(
                    events["sent"],
                    events["lat_sent"],
                    count=recv["count"],
                    last=recv["last"],
                    lat=recv["lat"],
                    size=events["sent"].get("bytes", 0),
                ),
                "depth": kind.depth,
                "publish_failed": events["lat_sent"].get("publish_failed", 0),
            }
        sub = await start("sub", kind.name, str(kind.depth))
        pub = await start("pub", kind.name, *pub_args)
        procs += [sub, pub]
        assert sub.stdout is not None and pub.stdout is not None and pub.stdin is not None
        assert sub.stdin is not None
        if await read_event(sub.stdout, READY * 2) is None:
            return {"error": "the rclpy subscriber never got the warm-up message"}
        pub.stdin.write(b"go\n")
        await pub.stdin.drain()
        sent = await read_event(pub.stdout, 60)
        await asyncio.sleep(QUIET)  # the subscriber's backlog drains (it prints nothing until the end)
        pub.stdin.write(b"lat\n")
        await pub.stdin.drain()
        lat_sent = await read_event(pub.stdout, 60)
        if sent is None or lat_sent is None:
            return {"error": "no result from the rclpy publisher"}
        await asyncio.sleep(QUIET)
        sub.stdin.close()
        recv = await read_event(sub.stdout, 30)
        if recv is None:
            return {"error": "no result from the rclpy subscriber"}
        return {
            **row(
                sent,
                lat_sent,
                count=recv["count"],
                last=recv["last"],
                lat=recv["lat"],
                size=sent.get("bytes", 0),
            ),
            "depth": kind.depth,
            "publish_failed": lat_sent.get("publish_failed", 0),
            **({"publish_error": lat_sent["publish_error"]} if lat_sent.get("publish_error") else {}),
        }
    finally:
        for proc in procs:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


# -- the run ----------------------------------------------------------------------------------


def _ratio(ours: dict[str, Any], peer: dict[str, Any], key: str) -> float | None:
    if not ours.get(key) or not peer.get(key):
        return None
    return round(ours[key] / peer[key], 3)


def ratios(contenders: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    ours = contenders.get("ours", {})
    out: dict[str, float | None] = {}
    for peer in ("raw_typed", "raw_bytes", "zenoh", "rclpy"):
        if peer in contenders:
            out[f"ours_vs_{peer}_msg_per_s"] = _ratio(ours, contenders[peer], "msg_per_s")
            out[f"ours_vs_{peer}_mb_per_s"] = _ratio(ours, contenders[peer], "mb_per_s")
    return out


def _sample_rss(stop: threading.Event, peak: list[float]) -> None:
    while not stop.wait(0.05):
        peak[0] = max(peak[0], rss_mib())


async def memory_check(url: str, payload_file: str, contenders: list[str]) -> dict[str, Any]:
    """RSS growth of this process while a slow depth-5 subscriber receives 1080p images."""
    out: dict[str, Any] = {
        "type": "sensor_msgs/msg/Image 1920x1080 rgb8",
        "publisher_hz": round(1 / MEMORY_KIND.lat_gap),
        "subscriber_s_per_msg": SLOW_CALLBACK,
        "depth": MEMORY_KIND.depth,
        "target_growth_mib": 80,
    }
    variants = [v for v in ("ours", "ours_blocking", "zenoh") if v.removesuffix("_blocking") in contenders]
    for variant in variants:
        contender = variant.removesuffix("_blocking")
        progress(f"sensors: memory: {variant}")
        sink = Sink(asyncio.get_running_loop(), SLOW_CALLBACK)
        sink.cooperative = variant == "ours"
        idle = rss_mib()
        peak = [idle]
        stop = threading.Event()
        sampler = threading.Thread(target=_sample_rss, args=(stop, peak), daemon=True)
        sampler.start()
        ep = Endpoint(url, f"mem_{uuid.uuid4().hex[:8]}", free_port(), payload_file)
        try:
            result = await cell_nats_zenoh(contender, MEMORY_KIND, "cross", ep, 0.0, sink=sink)
        finally:
            stop.set()
            sampler.join()
        keep: dict[str, Any] = {"error": result["error"]} if "error" in result else {}
        if "lat_lost" in result:  # the paced phase is the whole run here; the rest still queued
            keep["sent"] = MEMORY_KIND.lat_n
            keep["received_when_publisher_done"] = MEMORY_KIND.lat_n - result["lat_lost"]
        if sink.subscription is not None:
            keep["dropped"] = sink.subscription.stats.dropped
            keep["disconnects"] = sink.disconnects
        out[variant] = {
            **keep,
            "idle_rss_mib": round(idle, 1),
            "peak_rss_mib": round(peak[0], 1),
            "growth_mib": round(peak[0] - idle, 1),
        }
        progress(f"sensors: memory: {variant}: {out[variant]}")
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from robotfleet_nodes.broker import EmbeddedBroker

    only = re.compile(args.only) if args.only else None
    contenders = [c for c in args.contenders.split(",") if c]
    kinds = [
        k for k in KINDS if (not args.quick or k.name in QUICK) and (only is None or only.search(k.name))
    ]
    seconds = 0.5 if args.quick else args.seconds
    domain = 150 + os.getpid() % 80
    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {"benchmark": "sensors", "baseline": True, "seconds_per_cell": seconds}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        payload_file = str(Path(tmp) / "memory.bin")
        for kind in kinds:
            payload = serialize(build(kind))
            kind_file = str(Path(tmp) / f"{kind.name}.bin")
            _write(kind_file, payload)
            if kind.name == "Image1080":
                payload_file = kind_file
            for mode in ("cross", "intra"):
                cells: dict[str, dict[str, Any]] = {}
                for contender in contenders:
                    progress(f"sensors: {kind.name} {mode} {contender} ...")
                    try:
                        if contender == "rclpy":
                            cells[contender] = await cell_rclpy(kind, mode, seconds, domain)
                        else:
                            ep = Endpoint(broker.url, f"s{uuid.uuid4().hex[:8]}", free_port(), kind_file)
                            cells[contender] = await cell_nats_zenoh(contender, kind, mode, ep, seconds)
                    except Exception as exc:  # one broken cell is a row's error, not the run's end
                        cells[contender] = {"error": f"{type(exc).__name__}: {exc}"}
                    progress(f"sensors: {kind.name} {mode} {contender}: {cells[contender]}")
                rows.append(
                    {
                        "type": kind.name,
                        "ros_type": kind.ros_type,
                        "mode": mode,
                        "encoding": "json",
                        **cells,
                        "ratios": ratios(cells),
                    }
                )
        result["rows"] = rows
        if only is None or only.search("memory"):
            if kind_file_missing(payload_file):
                _write(payload_file, serialize(build(MEMORY_KIND)))
            result["memory"] = await memory_check(broker.url, payload_file, contenders)
    return result


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2:]))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="String and Image640 only, 0.5 s per cell")
    parser.add_argument("--only", metavar="REGEX", help="types (and 'memory') whose name matches")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated subset")
    parser.add_argument("--seconds", type=float, default=1.0, help="back-to-back publishing per cell")
    emit(asyncio.run(run(parser.parse_args())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
