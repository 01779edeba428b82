"""``rfos topic list|info|echo|hz|bw|pub|type|find``: topics, as ``ros2 topic`` shows them.

``echo``, ``hz`` and ``bw`` subscribe with the raw NATS client (inline handler in the
connection's reading task, no node, no per-message task): ``hz`` and ``bw`` only record a
timestamp and a size per message; ``echo`` queues the raw payloads and decodes and prints
them in batches, using each message's own ``rfos-type`` / ``rfos-enc`` headers.

On DDS (``--transport dds``: a robot's ROS 2 bus, no broker) every verb but ``pub`` works the
same way on undecoded CDR samples of a DDS reader whose type comes from the graph (or
``TYPE``) and whose QoS is adapted to the publishers, as ``ros2 topic echo`` does: reliable
when every publisher is, transient-local when every publisher is.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from robotfleet_nodes.cli._common import (
    EXIT_OK,
    AsyncVerb,
    CliError,
    Graph,
    connect,
    dump,
    expand,
    is_dds,
    message_from_yaml,
    not_found,
    open_bus,
    progress,
    query_graph,
    query_graph_until,
    sub_parser,
    to_yaml,
)
from robotfleet_nodes.cli._verb import expose_verb
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import deserialize, type_hash_of

if TYPE_CHECKING:
    from robotfleet_nodes.transport import EntityStats, Transport
    from robotfleet_nodes.transport.nats import NatsTransport

#: ``on_message(reply, data, headers)`` of a raw subscription, as nats-py's inline handlers.
RawHandler = Callable[[bytes, bytes, "dict[str, str] | None"], None]

__all__ = ["TopicVerb"]

# The header names of ``robotfleet_nodes.transport.nats._headers`` (not imported: importing
# the transport package costs ~0.3 s, which `rfos --help` should not pay).
H_TYPE = "rfos-type"
H_HASH = "rfos-hash"
H_ENC = "rfos-enc"

log = logging.getLogger(__name__)

#: Seconds between two ``hz`` / ``bw`` reports.
REPORT_PERIOD = 1.0

_EXAMPLES = {
    "list": (
        "  rfos topic list -t\n  rfos topic list -v --include-hidden\n"
        "  RFOS_TRANSPORT=dds rfos topic list -t     # a robot's ROS 2 bus (ROS_DOMAIN_ID), no broker"
    ),
    "info": "  rfos topic info /chatter\n  rfos topic info /chatter -v     # QoS of every endpoint",
    "echo": (
        "  rfos topic echo /chatter\n  rfos topic echo /robots/robot-1/status --field pose.x --once\n"
        "  rfos topic echo /odom --csv --no-arr\n"
        "  rfos topic echo /chatter --filter 'm.data.endswith(\"7\")'\n"
        "  rfos topic echo /chatter --once --transport dds   # a ROS 2 talker on the robot's DDS bus"
    ),
    "hz": (
        "  rfos topic hz /chatter\n  rfos topic hz /scan --window 100\n  rfos topic hz /scan --transport dds"
    ),
    "bw": "  rfos topic bw /scan",
    "pub": (
        "  rfos topic pub /chatter std_msgs/msg/String '{data: hello}' --once\n"
        "  rfos topic pub /cmd geometry_msgs/msg/Twist '{linear: {x: 0.5}}' -r 10\n"
        "  rfos topic pub /chatter std_msgs/String 'data: hi' -t 5 -r 100"
    ),
    "type": "  rfos topic type /chatter",
    "find": "  rfos topic find std_msgs/msg/String",
}


def _epilog(action: str) -> str:
    return "examples:\n" + _EXAMPLES[action] + "\n"


@expose_verb("topic")
class TopicVerb(AsyncVerb):
    """``rfos topic``: list, inspect, echo, measure and publish topics."""

    help = "list, inspect, echo, measure and publish topics"
    epilog = "examples:\n" + "\n".join(_EXAMPLES.values()) + "\n"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        p = sub_parser(sub, "list", "list the topics in the graph", _epilog("list"))
        p.add_argument("-t", "--show-types", action="store_true", help="show each topic's type")
        p.add_argument(
            "-v",
            "--verbose",
            dest="details",
            action="store_true",
            help="endpoints per topic",
        )
        p.add_argument("-a", "--include-hidden", action="store_true", help="also _action/... topics")

        p = sub_parser(sub, "info", "type, hash, publishers and subscribers of a topic", _epilog("info"))
        p.add_argument("name")
        p.add_argument(
            "-v", "--verbose", dest="details", action="store_true", help="every endpoint with its QoS"
        )

        p = sub_parser(sub, "echo", "print the messages of a topic as YAML", _epilog("echo"))
        p.add_argument("name")
        p.add_argument(
            "type",
            nargs="?",
            default=None,
            help="fallback type; also skips the graph check, so a topic without publishers yet can be echoed",
        )
        p.add_argument("--once", action="store_true", help="print one message and exit")
        p.add_argument("-n", "--count", type=int, default=0, help="exit after N messages")
        p.add_argument("--field", default=None, help="print only this field (a.b.c)")
        p.add_argument("--csv", action="store_true", help="one comma-separated line per message")
        p.add_argument(
            "--filter",
            dest="filter_expr",
            default=None,
            metavar="EXPR",
            help="Python expression of m (the message); print when true",
        )
        p.add_argument("--no-arr", action="store_true", help="print array sizes instead of contents")
        p.add_argument("--raw", action="store_true", help="print payloads undecoded")

        p = sub_parser(sub, "hz", "rate of a topic", _epilog("hz"))
        p.add_argument("name")
        p.add_argument(
            "--window", "-w", type=int, default=10000, help="messages averaged (default %(default)s)"
        )
        p.add_argument("--duration", type=float, default=0.0, metavar="SEC", help="stop after SEC seconds")

        p = sub_parser(sub, "bw", "bandwidth of a topic", _epilog("bw"))
        p.add_argument("name")
        p.add_argument(
            "--window", "-w", type=int, default=100, help="messages averaged (default %(default)s)"
        )
        p.add_argument("--duration", type=float, default=0.0, metavar="SEC", help="stop after SEC seconds")

        p = sub_parser(sub, "pub", "publish messages on a topic", _epilog("pub"), graph=False)
        p.add_argument("name")
        p.add_argument("type", help="message type, e.g. std_msgs/msg/String")
        p.add_argument("values", nargs="?", default="{}", help="the message as YAML (default {})")
        how = p.add_mutually_exclusive_group()
        how.add_argument("-1", "--once", action="store_true", help="publish one message and exit")
        how.add_argument("-t", "--times", type=int, default=0, help="publish N messages and exit")
        p.add_argument("-r", "--rate", type=float, default=1.0, help="messages per second (default 1)")
        p.add_argument("--qos-reliability", choices=["reliable", "best_effort"], default="reliable")
        p.add_argument("--qos-durability", choices=["volatile", "transient_local"], default="volatile")
        p.add_argument("--qos-depth", type=int, default=10)
        p.add_argument("-q", "--quiet", action="store_true", help="do not print what is published")

        p = sub_parser(sub, "type", "the type of a topic", _epilog("type"))
        p.add_argument("name")
        p = sub_parser(sub, "find", "topics of a given type", _epilog("find"))
        p.add_argument("type")

    async def arun(self, args: argparse.Namespace) -> int:
        if args.action == "pub":  # publishing through a node: NATS only for now
            async with connect(args) as nats:
                return await self._pub(nats, args)
        async with open_bus(args) as transport:
            action: Callable[[Transport, argparse.Namespace], Any] = getattr(self, "_" + args.action)
            code: int = await action(transport, args)
            return code

    # -- graph views ---------------------------------------------------------------------
    async def _list(self, transport: Transport, args: argparse.Namespace) -> int:
        graph = await query_graph(transport, args)
        topics = graph.topics(hidden=args.include_hidden)
        if args.details:
            for title, table, what in (
                ("Published topics:", graph.publishers, "publisher"),
                ("Subscribed topics:", graph.subscribers, "subscriber"),
            ):
                print(title)
                for name in sorted(table):
                    if args.include_hidden or name in topics:
                        eps = table[name]
                        shown = ", ".join(sorted({e.info.type_name for e in eps}))
                        print(f" * {name} [{shown}] {len(eps)} {what}{'s' if len(eps) != 1 else ''}")
                print()
            return EXIT_OK
        for name, types in topics.items():
            print(f"{name} [{', '.join(types)}]" if args.show_types else name)
        return EXIT_OK

    async def _info(self, transport: Transport, args: argparse.Namespace) -> int:
        graph, name = await _graph_with_topic(transport, args, args.name)
        pubs, subs = graph.publishers.get(name, []), graph.subscribers.get(name, [])
        types = sorted({e.info.type_name for e in pubs + subs})
        hashes = sorted({e.info.type_hash for e in pubs + subs})
        print(f"Type: {', '.join(types)}")
        print(f"Type hash: {', '.join(hashes)}")
        print(f"Publisher count: {len(pubs)}")
        print(f"Subscription count: {len(subs)}")
        for title, eps, kind in (("Publisher", pubs, "PUBLISHER"), ("Subscription", subs, "SUBSCRIPTION")):
            if not args.details:
                for ep in eps:
                    qos = ep.info.qos
                    stats = graph.troubled.get((ep.node, name)) if kind == "SUBSCRIPTION" else None
                    dropped = f", dropped {stats.dropped}" if stats is not None and stats.dropped else ""
                    print(
                        f"  {title.lower()}: {ep.node} "
                        f"({qos.reliability.value}, {qos.durability.value}, depth {qos.depth}{dropped})"
                    )
                continue
            print()
            for ep in eps:
                node_ns, _, node_name = ep.node.rpartition("/")
                print(f"Node name: {node_name}")
                print(f"Node namespace: {node_ns or '/'}")
                print(f"Topic type: {ep.info.type_name}")
                print(f"Topic type hash: {ep.info.type_hash}")
                print(f"Endpoint type: {kind}")
                print(f"GID: {ep.participant}")
                print("QoS profile:")
                for key, value in ep.info.qos.describe().items():
                    print(f"  {key}: {'infinite' if value is None else value}")
                if kind == "SUBSCRIPTION":
                    print(_dropped_line(graph.troubled.get((ep.node, name))))
                print()
        return EXIT_OK

    async def _type(self, transport: Transport, args: argparse.Namespace) -> int:
        graph, name = await _graph_with_topic(transport, args, args.name)
        for type_name in graph.topics(hidden=True)[name]:
            print(type_name)
        return EXIT_OK

    async def _find(self, transport: Transport, args: argparse.Namespace) -> int:
        wanted = default_registry().get_spec(args.type).full_name
        graph = await query_graph(transport, args)
        for name, types in graph.topics(hidden=True).items():
            if wanted in types:
                print(name)
        return EXIT_OK

    # -- echo ----------------------------------------------------------------------------
    async def _echo(self, transport: Transport, args: argparse.Namespace) -> int:
        name = expand(args.name)
        fallback: str | None = None
        graph: Graph | None = None
        if args.type is not None:
            fallback = default_registry().get_spec(args.type).full_name
        else:
            graph, name = await _graph_with_topic(transport, args, name, named=False)
            types = graph.topics(hidden=True)[name]
            fallback = types[0] if len(types) == 1 else None
        if args.raw and is_dds(transport):
            raise CliError("--raw: DDS samples are shown decoded; for raw payloads use --transport nats")
        printer = _Printer(args, fallback)
        limit = 1 if args.once else max(0, args.count)
        pending: list[tuple[bytes, dict[str, str] | None]] = []
        wake = asyncio.Event()

        def on_message(reply: bytes, data: bytes, headers: dict[str, str] | None) -> None:
            if not data:  # liveliness heartbeat
                return
            if not pending:
                wake.set()
            pending.append((data, headers))

        close = await _subscribe_raw(transport, graph, name, fallback, on_message)
        if sys.stderr.isatty():
            progress(f"echoing {name} (Ctrl-C to stop)")
        try:
            while True:
                await wake.wait()
                wake.clear()
                await asyncio.sleep(0)  # let a burst accumulate into one batch
                batch = pending[:]
                del pending[:]
                if printer.write(batch, limit):
                    return EXIT_OK
        finally:
            printer.flush_remaining(pending, limit)
            with contextlib.suppress(Exception):
                await close()

    # -- hz / bw -------------------------------------------------------------------------
    async def _hz(self, transport: Transport, args: argparse.Namespace) -> int:
        return await self._measure(transport, args, bandwidth=False)

    async def _bw(self, transport: Transport, args: argparse.Namespace) -> int:
        return await self._measure(transport, args, bandwidth=True)

    async def _measure(self, transport: Transport, args: argparse.Namespace, *, bandwidth: bool) -> int:
        graph, name = await _graph_with_topic(transport, args, args.name, named=False)
        window = max(2, args.window)
        stamps: deque[float] = deque(maxlen=window)
        sizes: deque[int] = deque(maxlen=window)
        clock = time.perf_counter
        add_stamp, add_size = stamps.append, sizes.append

        def on_rate(reply: bytes, data: bytes, headers: dict[str, str] | None) -> None:
            if data:
                add_stamp(clock())

        def on_bytes(reply: bytes, data: bytes, headers: dict[str, str] | None) -> None:
            if data:
                add_stamp(clock())
                add_size(len(data))

        types = graph.topics(hidden=True)[name]
        close = await _subscribe_raw(
            transport, graph, name, types[0] if types else None, on_bytes if bandwidth else on_rate
        )
        progress(f"subscribed to [{name}]")
        deadline = time.monotonic() + args.duration if args.duration > 0 else math.inf
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(min(REPORT_PERIOD, max(0.0, deadline - time.monotonic())))
                if bandwidth:
                    _report_bw(list(stamps), list(sizes))
                else:
                    _report_hz(list(stamps))
        finally:
            with contextlib.suppress(Exception):
                await close()
        return EXIT_OK

    # -- pub -----------------------------------------------------------------------------
    async def _pub(self, transport: NatsTransport, args: argparse.Namespace) -> int:
        from robotfleet_nodes.node import Context, Node
        from robotfleet_nodes.qos import Durability, QoSProfile, Reliability

        cls = default_registry().get_class(args.type)
        msg = message_from_yaml(cls, args.values)
        if args.rate <= 0:
            raise CliError(f"--rate must be positive, got {args.rate:g}")
        qos = QoSProfile(
            depth=max(1, args.qos_depth),
            reliability=Reliability(args.qos_reliability),
            durability=Durability(args.qos_durability),
        )
        times = 1 if args.once else max(0, args.times)
        async with Context(transport=transport, enable_rosout=False) as context:
            node = Node(f"_rfos_pub_{os.getpid()}", context=context, start_parameter_event_publisher=False)
            await node.start()
            publisher = await node.create_publisher(cls, expand(args.name), qos)
            if not args.quiet:
                print("publisher: beginning loop", flush=True)
            period = 1.0 / args.rate
            start = time.monotonic()
            count = 0
            text = json.dumps(dump(msg), default=_json_default)
            while times == 0 or count < times:
                await publisher.publish(msg)
                count += 1
                if not args.quiet:
                    print(f"publishing #{count}: {cls.__ros_type__}({text})", flush=True)
                if times and count >= times:
                    break
                await asyncio.sleep(max(0.0, start + count * period - time.monotonic()))
            await transport.flush(2.0)
        return EXIT_OK


async def _graph_with_topic(
    transport: Transport, args: argparse.Namespace, name: str, *, named: bool = True
) -> tuple[Graph, str]:
    """The graph and the expanded ``name``, known in it (on DDS: once discovery shows it;
    ``named``: and the names of the nodes, which echo and hz do not need)."""
    name = expand(name)
    graph = await query_graph_until(transport, args, lambda g: name in g.topics(hidden=True), named=named)
    return graph, _known_topic(graph, name)


def _subscriber_qos(graph: Graph | None, name: str) -> Any:
    """A QoS matching every publisher of ``name``: reliable / transient-local only when they
    all are (as ``ros2 topic echo`` adapts it); best effort and volatile match any writer."""
    from robotfleet_nodes.qos import Durability, QoSProfile, Reliability

    pubs = graph.publishers.get(name, []) if graph is not None else []
    reliable = bool(pubs) and all(p.info.qos.reliability is Reliability.RELIABLE for p in pubs)
    durable = bool(pubs) and all(p.info.qos.durability is Durability.TRANSIENT_LOCAL for p in pubs)
    return QoSProfile(
        depth=100,
        reliability=Reliability.RELIABLE if reliable else Reliability.BEST_EFFORT,
        durability=Durability.TRANSIENT_LOCAL if durable else Durability.VOLATILE,
    )


async def _subscribe_raw(
    transport: Transport, graph: Graph | None, name: str, type_name: str | None, on_message: RawHandler
) -> Callable[[], Any]:
    """Subscribe ``on_message`` to the undecoded messages of topic ``name``; returns the
    coroutine function that unsubscribes. DDS needs the type (CDR carries no type name)."""
    if not is_dds(transport):
        from robotfleet_nodes.transport.nats import reassembling

        nats = cast("NatsTransport", transport)
        whole = reassembling(on_message, nats.max_message_size)  # messages over max_payload come in chunks
        sub = await nats.subscribe_inline(nats.mapper.topic(name), whole)
        return sub.unsubscribe
    from robotfleet_nodes.transport import EndpointInfo
    from robotfleet_nodes.transport.dds import DdsTransport

    if type_name is None:
        raise CliError(f"{name} has publishers of several types: pass TYPE")
    cls = default_registry().get_class(type_name)
    headers = {H_TYPE: type_name, H_ENC: "cdr"}
    endpoint = EndpointInfo(name, type_name, type_hash_of(cls), _subscriber_qos(graph, name))
    handle = await cast(DdsTransport, transport).create_raw_subscription(
        endpoint, cls, lambda data: on_message(b"", data, headers)
    )
    return handle.close


def _known_topic(graph: Graph, name: str) -> str:
    name = expand(name)
    topics = graph.topics(hidden=True)
    if name not in topics:
        raise not_found("topic", name, graph.topics())
    return name


def _stats(values: list[float]) -> tuple[float, float, float, float]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return mean, min(values), max(values), std


def _report_hz(stamps: list[float]) -> None:
    if len(stamps) < 2:
        print("no new messages", flush=True)
        return
    intervals = [b - a for a, b in itertools.pairwise(stamps)]
    mean, low, high, std = _stats(intervals)
    rate = 1.0 / mean if mean > 0 else math.inf
    print(
        f"average rate: {rate:.3f}\n\tmin: {low:.6f}s max: {high:.6f}s std dev: {std:.6f}s "
        f"window: {len(stamps)}",
        flush=True,
    )


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.2f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


def _report_bw(stamps: list[float], sizes: list[int]) -> None:
    if len(stamps) < 2:
        print("no new messages", flush=True)
        return
    span = stamps[-1] - stamps[0]
    total = sum(sizes[1:])
    rate = total / span if span > 0 else 0.0
    mean, low, high, _ = _stats([float(s) for s in sizes])
    print(
        f"{_human(rate)}/s from {len(sizes)} messages\n\tMessage size mean: {_human(mean)} "
        f"min: {_human(low)} max: {_human(high)}",
        flush=True,
    )


class _Attr(dict[str, Any]):
    """A decoded message for ``--filter``: ``m.pose.x`` as well as ``m['pose']['x']``."""

    def __getattr__(self, key: str) -> Any:
        try:
            value = self[key]
        except KeyError:
            raise AttributeError(key) from None
        return _wrap(value)


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return _Attr(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


_SAFE_BUILTINS = {
    f.__name__: f for f in (abs, all, any, bool, float, int, len, max, min, round, str, sum, list, tuple)
}


def _flatten(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _flatten(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _flatten(item, out)
    elif isinstance(value, bytes | bytearray | array.array):
        out.extend(str(b) for b in value)
    else:
        out.append(str(value))


class _Printer:
    """Decodes queued payloads and writes them, one ``write`` per batch."""

    def __init__(self, args: argparse.Namespace, fallback_type: str | None) -> None:
        self._args = args
        self._fallback = fallback_type
        self._decoders: dict[tuple[str | None, str | None, str | None], Callable[[bytes], Any]] = {}
        self._field = [p for p in args.field.split(".") if p] if args.field else []
        self._filter = compile(args.filter_expr, "--filter", "eval") if args.filter_expr else None
        self._printed = 0
        self._warned: set[str] = set()

    def _decoder(self, headers: dict[str, str] | None) -> Callable[[bytes], Any]:
        h = headers or {}
        key = (h.get(H_TYPE), h.get(H_ENC), h.get(H_HASH))
        decoder = self._decoders.get(key)
        if decoder is None:
            decoder = self._decoders[key] = self._make_decoder(*key)
        return decoder

    def _make_decoder(
        self, type_name: str | None, encoding: str | None, their_hash: str | None
    ) -> Callable[[bytes], Any]:
        type_name = type_name or self._fallback
        encoding = encoding or "json"
        cls: Any = None
        if type_name is not None:
            try:
                cls = default_registry().get_class(type_name)
            except RobotFleetError as exc:
                self._warn(f"type {type_name} is unknown here ({exc}); decoding as plain JSON")
        if cls is not None and their_hash and their_hash != type_hash_of(cls):
            self._warn(
                f"{type_name}: sender's type hash {their_hash} differs from ours; decoding as plain JSON"
            )
            cls = None
        if cls is None:
            if encoding != "json":
                raise CliError(f"cannot decode {encoding} payloads without a known type: pass TYPE")
            return _plain_json
        if encoding == "json":
            validate = cls.__pydantic_validator__.validate_json
            return lambda data: validate(data).model_dump(by_alias=True)
        return lambda data: deserialize(cls, data, encoding).model_dump(by_alias=True)

    def _warn(self, text: str) -> None:
        if text not in self._warned:
            self._warned.add(text)
            print(f"rfos: warning: {text}", file=sys.stderr)

    def _format(self, data: bytes, headers: dict[str, str] | None) -> str | None:
        args = self._args
        if args.raw:
            if (headers or {}).get(H_ENC, "json") == "json":
                return data.decode("utf-8", "backslashreplace") + "\n---\n"
            return data.hex(" ") + "\n---\n"
        try:
            value = self._decoder(headers)(data)
        except CliError:
            raise
        except Exception as exc:
            self._warn(f"a message failed to decode: {exc}")
            return None
        if self._filter is not None:
            try:
                keep = eval(self._filter, {"__builtins__": _SAFE_BUILTINS}, {"m": _wrap(value)})
            except Exception as exc:
                raise CliError(f"--filter {args.filter_expr!r} failed: {type(exc).__name__}: {exc}") from None
            if not keep:
                return None
        for part in self._field:
            try:
                value = value[int(part)] if isinstance(value, list | array.array | bytes) else value[part]
            except (KeyError, IndexError, ValueError, TypeError):
                fields = ", ".join(value) if isinstance(value, dict) else "none"
                raise CliError(f"--field {args.field}: no field {part!r} (fields here: {fields})") from None
        if args.csv:
            cells: list[str] = []
            _flatten(value, cells)
            return ",".join(cells) + "\n"
        return to_yaml(value, no_arr=args.no_arr) + "\n---\n"

    def write(self, batch: list[tuple[bytes, dict[str, str] | None]], limit: int) -> bool:
        """Print a batch; True once ``limit`` messages (when set) are printed."""
        chunks: list[str] = []
        done = False
        for data, headers in batch:
            text = self._format(data, headers)
            if text is None:
                continue
            chunks.append(text)
            self._printed += 1
            if limit and self._printed >= limit:
                done = True
                break
        if chunks:
            sys.stdout.write("".join(chunks))
            sys.stdout.flush()
        return done

    def flush_remaining(self, batch: list[tuple[bytes, dict[str, str] | None]], limit: int) -> None:
        """Print what is still queued when the command stops (best effort)."""
        if batch and not (limit and self._printed >= limit):
            with contextlib.suppress(Exception):
                self.write(batch, limit)


def _json_default(value: Any) -> Any:
    """Numeric arrays as lists in ``rfos topic pub``'s echo of what it sends; the rest as text."""
    return value.tolist() if isinstance(value, array.array) else str(value)


def _plain_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "backslashreplace")


def _dropped_line(stats: EntityStats | None) -> str:
    """``topic info -v``'s line for a subscription's dropped messages (none reported: 0)."""
    if stats is None:
        return "Dropped messages: 0"
    detail = ", ".join(
        f"{count} {what}"
        for count, what in (
            (stats.dropped, "queue full (callback too slow)"),
            (stats.malformed, "malformed"),
            (stats.type_mismatch, "other type"),
            (stats.qos_incompatible, "incompatible QoS"),
        )
        if count
    )
    total = stats.dropped + stats.malformed + stats.type_mismatch + stats.qos_incompatible
    return f"Dropped messages: {total} ({detail}; {stats.received} received)"
