"""The DDS transport's entities: publishers, subscriptions, services and clients on Cyclone
DDS with rmw_cyclonedds' conventions (see :mod:`robotfleet_nodes.transport.dds._transport`,
whose :class:`DdsTransport` creates them), and the names and helpers they share."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes as ct
import inspect
import itertools
import logging
import re
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cyclonedds._clayer import ddspy_take, ddspy_write
from cyclonedds.core import DDSException, DDSStatus, InstanceState, Policy, SampleState, ViewState
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl import types as t
from cyclonedds.internal import dds_c_t
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from robotfleet_nodes.errors import DecodeError, ServiceTimeout, ServiceUnavailable, TransportError
from robotfleet_nodes.idl.codec import cdr_codec_of
from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport._base import (
    ClientHandle,
    EndpointInfo,
    EntityStats,
    MessageCallback,
    NodeInfo,
    PublisherHandle,
    RequestHandler,
    ServiceHandle,
    SubscriptionHandle,
)
from robotfleet_nodes.transport._dispatch import CallbackFailures, run_queued_callbacks
from robotfleet_nodes.transport._ratelimit import RateLimitedLog
from robotfleet_nodes.transport.dds._waitset import dll

if TYPE_CHECKING:
    from robotfleet_nodes.transport.dds._transport import DdsTransport

log = logging.getLogger("robotfleet_nodes.transport.dds._transport")

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
