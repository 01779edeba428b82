"""Plumbing shared by the ``rfos`` introspection verbs (topic, node, service, action, param, ...).

- :class:`AsyncVerb`: a verb whose work is a coroutine. ``run`` (the console script) runs it
  with ``asyncio.run``; tests and other async callers ``await main.run_cli([...])`` instead,
  so the CLI can talk to nodes running on the caller's own event loop.
- :func:`connect`: a :class:`NatsTransport` for ``--url`` / ``MESSAGING_URL``, else the
  local broker nodes share (``RFOS_LOCAL_PORT``); failing fast with "no broker: start one
  with `rfos broker` or set MESSAGING_URL". Verbs that need NATS use it: with
  ``--transport dds`` (or ``RFOS_TRANSPORT=dds``) it fails naming ``--transport nats``.
- :func:`open_bus`: the transport ``--transport`` / ``RFOS_TRANSPORT`` names: NATS as above,
  or a :class:`DdsTransport` on ``ROS_DOMAIN_ID`` (no broker: the robot's own ROS 2 bus).
- :func:`query_graph` and the :class:`Graph` view (topics, services, actions by name);
  :func:`query_graph_until` keeps looking on DDS, where discovery takes its time.
- :func:`not_found`: "unknown topic /chater; did you mean /chatter?" (exit 1).
- :func:`to_yaml`: ROS 2 style YAML of a decoded message (PyYAML, as ``ros2 topic echo``).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import difflib
import logging
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from robotfleet_nodes._local_broker import HOST as LOCAL_HOST
from robotfleet_nodes._local_broker import LocalBroker, local_port
from robotfleet_nodes.broker import ENV_URL, messaging_url_from_env
from robotfleet_nodes.cli._verb import Verb
from robotfleet_nodes.errors import ConfigError, RobotFleetError, TransportError
from robotfleet_nodes.security import redact_url

if TYPE_CHECKING:
    from robotfleet_nodes.transport import EndpointInfo, EntityStats, NodeInfo, ParticipantInfo, Transport
    from robotfleet_nodes.transport.nats import NatsTransport

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "AsyncVerb",
    "CliError",
    "Graph",
    "add_common",
    "connect",
    "expand",
    "fastdds_participant",
    "is_dds",
    "message_from_yaml",
    "not_found",
    "open_bus",
    "query_graph",
    "query_graph_until",
    "to_yaml",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
#: Seconds the graph query gathers answers (``--graph-wait``). Participants answer within
#: milliseconds even with 1000 robots running; 0.3 s keeps `rfos node list` under 1 s
#: including Python's start-up.
DEFAULT_GRAPH_WAIT = 0.3
#: On DDS a fresh participant must first discover the others: the default ``--graph-wait``
#: there (ros2cli's ``--spin-time`` is 0.5 s; a Fast DDS participant took 1.2 s to show up on
#: a loaded 2-core machine).
DDS_GRAPH_WAIT = 1.0
#: On DDS, how long a verb naming a topic, service or node keeps looking for it after
#: ``--graph-wait``, and how long ``query_graph`` waits for ROS 2 participants whose node
#: names have not arrived yet (Fast DDS sends its transient-local ``ros_discovery_info`` to
#: a Cyclone reader on its 3 s heartbeat).
DDS_DISCOVERY_PATIENCE = 5.0
NO_BROKER = f"start one with `rfos broker` or set {ENV_URL}"
ENV_TRANSPORT = "RFOS_TRANSPORT"
TRANSPORTS = ("nats", "dds")


class CliError(RobotFleetError):
    """A command-line failure; printed as ``rfos: <message>``, exit code 1."""


# -- running ---------------------------------------------------------------------------------
class AsyncVerb(Verb):
    """A verb whose work is the coroutine :meth:`arun`."""

    async def arun(self, args: argparse.Namespace) -> int:
        """Do the verb's work; return the exit code."""
        raise NotImplementedError

    def run(self, args: argparse.Namespace) -> int:
        """Run :meth:`arun` in a new event loop (the console script's path)."""
        try:
            return asyncio.run(self.arun(args))
        except BrokenPipeError:  # `rfos topic echo /x | head`: the reader is done, so are we
            # Python's documented recipe: point stdout at devnull so the exit flush is silent.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK


def add_common(parser: argparse.ArgumentParser, *, graph: bool = True) -> None:
    """``--transport``, ``--url`` (and ``--graph-wait``) for one sub-command."""
    parser.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default=None,
        help=(
            "nats (a broker) or dds (a robot's ROS 2 bus on $ROS_DOMAIN_ID, no broker; "
            f"default: ${ENV_TRANSPORT}, else nats)"
        ),
    )
    parser.add_argument(
        "--url", default=None, help=f"NATS server URL(s), comma separated (default: ${ENV_URL})"
    )
    if graph:
        parser.add_argument(
            "--graph-wait",
            type=float,
            default=None,
            metavar="SEC",
            help=(
                f"seconds to gather graph answers (default {DEFAULT_GRAPH_WAIT}; "
                f"on DDS, for discovery: {DDS_GRAPH_WAIT})"
            ),
        )


def sub_parser(
    sub: Any, name: str, help_: str, epilog: str = "", *, graph: bool = True
) -> argparse.ArgumentParser:
    """A sub-command parser with the common options and raw epilog formatting."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(parser, graph=graph)
    return parser


# -- connecting ------------------------------------------------------------------------------
def _servers(url: str) -> list[str]:
    return [u.strip() for u in url.split(",") if u.strip()]


def _tcp_probe(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


async def _reachable(server: str, timeout: float) -> bool:
    parsed = urlparse(server if "://" in server else f"nats://{server}")
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
    return await asyncio.to_thread(_tcp_probe, host, port, timeout)


def transport_kind(args: argparse.Namespace) -> str:
    """``--transport``, else ``RFOS_TRANSPORT``, else ``nats``."""
    kind = (getattr(args, "transport", None) or os.environ.get(ENV_TRANSPORT) or "nats").strip().lower()
    if kind not in TRANSPORTS:
        raise CliError(f"{ENV_TRANSPORT}={kind!r}: use one of {', '.join(TRANSPORTS)}")
    return kind


def is_dds(transport: Transport) -> bool:
    """Whether the CLI talks to a DDS bus (no broker, discovery-based graph)."""
    return transport.kind == "dds"


def fastdds_participant(transport: Transport, gid: str) -> bool:
    """Whether ``gid`` is a Fast DDS participant on the DDS bus: it would not understand our
    requests (ROS 2 has no service calls across DDS vendors, ros2/rmw_cyclonedds#184)."""
    if not is_dds(transport):
        return False
    from robotfleet_nodes.transport.dds import is_fastdds

    return is_fastdds(gid)


def _command(args: argparse.Namespace) -> str:
    words = [getattr(args, "verb", None), getattr(args, "action", None)]
    return "rfos " + " ".join(str(w) for w in words if w)


@contextlib.asynccontextmanager
async def open_bus(args: argparse.Namespace, *, timeout: float = 2.0) -> AsyncIterator[Transport]:
    """The transport of ``--transport`` / ``RFOS_TRANSPORT``, connected; closed on exit.

    ``dds``: a :class:`~robotfleet_nodes.transport.dds.DdsTransport` on ``ROS_DOMAIN_ID``
    (Cyclone's network setup from ``CYCLONEDDS_URI``); else :func:`connect`.
    """
    if transport_kind(args) != "dds":
        async with connect(args, timeout=timeout) as nats:
            yield nats
        return
    from robotfleet_nodes.transport.dds import DdsTransport

    domain = os.environ.get("ROS_DOMAIN_ID", "").strip() or "0"
    if not domain.isdigit():
        raise CliError(f"ROS_DOMAIN_ID={domain!r}: a DDS domain is a number (0..232)")
    transport = DdsTransport(int(domain))
    try:
        await transport.connect()
    except (TransportError, ConfigError) as exc:
        raise CliError(str(exc)) from None
    try:
        yield transport
    finally:
        with contextlib.suppress(Exception):
            await transport.close()


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace, *, timeout: float = 2.0) -> AsyncIterator[NatsTransport]:
    """A connected transport for ``args.url`` or ``MESSAGING_URL``, else the local broker
    (``RFOS_LOCAL_PORT``, found or started as nodes do; ``0``: an error); closed on exit.

    Fails at once (``CliError``) when no server answers, instead of retrying forever as
    nodes do, and when ``--transport dds`` / ``RFOS_TRANSPORT=dds`` asks for DDS: the verbs
    that call this one need NATS.
    """
    if transport_kind(args) == "dds":
        hint = "" if getattr(args, "transport", None) else f" (or unset {ENV_TRANSPORT}=dds)"
        raise CliError(
            f"`{_command(args)}` is not available on DDS (it needs NATS: a broker, JetStream or "
            f"the framework's NATS subjects): run it with --transport nats{hint}"
        )
    url = getattr(args, "url", None) or messaging_url_from_env()
    local: LocalBroker | None = None
    if url is None:
        port = local_port()
        if not port:
            raise CliError(f"no broker: {NO_BROKER} (e.g. {ENV_URL}=nats://localhost:4222)")
        # Zero-config, as nodes do: join the local broker (starting it), so `rfos topic list`
        # sees the programs started in other terminals without MESSAGING_URL.
        local = LocalBroker(port)
        try:
            url = await asyncio.to_thread(local.acquire)
        except RobotFleetError as exc:
            raise CliError(f"no local broker on {LOCAL_HOST}:{port} ({exc}): {NO_BROKER}") from None
    try:
        async with _connected(url, timeout) as transport:
            if local is not None:
                local.release()
            yield transport
    finally:
        if local is not None:
            local.release()


@contextlib.asynccontextmanager
async def _connected(url: str, timeout: float) -> AsyncIterator[NatsTransport]:
    from robotfleet_nodes.transport.nats import NatsTransport

    servers = _servers(url)
    checks = await asyncio.gather(*(_reachable(s, timeout) for s in servers))
    if not any(checks):
        raise CliError(f"no broker at {redact_url(url)}: {NO_BROKER}")
    # Credentials and TLS: MESSAGING_CREDS, MESSAGING_TLS_* (the transport reads them).
    transport = NatsTransport(url, name="rfos-cli", connect_timeout=timeout)
    try:
        await asyncio.wait_for(transport.connect(), timeout * 2)
    except TimeoutError:
        raise CliError(f"no broker answering at {redact_url(url)}: {NO_BROKER}") from None
    except (TransportError, ConfigError) as exc:  # its message says what to do (refused: credentials, TLS)
        raise CliError(str(exc)) from None
    except RobotFleetError as exc:
        raise CliError(f"no broker at {redact_url(url)} ({exc}): {NO_BROKER}") from None
    try:
        yield transport
    finally:
        with contextlib.suppress(Exception):
            await transport.close()


# -- names -----------------------------------------------------------------------------------
def expand(name: str) -> str:
    """A fully qualified name: ``chatter`` -> ``/chatter``; a trailing ``/`` is dropped."""
    name = name.strip()
    if not name.startswith("/"):
        name = "/" + name
    return name.rstrip("/") or "/"


def not_found(kind: str, name: str, known: Iterable[str]) -> CliError:
    """``unknown topic /x; did you mean: /y, /z`` (or the list is empty: say so)."""
    pool = sorted(set(known))
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.5)
    if not close:  # a substring match helps for long namespaced names
        short = name.rsplit("/", 1)[-1]
        close = [n for n in pool if short and short in n][:3]
    if close:
        return CliError(f"unknown {kind} {name}; did you mean: {', '.join(close)}?")
    if pool:
        return CliError(f"unknown {kind} {name} ({len(pool)} known: `rfos {kind} list` shows them)")
    return CliError(f"unknown {kind} {name}: none known (is anything running?)")


def is_hidden(name: str) -> bool:
    """Whether a name has a token starting with ``_`` (``/fib/_action/status``): hidden by default."""
    return any(token.startswith("_") for token in name.split("/"))


# -- the graph -------------------------------------------------------------------------------
@dataclass(slots=True)
class Endpoint:
    """One endpoint with the node that owns it."""

    node: str  #: fully qualified node name
    info: EndpointInfo
    participant: str = ""


@dataclass(slots=True)
class Graph:
    """Everything one graph query answered, indexed by name."""

    participants: list[ParticipantInfo]
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  #: node fqn -> participant gid
    publishers: dict[str, list[Endpoint]] = field(default_factory=dict)
    subscribers: dict[str, list[Endpoint]] = field(default_factory=dict)
    servers: dict[str, list[Endpoint]] = field(default_factory=dict)
    clients: dict[str, list[Endpoint]] = field(default_factory=dict)
    #: (node fqn, topic) -> counters of subscriptions that dropped messages (others are absent)
    troubled: dict[tuple[str, str], EntityStats] = field(default_factory=dict)

    @classmethod
    def build(cls, participants: list[ParticipantInfo]) -> Graph:
        """Index the participants' nodes and endpoints."""
        graph = cls(participants)
        for participant in participants:
            for node in participant.nodes:
                fqn = node.fqn
                graph.nodes[fqn] = node
                graph.owners[fqn] = participant.gid
                for table, endpoints in (
                    (graph.publishers, node.publishers),
                    (graph.subscribers, node.subscriptions),
                    (graph.servers, node.services),
                    (graph.clients, node.clients),
                ):
                    for info in endpoints:
                        table.setdefault(info.name, []).append(Endpoint(fqn, info, participant.gid))
            for entry in participant.troubled:
                graph.troubled[(entry.node, entry.topic)] = entry.stats
        return graph

    def topics(self, *, hidden: bool = False) -> dict[str, list[str]]:
        """Topic name -> its types (sorted), from publishers and subscribers."""
        out: dict[str, set[str]] = {}
        for table in (self.publishers, self.subscribers):
            for name, endpoints in table.items():
                if hidden or not is_hidden(name):
                    out.setdefault(name, set()).update(e.info.type_name for e in endpoints)
        return {name: sorted(types) for name, types in sorted(out.items())}

    def services(self, *, hidden: bool = False) -> dict[str, list[str]]:
        """Service name -> its types, from servers (and clients waiting for one)."""
        out: dict[str, set[str]] = {}
        for table in (self.servers, self.clients):
            for name, endpoints in table.items():
                if hidden or not is_hidden(name):
                    out.setdefault(name, set()).update(e.info.type_name for e in endpoints)
        return {name: sorted(types) for name, types in sorted(out.items())}

    def actions(self) -> dict[str, list[str]]:
        """Action name -> its types, derived from ``<action>/_action/send_goal`` services."""
        out: dict[str, set[str]] = {}
        for table in (self.servers, self.clients):
            for name, endpoints in table.items():
                action = action_of(name)
                if action is not None:
                    out.setdefault(action, set()).update(
                        e.info.type_name.removesuffix("_SendGoal") for e in endpoints
                    )
        return {name: sorted(types) for name, types in sorted(out.items())}


def action_of(service_name: str) -> str | None:
    """``/fib`` for ``/fib/_action/send_goal``; None for other names."""
    suffix = "/_action/send_goal"
    return service_name[: -len(suffix)] if service_name.endswith(suffix) else None


def _graph_wait(transport: Transport, args: argparse.Namespace | None) -> float:
    wait = getattr(args, "graph_wait", None) if args is not None else None
    if wait is None:
        return DDS_GRAPH_WAIT if is_dds(transport) else DEFAULT_GRAPH_WAIT
    return float(wait)


def _unnamed(graph: Graph) -> bool:
    """Whether a participant is known but not yet its nodes and their names (DDS: a Fast DDS
    participant's ``ros_discovery_info`` comes on its writer's 3 s heartbeat)."""
    from robotfleet_nodes.transport import UNKNOWN_NODE_NAME

    return any(all(n.name == UNKNOWN_NODE_NAME for n in p.nodes) for p in graph.participants)


async def query_graph(transport: Transport, args: argparse.Namespace | None = None) -> Graph:
    """One graph query (every live participant but this CLI itself).

    NATS: answers gathered for ``--graph-wait`` seconds. DDS: discovery runs for
    ``--graph-wait`` seconds from joining, then up to :data:`DDS_DISCOVERY_PATIENCE` more
    while a participant's node names are still unknown.
    """
    wait = _graph_wait(transport, args)
    if not is_dds(transport):
        participants = await transport.graph(timeout=wait)
        return Graph.build([p for p in participants if p.gid != getattr(transport, "gid", "")])
    return await query_graph_until(transport, args, lambda graph: True)


async def query_graph_until(
    transport: Transport,
    args: argparse.Namespace | None,
    done: Callable[[Graph], bool],
    *,
    named: bool = True,
) -> Graph:
    """:func:`query_graph`; on DDS, asked again until ``done(graph)`` and, with ``named``,
    every participant's node names are known (at most :data:`DDS_DISCOVERY_PATIENCE`
    seconds after ``--graph-wait``)."""
    wait = _graph_wait(transport, args)
    own = getattr(transport, "gid", "")
    if not is_dds(transport):
        return Graph.build([p for p in await transport.graph(timeout=wait) if p.gid != own])
    started = getattr(transport, "started_at", time.time())
    await asyncio.sleep(max(0.0, started + wait - time.time()))
    deadline = time.monotonic() + DDS_DISCOVERY_PATIENCE
    while True:
        graph = Graph.build([p for p in await transport.graph(timeout=0) if p.gid != own])
        if (done(graph) and not (named and _unnamed(graph))) or time.monotonic() >= deadline:
            return graph
        await asyncio.sleep(0.1)


def find_node(graph: Graph, name: str) -> NodeInfo:
    """The node called ``name`` (fully qualified, or a unique plain name); else :func:`not_found`."""
    fqn = expand(name)
    node = graph.nodes.get(fqn)
    if node is not None:
        return node
    same = [n for fq, n in graph.nodes.items() if fq.rsplit("/", 1)[-1] == name.strip("/")]
    if len(same) == 1:
        return same[0]
    raise not_found("node", fqn, graph.nodes)


# -- messages <-> text -----------------------------------------------------------------------
def message_from_yaml(cls: type[Any], text: str, *, what: str = "message") -> Any:
    """Build ``cls`` from a YAML mapping (``'{data: hi}'``); errors name the field."""
    import pydantic

    from robotfleet_nodes._yaml import YamlError, load_yaml

    try:
        data = load_yaml(text, what) if text.strip() else {}
    except YamlError as exc:
        raise CliError(f"{what}: not valid YAML: {exc.problem}".replace("\n", " ")) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CliError(f"{what}: expected a YAML mapping like '{{field: value}}', got {text!r}")
    try:
        return cls.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"field {'.'.join(str(p) for p in err['loc']) or '(message)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise CliError(f"{what} {cls.__ros_type__}: {problems}") from None


def _plain(value: Any, no_arr: bool) -> Any:
    """``value`` with what YAML should show as a list made a list (and hidden with ``no_arr``)."""
    if isinstance(value, dict):
        return {key: _plain(item, no_arr) for key, item in value.items()}
    if isinstance(value, list | tuple | bytes | bytearray | array.array):
        if no_arr:
            return f"<sequence length: {len(value)}>"
        if isinstance(value, array.array):  # numeric sequences: numbers already
            return value.tolist()
        return [_plain(item, no_arr) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def to_yaml(value: Any, *, no_arr: bool = False) -> str:
    """ROS 2 echo style YAML (PyYAML block style, one field a line) of a dumped message or a value.

    ``uint8[]`` values (``bytes``) and numeric sequences (``array.array``) show as lists of
    numbers, as ``ros2 topic echo`` prints them; with ``no_arr`` every sequence
    shows as ``'<sequence length: N>'``. No trailing newline.
    """
    from robotfleet_nodes._yaml import dump_yaml

    return dump_yaml(_plain(value, no_arr)).rstrip("\n")


def dump(msg: Any) -> Any:
    """A message as plain data (ROS field names); non-messages pass through."""
    import pydantic

    if isinstance(msg, pydantic.BaseModel):
        return msg.model_dump(by_alias=True)
    return msg


def write(text: str) -> None:
    """Write ``text`` to stdout and flush (CLI output helper)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def progress(text: str) -> None:
    """A progress or status line on stderr (kept off stdout, which scripts parse)."""
    print(text, file=sys.stderr, flush=True)


async def call_service(
    transport: Transport, name: str, srv_type: str | type[Any], request: Any, *, timeout: float = 5.0
) -> Any:
    """Call service ``name`` once (no node needed); returns the response message."""
    from robotfleet_nodes.idl.codec import type_hash_of
    from robotfleet_nodes.transport import EndpointInfo

    cls: Any = interface(srv_type) if isinstance(srv_type, str) else srv_type
    if not hasattr(cls, "Request"):
        raise CliError(f"{cls.__ros_type__} is not a service type")
    endpoint = EndpointInfo(name, cls.__ros_type__, type_hash_of(cls))
    client = await transport.create_client(endpoint, cls)
    try:
        if isinstance(request, str):
            request = message_from_yaml(cls.Request, request, what="request")
        if is_dds(transport):  # a fresh DDS client is matched with the servers first (discovery)
            await client.wait_for_service(timeout=timeout)
        return await client.call(request, timeout=timeout)
    finally:
        await client.close()


def interface(name: str) -> Any:
    """The class of a message, service or action type, loading the runtime's own
    standard services (rcl_interfaces, lifecycle_msgs, ...) on first use."""
    from robotfleet_nodes.node.parameters import interface_class

    return interface_class(name)
