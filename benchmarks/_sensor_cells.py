"""One cell of ``sensors.py``'s matrix: a contender's publisher and subscriber, and its figures.

Cross-process cells run the publisher as ``sensors.py --child ...`` (:func:`child`); intra
cells run it in this process; ``context`` cells put both nodes in one :class:`Context`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _sensor_kinds import BLOB, KINDS, LAT, MEMORY_KIND, SEQ, WARM, Kind, build, seq_of, with_seq

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import deserialize, serialize

ROOT = Path(__file__).resolve().parent.parent
SENSORS = Path(__file__).with_name("sensors.py")
RCLPY_PEER = Path(__file__).with_name("_ros2_sensor_peer.py")
REAL_PYTHON = ROOT / ".venv-ros2" / "bin" / "python"
QUIET = 0.4  # the subscriber's count stopped growing this long: the rest is lost
READY = 20.0  # seconds for a publisher to reach the subscriber (process start, discovery)


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


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
    """Where a contender's peers meet: NATS url, subject/namespace, zenoh port, payload, encoding."""

    url: str
    subject: str
    zenoh_port: int
    payload_file: str
    encoding: str = "json"  #: ours and raw_typed; the others send ``payload_file``'s bytes
    #: ``context`` cells: the one Context of ours' publisher and subscriber, and the paced
    #: messages ours published (to tell whether the subscriber got the very same objects).
    context: Any = None
    sent: dict[int, Any] | None = None


async def make_sender(contender: str, kind: Kind, ep: Endpoint, closers: list[Any]) -> Send:
    """A coroutine that publishes message ``seq`` of ``kind`` for ``contender``."""
    if contender == "ours":
        from robotfleet_nodes.node import Node

        ctx = await our_context(ep, closers)
        node = Node("sensors_pub", context=ctx, start_parameter_services=False)
        await node.start()
        pub = await node.create_publisher(type(build(kind)), ep.subject, kind.depth)
        msg = build(kind)
        sent = ep.sent

        async def send_ours(seq: int) -> None:
            out = with_seq(msg, seq)
            if sent is not None and LAT <= seq < WARM:
                sent[seq] = out
            await pub.publish(out)

        return send_ours
    if contender == "raw_typed":
        import nats

        nc = await nats.connect(ep.url)
        closers.append(nc)
        msg = build(kind)

        async def send_typed(seq: int) -> None:
            await nc.publish(ep.subject, serialize(with_seq(msg, seq), ep.encoding))

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


async def our_context(ep: Endpoint, closers: list[Any]) -> Any:
    """A started :class:`Context` on ``ep.url`` publishing in ``ep.encoding`` (a participant)."""
    from robotfleet_nodes.idl.codec import Encoding
    from robotfleet_nodes.node import Context
    from robotfleet_nodes.transport import IntraProcessTransport, NatsTransport

    if ep.context is not None:
        return ep.context
    transport = IntraProcessTransport(NatsTransport(ep.url, encoding=Encoding(ep.encoding)))
    closers.append(transport)
    ctx = Context(transport=transport, enable_rosout=False)
    await ctx.__aenter__()
    closers.append(ctx)
    return ctx


async def close_all(closers: list[Any]) -> None:
    for thing in reversed(closers):
        if hasattr(thing, "__aexit__"):
            await thing.__aexit__(None, None, None)
        elif asyncio.iscoroutinefunction(thing.close):
            await thing.close()
        else:
            thing.close()


async def child(args: list[str]) -> None:
    """``--child CONTENDER KIND URL SUBJECT ZENOH_PORT PAYLOAD_FILE SECONDS ENCODING``: the publisher."""
    contender, kind_name, url, subject, port, payload_file, seconds, encoding = args
    kind = MEMORY_KIND if kind_name == "memory" else next(k for k in (*KINDS, BLOB) if k.name == kind_name)
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
        ep = Endpoint(url, subject, int(port), payload_file, encoding)
        send = await make_sender(contender, kind, ep, closers)
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
        self.sent: dict[int, Any] | None = None  # paced messages published in this process
        self.same_object = 0  # of them, received as the very object published

    def record(self, seq: int, msg: Any = None) -> None:
        now = time.monotonic()
        if seq == WARM:
            if not self.ready.is_set():
                self.loop.call_soon_threadsafe(self.ready.set)
        elif seq >= LAT:
            self.lat[seq - LAT] = now
            if self.sent is not None and self.sent.get(seq) is msg:
                self.same_object += 1
        else:
            self.count += 1
            self.last = now
        if self.delay and seq != WARM and not self.cooperative:
            time.sleep(self.delay)

    async def record_async(self, seq: int, msg: Any = None) -> None:
        """A slow subscriber that waits instead of blocking the loop (ours, cooperative)."""
        self.record(seq, msg)
        if self.delay and seq != WARM:
            await asyncio.sleep(self.delay)


async def make_subscriber(contender: str, kind: Kind, ep: Endpoint, sink: Sink, closers: list[Any]) -> None:
    if contender == "ours":
        from robotfleet_nodes.node import Node

        ctx = await our_context(ep, closers)
        node = Node("sensors_sub", context=ctx, start_parameter_services=False)
        await node.start()

        def lost(state: Any) -> None:
            sink.disconnects += str(state) == "disconnected"

        ctx.transport.add_connection_listener(lost)

        async def cooperative(m: Any) -> None:
            await sink.record_async(seq_of(m), m)

        callback: Any = cooperative if sink.cooperative else (lambda m: sink.record(seq_of(m), m))
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
                sink.record(seq_of(deserialize(cls, msg.data, ep.encoding)))
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
    """One cell for ours / raw_typed / raw_bytes / zenoh.

    ``mode``: ``cross`` (the publisher in a child process), ``intra`` (in this process, its
    own connection) or ``context`` (ours only: publisher and subscriber nodes in one Context,
    handed over by the intra-process layer; ``same_object`` counts paced messages received as
    the very object published, ``zero_copy`` is all of them).
    """
    loop = asyncio.get_running_loop()
    sink = sink if sink is not None else Sink(loop, delay)
    closers: list[Any] = []
    size = len(_read(ep.payload_file)) + (SEQ.size if contender in ("raw_bytes", "zenoh") else 0)
    try:
        if mode == "context":
            if contender != "ours":
                return {"error": "context cells are ours only"}
            ep = dataclasses.replace(ep, context=await our_context(ep, closers), sent={})
            sink.sent = ep.sent
        await make_subscriber(contender, kind, ep, sink, closers)
        if mode in ("intra", "context"):
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
            out = row(
                events["sent"], events["lat_sent"], count=sink.count, last=sink.last, lat=sink.lat, size=size
            )
            if sink.sent is not None:
                out["same_object"] = sink.same_object
                out["zero_copy"] = bool(sink.lat) and sink.same_object == len(sink.lat)
            return out
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SENSORS),
            "--child",
            contender,
            "memory" if sink.delay else kind.name,
            ep.url,
            ep.subject,
            str(ep.zenoh_port),
            ep.payload_file,
            str(seconds),
            ep.encoding,
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
