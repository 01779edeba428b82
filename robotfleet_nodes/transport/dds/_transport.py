"""The DDS transport: ROS 2 wire conventions on Eclipse Cyclone DDS.

One :class:`DdsTransport` is one DDS domain participant. Names map as rmw_cyclonedds maps
them: topic ``/chatter`` is DDS topic ``rt/chatter``, service ``/add`` is ``rq/addRequest``
(requests) and ``rr/addReply`` (replies); types are ``pkg::msg::dds_::Type_`` with XCDR1
payloads. Samples travel as the bytes of our CDR codec (``_types`` only describes the type
to DDS), so an unmodified ROS 2 node using rmw_cyclonedds interoperates.

Reception: readers are attached to the participant's waitset thread (``_waitset``: no
Python listeners, which can deadlock against the GIL); on data it only schedules a drain
on the event loop, which takes samples in batches, decodes them and runs the callbacks.
Plain-function callbacks run inline, coroutine callbacks get one task per subscription
(so a slow one delays only itself).

Services follow rmw_cyclonedds: every sample starts with ``{uint64 guid; int64 seq}``
(``guid`` = instance handle of the client's request writer); every server answers every
request it receives and the client keeps the first reply of each sequence number.

ROS 2's graph: like every rmw participant, ours has ``enclave=/;`` in its USER_DATA and
publishes ``rmw_dds_common/msg/ParticipantEntitiesInfo`` on ``ros_discovery_info``
(reliable, transient-local, depth 1) whenever its nodes change: each node's namespace and
name with the GUIDs of its readers and writers, so ``ros2 node list`` / ``ros2 node info``
on the robot see our nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes as ct
import inspect
import itertools
import json
import logging
import os
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from cyclonedds._clayer import ddspy_read, ddspy_take, ddspy_write
from cyclonedds.core import DDSException, DDSStatus, InstanceState, Policy, Qos, SampleState, ViewState
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl import types as t
from cyclonedds.internal import dds_c_t
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from robotfleet_nodes.errors import DecodeError, ServiceTimeout, ServiceUnavailable, TransportError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import cdr_codec_of, type_hash_of
from robotfleet_nodes.qos import QOS_SERVICES, Durability, QoSProfile, Reliability
from robotfleet_nodes.transport._base import (
    ClientHandle,
    EndpointInfo,
    EntityStats,
    MessageCallback,
    NodeInfo,
    ParticipantInfo,
    PublisherHandle,
    RequestHandler,
    ServiceHandle,
    SubscriptionHandle,
    Transport,
)
from robotfleet_nodes.transport._connection import (
    ConnectionEvents,
    ConnectionListener,
    ConnectionListenerHandle,
    ConnectionState,
)
from robotfleet_nodes.transport._dispatch import CallbackFailures, run_queued_callbacks
from robotfleet_nodes.transport._ratelimit import RateLimitedLog
from robotfleet_nodes.transport.dds._domain import ensure_domain
from robotfleet_nodes.transport.dds._qos import reader_qos, writer_qos
from robotfleet_nodes.transport.dds._rosgraph import RosGraph
from robotfleet_nodes.transport.dds._types import idl_struct_for, request_struct_for
from robotfleet_nodes.transport.dds._waitset import WaitsetThread, dll

__all__ = ["ROS_DISCOVERY_TOPIC", "DdsTransport", "reply_topic", "request_topic", "topic_name"]

log = logging.getLogger(__name__)

_ANY = SampleState.Any | ViewState.Any | InstanceState.Any
_BATCH = 256
_HEADER = struct.Struct("<Qq")  # cdds_request_header_t: uint64 guid, int64 seq
_ENCAPSULATION = 4
_GRAPH_TOPIC = "rfos_graph"
#: ROS 2's graph topic (no ``rt/`` prefix) and its type.
ROS_DISCOVERY_TOPIC = "ros_discovery_info"
_PARTICIPANT_INFO = "rmw_dds_common/msg/ParticipantEntitiesInfo"
_ENCLAVE = b"enclave=/;"
_TYPEHASH = re.compile(rb"typehash=(RIHS01_[0-9a-f]+);")
_SUBSCRIPTION_EVENTS = (
    DDSStatus.DataAvailable
    | DDSStatus.RequestedDeadlineMissed
    | DDSStatus.RequestedIncompatibleQos
    | DDSStatus.LivelinessChanged
)
_OTHER_EVENTS = _SUBSCRIPTION_EVENTS & ~DDSStatus.DataAvailable
#: How long a call waits for discovery to match a server before ``ServiceUnavailable``.
_DISCOVERY_GRACE = 0.25


def _strip(name: str) -> str:
    return name[1:] if name.startswith("/") else name


def topic_name(name: str) -> str:
    """``/chatter`` -> ``rt/chatter``."""
    return "rt/" + _strip(name)


def request_topic(name: str) -> str:
    """``/add`` -> ``rq/addRequest``."""
    return "rq/" + _strip(name) + "Request"


def reply_topic(name: str) -> str:
    """``/add`` -> ``rr/addReply``."""
    return "rr/" + _strip(name) + "Reply"


def _pad(data: bytes) -> bytes:
    """Pad a CDR sample to a multiple of 4 bytes, as Cyclone's own writers do."""
    rest = len(data) % 4
    return data + b"\0" * (4 - rest) if rest else data


def _handle(entity: Any) -> int:
    """An entity's instance handle as the uint64 Cyclone uses (the binding returns int64)."""
    return int(entity.get_instance_handle()) & 0xFFFF_FFFF_FFFF_FFFF


def _guid(entity: Any) -> bytes:
    """An entity's 16-byte DDS GUID (what rmw_dds_common calls a gid)."""
    return bytes(entity.get_guid().bytes)


def _delete(entity: Any) -> None:
    """Delete a Cyclone entity now (idempotent)."""
    with contextlib.suppress(Exception):
        entity.__del__()


class _Inbox:
    """Moves samples from a reader to the event loop: one drain scheduled at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: Callable[[list[Any]], None]) -> None:
        self._loop = loop
        self._handle = handle
        self._pending = False
        self.reader: DataReader[Any] | None = None
        self.key: int | None = None  #: waitset attachment
        self.on_other_status: Callable[[int], None] | None = None
        self.closed = False

    def on_status(self, bits: int) -> None:
        """Waitset thread: the reader's status flags ``bits`` were raised (and taken)."""
        other = self.on_other_status
        if other is not None and bits & ~DDSStatus.DataAvailable:
            other(bits)  # first: counters are current when the data is delivered
        if bits & DDSStatus.DataAvailable:
            self.notify()

    def notify(self, *_: Any) -> None:
        """Called on a Cyclone thread when data is available."""
        if self._pending or self.closed:
            return
        self._pending = True
        with contextlib.suppress(RuntimeError):  # loop closed
            self._loop.call_soon_threadsafe(self.drain)

    def drain(self) -> None:
        self._pending = False
        reader = self.reader
        if reader is None or self.closed:
            return
        try:
            batch = ddspy_take(reader._ref, _ANY, _BATCH)
        except Exception:  # the reader was deleted
            return
        if isinstance(batch, int) or not batch:
            return
        if not self._pending:
            # Under load, poll again on the next loop iteration instead of waiting for the
            # waitset thread (a thread hop and a GIL hand-off); an empty take ends it.
            self._pending = True
            self._loop.call_soon(self.drain)
        self._handle(batch)


class _Participant:
    """Topics of one participant, created once per (name, type)."""

    def __init__(self, participant: DomainParticipant) -> None:
        self.dp = participant
        self.topics: dict[tuple[str, str], Topic[Any]] = {}

    def topic(self, name: str, data_type: type[IdlStruct]) -> Topic[Any]:
        key = (name, data_type.__idl_typename__)
        found = self.topics.get(key)
        if found is None:
            found = self.topics[key] = Topic(self.dp, name, data_type)
        return found


class _Publisher(PublisherHandle):
    def __init__(
        self, owner: DdsTransport, endpoint: EndpointInfo, writer: DataWriter[Any], encode: Any
    ) -> None:
        self._owner = owner
        self.endpoint = endpoint
        self._writer = writer
        self._ref = writer._ref
        self._encode = encode
        self._closed = False

    async def publish(self, msg: Any) -> None:
        """Write ``msg`` as ROS 2 CDR (a reliable writer may block up to 100 ms when full)."""
        if self._closed:
            raise TransportError(f"publisher on {self.endpoint.name} is closed")
        ret = ddspy_write(self._ref, _pad(self._encode(msg)))
        if ret < 0:
            raise TransportError(f"{self.endpoint.name}: DDS write failed ({DDSException(ret)})")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner._entities.discard(self)
        self._owner._writer_handles.discard(_handle(self._writer))
        _delete(self._writer)


class _Subscription(CallbackFailures, SubscriptionHandle):
    def __init__(
        self,
        owner: DdsTransport,
        endpoint: EndpointInfo,
        decode: Any,
        callback: MessageCallback,
    ) -> None:
        self._owner = owner
        self.endpoint = endpoint
        self.stats = EntityStats()
        self._decode = decode
        self._callback = callback
        self._ignore: set[int] | None = None  #: with ignore_local: this participant's writers
        self.type_hash = ""  #: ours; a writer announcing another one in USER_DATA is dropped
        self._writers: dict[int, bool] = {}  #: publication handle -> same type hash
        self._is_async = inspect.iscoroutinefunction(callback)
        self._queue: deque[Any] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = RateLimitedLog(log)
        self._loop = asyncio.get_running_loop()
        self._alive: bool | None = None
        self.inbox = _Inbox(self._loop, self._on_samples)
        self.reader: DataReader[Any] | None = None
        self._closed = False
        if self._is_async:
            self._task = asyncio.create_task(self._run(), name=f"rfos-dds {endpoint.name}")

    # waitset thread -----------------------------------------------------------------
    def _on_status(self, bits: int) -> None:
        reader = self.reader
        if reader is None or self._closed:
            return
        ref = reader._ref
        if bits & DDSStatus.RequestedDeadlineMissed:
            deadline = dds_c_t.requested_deadline_missed_status()
            if dll.dds_get_requested_deadline_missed_status(ref, ct.byref(deadline)) == 0:
                total = int(deadline.total_count)
                self.stats.deadline_missed = total
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._report_deadline, total)
        if bits & DDSStatus.RequestedIncompatibleQos:
            incompatible = dds_c_t.requested_incompatible_qos_status()
            if dll.dds_get_requested_incompatible_qos_status(ref, ct.byref(incompatible)) == 0:
                self.stats.qos_incompatible = int(incompatible.total_count)
                self._log.log(
                    logging.WARNING,
                    "%s: a publisher with incompatible QoS was not matched",
                    self.endpoint.name,
                )
        if bits & DDSStatus.LivelinessChanged:
            liveliness = dds_c_t.liveliness_changed_status()
            if dll.dds_get_liveliness_changed_status(ref, ct.byref(liveliness)) == 0:
                alive = int(liveliness.alive_count) > 0
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._report_liveliness, alive)

    # event loop -----------------------------------------------------------------------
    def _report_deadline(self, total: int) -> None:
        callback = self.on_deadline_missed
        if callback is not None and not self._closed:
            callback(total)

    def _report_liveliness(self, alive: bool) -> None:
        if alive == self._alive or self._closed:
            return
        self._alive = alive
        callback = self.on_liveliness_changed
        if callback is not None:
            callback(alive)

    def _on_samples(self, batch: list[Any]) -> None:
        # Status changes raised before these samples are counted before they are delivered,
        # whichever thread notices them first (the waitset thread may not have run yet).
        reader = self.reader
        if reader is not None:
            bits = ct.c_uint32()
            taken = dll.dds_take_status(reader._ref, ct.byref(bits), _OTHER_EVENTS)
            if taken == 0 and bits.value:
                self._on_status(bits.value)
        decode, stats, ignore, writers = self._decode, self.stats, self._ignore, self._writers
        for data, info in batch:
            if not info.valid_data:
                continue
            handle = info.publication_handle
            if ignore is not None and handle in ignore:
                continue
            same_type = writers.get(handle)
            if same_type is None:
                same_type = writers[handle] = self._same_type(handle)
            if not same_type:
                stats.type_mismatch += 1
                continue
            try:
                msg = decode(data)
            except DecodeError as exc:
                stats.malformed += 1
                self._log.log(logging.WARNING, "%s: malformed sample dropped: %s", self.endpoint.name, exc)
                continue
            stats.received += 1
            if self._is_async:
                self._queue.append(msg)
                self._wakeup.set()
                continue
            try:
                result = self._callback(msg)
                if result is not None and inspect.isawaitable(result):
                    asyncio.ensure_future(result).add_done_callback(self._check_task)
            except Exception as exc:
                self._failed(exc)

    def _same_type(self, handle: int) -> bool:
        """Whether the writer ``handle`` announces our type hash (or none: pre-Iron ROS 2)."""
        reader = self.reader
        if reader is None or not self.type_hash:
            return True
        try:
            data = reader.get_matched_publication_data(handle)
            user_data = bytes(data.qos[Policy.Userdata].data) if data is not None else b""
        except Exception:  # unmatched meanwhile, or no USER_DATA
            return True
        match = _TYPEHASH.search(user_data)
        if match is None or match.group(1).decode() == self.type_hash:
            return True
        self._log.log(
            logging.WARNING,
            "%s: dropping messages of a publisher with type hash %s (ours: %s)",
            self.endpoint.name,
            match.group(1).decode(),
            self.type_hash,
        )
        return False

    async def _run(self) -> None:
        await run_queued_callbacks(self._queue, self._wakeup, self._callback, self._failed)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner._release(self, self.inbox)
        if self._task is not None:
            self._task.cancel()
        if self.reader is not None:
            _delete(self.reader)


class _Service(ServiceHandle):
    def __init__(
        self, owner: DdsTransport, endpoint: EndpointInfo, srv_type: Any, handler: RequestHandler
    ) -> None:
        self._owner = owner
        self.endpoint = endpoint
        self.stats = EntityStats()
        self._handler = handler
        self._decode = cdr_codec_of(srv_type.Request).decode
        self._encode = cdr_codec_of(srv_type.Response).encode
        self._loop = asyncio.get_running_loop()
        self.inbox = _Inbox(self._loop, self._on_requests)
        self.reader: DataReader[Any] | None = None
        self.writer: DataWriter[Any] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._log = RateLimitedLog(log)
        self._closed = False

    def _on_requests(self, batch: list[Any]) -> None:
        for data, info in batch:
            if not info.valid_data:
                continue
            try:
                guid, seq = _HEADER.unpack_from(data, _ENCAPSULATION)
                request = self._decode(bytes(data[:_ENCAPSULATION]) + bytes(data[_ENCAPSULATION + 16 :]))
            except (DecodeError, struct.error) as exc:
                self.stats.malformed += 1
                self._log.log(logging.WARNING, "%s: malformed request dropped: %s", self.endpoint.name, exc)
                continue
            self.stats.received += 1
            task = asyncio.ensure_future(self._answer(guid, seq, request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, guid: int, seq: int, request: Any) -> None:
        try:
            response = self._handler(request)
            if inspect.isawaitable(response):
                response = await response
        except Exception as exc:
            # ROS 2's DDS service mapping has no error reply: the client times out.
            self._log.log(logging.ERROR, "%s: service handler raised", self.endpoint.name, exc_info=exc)
            return
        if self._closed or self.writer is None:
            return
        try:
            encoded = self._encode(response)
        except Exception as exc:
            self._log.log(logging.ERROR, "%s: cannot encode the response", self.endpoint.name, exc_info=exc)
            return
        writer = self.writer
        # A reply written before the client's reply reader is matched would be lost
        # (volatile); rmw_cyclonedds waits for the match the same way.
        for _ in range(20):  # up to 100 ms
            if writer.get_matched_subscriptions():
                break
            await asyncio.sleep(0.005)
        data = encoded[:_ENCAPSULATION] + _HEADER.pack(guid, seq) + encoded[_ENCAPSULATION:]
        ret = ddspy_write(writer._ref, _pad(data))
        if ret < 0:
            self._log.log(logging.WARNING, "%s: reply write failed (%d)", self.endpoint.name, ret)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner._release(self, self.inbox)
        for task in list(self._tasks):
            task.cancel()
        for entity in (self.reader, self.writer):
            if entity is not None:
                _delete(entity)


class _Client(ClientHandle):
    def __init__(self, owner: DdsTransport, endpoint: EndpointInfo, srv_type: Any) -> None:
        self._owner = owner
        self.endpoint = endpoint
        self._encode = cdr_codec_of(srv_type.Request).encode
        self._decode = cdr_codec_of(srv_type.Response).decode
        self._loop = asyncio.get_running_loop()
        self.inbox = _Inbox(self._loop, self._on_replies)
        self.reader: DataReader[Any] | None = None
        self.writer: DataWriter[Any] | None = None
        self.guid = 0
        self._seq = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._log = RateLimitedLog(log)
        self._closed = False

    def _available(self) -> bool:
        writer, reader = self.writer, self.reader
        if writer is None or reader is None or self._closed:
            return False
        return bool(writer.get_matched_subscriptions()) and bool(reader.get_matched_publications())

    def _on_replies(self, batch: list[Any]) -> None:
        for data, info in batch:
            if not info.valid_data:
                continue
            try:
                guid, seq = _HEADER.unpack_from(data, _ENCAPSULATION)
            except struct.error:
                continue
            if guid != self.guid:
                continue  # a reply to another client
            future = self._pending.pop(seq, None)
            if future is None or future.done():
                continue  # a second server's answer, or a call that timed out
            try:
                future.set_result(
                    self._decode(bytes(data[:_ENCAPSULATION]) + bytes(data[_ENCAPSULATION + 16 :]))
                )
            except DecodeError as exc:
                future.set_exception(exc)

    async def call(self, request: Any, *, timeout: float) -> Any:
        """Send ``request``; the first reply wins (every DDS server answers)."""
        if not self._available() and not await self.wait_for_service(timeout=min(timeout, _DISCOVERY_GRACE)):
            raise ServiceUnavailable(f"no server for service {self.endpoint.name} on the DDS domain")
        assert self.writer is not None
        seq = next(self._seq)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending[seq] = future
        encoded = self._encode(request)
        data = encoded[:_ENCAPSULATION] + _HEADER.pack(self.guid, seq) + encoded[_ENCAPSULATION:]
        try:
            ret = ddspy_write(self.writer._ref, _pad(data))
            if ret < 0:
                raise TransportError(f"{self.endpoint.name}: request write failed ({ret})")
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise ServiceTimeout(f"service {self.endpoint.name} did not answer within {timeout:g}s") from None
        finally:
            self._pending.pop(seq, None)

    async def wait_for_service(self, *, timeout: float) -> bool:
        """True once a server's request reader and reply writer are both matched."""
        deadline = time.monotonic() + timeout
        while not self._available():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner._release(self, self.inbox)
        for future in self._pending.values():
            future.cancel()
        for entity in (self.reader, self.writer):
            if entity is not None:
                _delete(entity)


def _dds_entities(entity: Any) -> tuple[str, DataReader[Any] | None, DataWriter[Any] | None]:
    """The graph kind of one of our entities (``NodeInfo``'s list name) and its reader/writer."""
    if isinstance(entity, _Publisher):
        return "publishers", None, entity._writer
    if isinstance(entity, _Subscription):
        return "subscriptions", entity.reader, None
    if isinstance(entity, _Service):
        return "services", entity.reader, entity.writer
    return "clients", entity.reader, entity.writer


_Announcement: Any = make_idl_struct(
    "Announcement_",
    "robotfleet_nodes::msg::dds_::GraphAnnouncement_",
    {"gid": str, "host": str, "pid": t.int64, "started_at": t.float64, "nodes": str},
    field_annotations={"gid": {"key": True}},
)


def _node_to_json(node: NodeInfo) -> dict[str, Any]:
    return {
        "name": node.name,
        "namespace": node.namespace,
        **{
            kind: [ep.describe() for ep in getattr(node, kind)]
            for kind in ("publishers", "subscriptions", "services", "clients")
        },
    }


def _node_from_json(data: dict[str, Any]) -> NodeInfo:
    def endpoints(kind: str) -> list[EndpointInfo]:
        return [
            EndpointInfo(
                name=ep["name"],
                type_name=ep["type"],
                type_hash=ep["hash"],
                qos=QoSProfile.from_description(ep.get("qos", {})),
            )
            for ep in data.get(kind, [])
        ]

    return NodeInfo(
        name=data["name"],
        namespace=data["namespace"],
        publishers=endpoints("publishers"),
        subscriptions=endpoints("subscriptions"),
        services=endpoints("services"),
        clients=endpoints("clients"),
    )


class DdsTransport(Transport):
    """Nodes on a DDS domain, wire-compatible with ROS 2 nodes using rmw_cyclonedds.

    ``domain_id`` defaults to ``ROS_DOMAIN_ID`` (else 0). The network setup comes from
    Cyclone's ``CYCLONEDDS_URI`` (see :data:`LOOPBACK_CONFIG` for a loopback-only one).
    The graph (:meth:`announce` / :meth:`graph`) travels on the transient-local DDS topic
    ``rfos_graph``, keyed by participant; ROS 2 tools do not see it.
    """

    kind: ClassVar[str] = "dds"

    def __init__(self, domain_id: int | None = None) -> None:
        if domain_id is None:
            domain_id = int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)
        self.domain_id = domain_id
        self.started_at = time.time()
        self._participant: _Participant | None = None
        self._entities: set[Any] = set()
        self._writer_handles: set[int] = set()  #: instance handles of our ``rt/`` writers
        self._connection = ConnectionEvents()
        self._graph_writer: DataWriter[Any] | None = None
        self._graph_reader: DataReader[Any] | None = None
        self._announced: Any = None
        self._ros_graph_writer: DataWriter[Any] | None = None
        self._ros_graph: RosGraph | None = None
        self._waitset: WaitsetThread | None = None
        self._closed = False

    def _attach(self, inbox: _Inbox, reader: DataReader[Any], mask: int) -> None:
        """Dispatch ``reader``'s events to ``inbox``; drain what is already there."""
        assert self._waitset is not None
        inbox.reader = reader
        inbox.key = self._waitset.attach(reader._ref, mask, inbox.on_status)
        inbox.notify()  # transient-local history may have arrived before the attach

    def _release(self, entity: Any, inbox: _Inbox) -> None:
        """``entity`` (closing) gets no more events: its inbox drops late ones, the waitset stops."""
        inbox.closed = True
        if inbox.key is not None and self._waitset is not None:
            self._waitset.detach(inbox.key)
            inbox.key = None
        self._entities.discard(entity)

    @property
    def gid(self) -> str:
        """This participant's DDS GUID (hex)."""
        return self._dp().dp.get_guid().hex if self._participant is not None else ""

    def _dp(self) -> _Participant:
        if self._participant is None:
            raise TransportError("DdsTransport is not connected: await transport.connect() first")
        return self._participant

    async def connect(self) -> None:
        """Join the DDS domain; idempotent."""
        if self._participant is not None:
            return
        if self._closed:
            raise TransportError("DdsTransport is closed")
        try:
            ensure_domain(self.domain_id)
            participant = _Participant(DomainParticipant(self.domain_id, qos=Qos(Policy.Userdata(_ENCLAVE))))
        except DDSException as exc:
            raise TransportError(
                f"cannot join DDS domain {self.domain_id}: {exc} (check CYCLONEDDS_URI)"
            ) from exc
        self._participant = participant
        self._waitset = WaitsetThread(participant.dp._ref)
        graph_topic = participant.topic(_GRAPH_TOPIC, _Announcement)
        graph_qos = Qos(
            Policy.Reliability.Reliable(0),
            Policy.Durability.TransientLocal,
            Policy.History.KeepLast(1),
        )
        self._graph_writer = DataWriter(participant.dp, graph_topic, graph_qos)
        self._graph_reader = DataReader(participant.dp, graph_topic, graph_qos)
        info_spec = default_registry().get_class(_PARTICIPANT_INFO).__ros_spec__
        info_topic = participant.topic(ROS_DISCOVERY_TOPIC, idl_struct_for(info_spec))
        self._ros_graph_writer = DataWriter(participant.dp, info_topic, graph_qos)
        self._ros_graph = RosGraph(participant.dp, info_topic)
        log.debug("joined DDS domain %d as %s", self.domain_id, self.gid)
        self._connection.set(ConnectionState.CONNECTED)

    async def close(self) -> None:
        """Delete every entity and the participant; idempotent."""
        if self._closed:
            return
        self._closed = True
        for entity in list(self._entities):
            await entity.close()
        if self._waitset is not None:
            self._waitset.close()
            self._waitset = None
        participant = self._participant
        if self._ros_graph is not None:
            self._ros_graph.close()
            self._ros_graph = None
        if participant is not None:
            if self._graph_writer is not None and self._announced is not None:
                with contextlib.suppress(Exception):
                    self._graph_writer.dispose(self._announced)
            for entity in (
                self._graph_writer,
                self._graph_reader,
                self._ros_graph_writer,
                *participant.topics.values(),
                participant.dp,
            ):
                if entity is not None:
                    _delete(entity)
            self._participant = None
        self._connection.set(ConnectionState.CLOSED)

    async def create_publisher(self, endpoint: EndpointInfo, msg_type: type[Any]) -> PublisherHandle:
        """A DDS writer on ``rt/<name>`` with the endpoint's QoS."""
        participant = self._dp()
        spec = msg_type.__ros_spec__
        topic = participant.topic(topic_name(endpoint.name), idl_struct_for(spec))
        writer = DataWriter(participant.dp, topic, writer_qos(endpoint.qos, type_hash_of(msg_type)))
        publisher = _Publisher(self, endpoint, writer, cdr_codec_of(msg_type).encode)
        self._writer_handles.add(_handle(writer))
        self._entities.add(publisher)
        return publisher

    async def create_subscription(
        self,
        endpoint: EndpointInfo,
        msg_type: type[Any],
        callback: MessageCallback,
        *,
        ignore_local: bool = False,
    ) -> SubscriptionHandle:
        """A DDS reader on ``rt/<name>``; ``ignore_local`` skips this participant's writers."""
        return self._subscribe(endpoint, msg_type, cdr_codec_of(msg_type).decode, callback, ignore_local)

    async def create_raw_subscription(
        self, endpoint: EndpointInfo, msg_type: type[Any], callback: Callable[[bytes], None]
    ) -> SubscriptionHandle:
        """A DDS reader on ``rt/<name>`` handing ``callback`` each sample's CDR bytes undecoded
        (tools: ``rfos topic echo|hz|bw``); writers of another type hash are dropped as by
        :meth:`create_subscription`."""
        return self._subscribe(endpoint, msg_type, bytes, callback, False)

    def _subscribe(
        self,
        endpoint: EndpointInfo,
        msg_type: type[Any],
        decode: Callable[[Any], Any],
        callback: MessageCallback,
        ignore_local: bool,
    ) -> SubscriptionHandle:
        participant = self._dp()
        topic = participant.topic(topic_name(endpoint.name), idl_struct_for(msg_type.__ros_spec__))
        subscription = _Subscription(self, endpoint, decode, callback)
        subscription.type_hash = endpoint.type_hash or type_hash_of(msg_type)
        if ignore_local:
            # Dropped by writer handle, not with Cyclone's IgnoreLocal QoS: local writers
            # stay matched, so their liveliness still counts (as on NATS).
            subscription._ignore = self._writer_handles
        qos = reader_qos(endpoint.qos, type_hash_of(msg_type))
        reader = DataReader(participant.dp, topic, qos)
        subscription.reader = reader
        subscription.inbox.on_other_status = subscription._on_status
        self._attach(subscription.inbox, reader, _SUBSCRIPTION_EVENTS)
        self._entities.add(subscription)
        return subscription

    def _request_reply(
        self, endpoint: EndpointInfo, srv_type: Any, *, server: bool
    ) -> tuple[DataWriter[Any], DataReader[Any]]:
        """The writer and reader of one side of a service: ``rq/<name>Request`` and ``rr/<name>Reply``.

        A server reads requests and writes replies; a client the other way round.
        """
        participant = self._dp()
        spec = srv_type.__ros_spec__
        qos = self._service_qos(endpoint)
        requests = (
            participant.topic(request_topic(endpoint.name), request_struct_for(spec.request)),
            type_hash_of(srv_type.Request),
        )
        replies = (
            participant.topic(reply_topic(endpoint.name), request_struct_for(spec.response)),
            type_hash_of(srv_type.Response),
        )
        (out_topic, out_hash), (in_topic, in_hash) = (replies, requests) if server else (requests, replies)
        writer = DataWriter(participant.dp, out_topic, writer_qos(qos, out_hash))
        reader = DataReader(participant.dp, in_topic, reader_qos(qos, in_hash))
        return writer, reader

    def _service_qos(self, endpoint: EndpointInfo) -> QoSProfile:
        qos = endpoint.qos
        if qos.durability is Durability.TRANSIENT_LOCAL or qos.reliability is Reliability.BEST_EFFORT:
            return QOS_SERVICES
        return qos

    async def create_service(
        self, endpoint: EndpointInfo, srv_type: type[Any], handler: RequestHandler
    ) -> ServiceHandle:
        """Read ``rq/<name>Request``, answer on ``rr/<name>Reply`` (rmw_cyclonedds layout)."""
        service = _Service(self, endpoint, srv_type, handler)
        service.writer, service.reader = self._request_reply(endpoint, srv_type, server=True)
        self._attach(service.inbox, service.reader, DDSStatus.DataAvailable)
        self._entities.add(service)
        return service

    async def create_client(self, endpoint: EndpointInfo, srv_type: type[Any]) -> ClientHandle:
        """Write ``rq/<name>Request``, read ``rr/<name>Reply``."""
        client = _Client(self, endpoint, srv_type)
        client.writer, client.reader = self._request_reply(endpoint, srv_type, server=False)
        client.guid = _handle(client.writer)
        self._attach(client.inbox, client.reader, DDSStatus.DataAvailable)
        self._entities.add(client)
        return client

    async def announce(self, nodes: list[NodeInfo]) -> None:
        """Publish this participant's nodes on the ``rfos_graph`` topic (latest wins)."""
        self._dp()
        assert self._graph_writer is not None
        sample = _Announcement(
            gid=self.gid,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.started_at,
            nodes=json.dumps([_node_to_json(node) for node in nodes]),
        )
        self._graph_writer.write(sample)
        self._announced = sample
        self._announce_to_ros(nodes)

    def _announce_to_ros(self, nodes: list[NodeInfo]) -> None:
        """Write ``ros_discovery_info``: every node with the GUIDs of its readers and writers."""
        if self._ros_graph_writer is None:
            return
        registry = default_registry()
        info_cls = registry.get_class(_PARTICIPANT_INFO)
        gid_cls = registry.get_class("rmw_dds_common/msg/Gid")
        node_cls = registry.get_class("rmw_dds_common/msg/NodeEntitiesInfo")
        readers: dict[tuple[str, EndpointInfo], list[bytes]] = {}
        writers: dict[tuple[str, EndpointInfo], list[bytes]] = {}
        for entity in list(self._entities):
            kind, reader, writer = _dds_entities(entity)
            key = (kind, entity.endpoint)
            if reader is not None:
                readers.setdefault(key, []).append(_guid(reader))
            if writer is not None:
                writers.setdefault(key, []).append(_guid(writer))

        def gids(found: dict[tuple[str, EndpointInfo], list[bytes]], node: NodeInfo) -> list[Any]:
            out: list[Any] = []
            for kind in ("publishers", "subscriptions", "services", "clients"):
                for endpoint in getattr(node, kind):
                    out.extend(gid_cls(data=list(gid)) for gid in found.get((kind, endpoint), ()))
            return out

        info = info_cls(
            gid=gid_cls(data=list(_guid(self._dp().dp))),
            node_entities_info_seq=[
                node_cls(
                    node_namespace=node.namespace,
                    node_name=node.name,
                    reader_gid_seq=gids(readers, node),
                    writer_gid_seq=gids(writers, node),
                )
                for node in nodes
            ],
        )
        ret = ddspy_write(self._ros_graph_writer._ref, _pad(cdr_codec_of(info_cls).encode(info)))
        if ret < 0:
            log.warning("%s: DDS write failed (%s)", ROS_DISCOVERY_TOPIC, DDSException(ret))

    async def graph(self, *, timeout: float = 0.5) -> list[ParticipantInfo]:
        """Participants whose announcement is alive (their writer exists) on the domain, then
        every other participant with ROS 2 nodes (real ROS 2: from ``ros_discovery_info`` and
        DDS discovery, see ``_rosgraph``; their ``host`` is empty and ``pid`` 0).

        Announcements are transient-local, so a fresh participant learns them at discovery;
        ``timeout`` is not waited out: what is known now is returned.
        """
        if self._closed or self._graph_reader is None:
            return []
        mask = SampleState.Any | ViewState.Any | InstanceState.Alive
        raw = ddspy_read(self._graph_reader._ref, mask, 4096)
        result = []
        for data, info in [] if isinstance(raw, int) else raw:
            if not info.valid_data:
                continue
            try:
                sample = _Announcement.deserialize(data)
                nodes = [_node_from_json(node) for node in json.loads(sample.nodes)]
            except Exception as exc:
                log.warning("malformed graph announcement dropped: %s", exc)
                continue
            result.append(
                ParticipantInfo(
                    gid=sample.gid,
                    host=sample.host,
                    pid=sample.pid,
                    nodes=nodes,
                    started_at=sample.started_at,
                )
            )
        if self._ros_graph is not None:
            result.extend(self._ros_graph.participants({p.gid for p in result}))
        return result

    @property
    def connection_state(self) -> ConnectionState:
        """DDS has no connection to lose: ``CONNECTED`` from connect() to close()."""
        return self._connection.state

    def add_connection_listener(self, listener: ConnectionListener) -> ConnectionListenerHandle:
        """DDS has no connection to lose: ``CONNECTED`` on connect, ``CLOSED`` on close."""
        return self._connection.add(listener)
