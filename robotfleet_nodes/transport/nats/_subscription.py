"""Subscriptions on NATS subjects.

Hot path: a header check (hash, origin, QoS code: dict lookups on a cached header dict) +
``deserialize`` + the callback, run inline in the connection's reading task while it keeps
up. A slow or coroutine callback gets a bounded queue that drops by the subscription's QoS
and a drainer that yields to the reader (:mod:`._delivery`), so it never holds up the
connection. Chunked messages are reassembled first (:mod:`._chunks`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any

from nats import errors as nats_errors
from nats.aio.msg import Msg

from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.idl.codec import Encoding, type_hash_of
from robotfleet_nodes.qos import Durability, incompatibilities
from robotfleet_nodes.transport._base import (
    EndpointInfo,
    EntityStats,
    MessageCallback,
    SubscriptionHandle,
)
from robotfleet_nodes.transport._ratelimit import OnceLogger, RateLimitedLog
from robotfleet_nodes.transport._watchdog import Watchdog
from robotfleet_nodes.transport.nats._chunks import STORED, ChunkAssembler
from robotfleet_nodes.transport.nats._delivery import Delivery
from robotfleet_nodes.transport.nats._fastcodec import decoder_for
from robotfleet_nodes.transport.nats._headers import (
    H_CHUNK,
    H_ENC,
    H_GID,
    H_HASH,
    H_QOS,
    H_TYPE,
)
from robotfleet_nodes.transport.nats._objects import H_MSGID
from robotfleet_nodes.transport.nats._qos import decode_qos

if TYPE_CHECKING:
    from robotfleet_nodes.transport.nats._transport import NatsTransport

__all__ = ["ENCODINGS", "NatsSubscription"]

log = logging.getLogger(__name__)
_once = OnceLogger(log)

ENCODINGS: dict[str, Encoding] = {e.value: e for e in Encoding}
_DROPPED: Any = object()


class NatsSubscription(SubscriptionHandle):
    """Decodes messages of one subject for one callback (core NATS or a JetStream consumer)."""

    def __init__(
        self,
        transport: NatsTransport,
        endpoint: EndpointInfo,
        msg_type: type[Any],
        callback: MessageCallback,
        *,
        ignore_local: bool,
    ) -> None:
        self._transport = transport
        self.endpoint = endpoint
        self.subject = transport.mapper.topic(endpoint.name)
        self.stats = EntityStats()
        self._msg_type = msg_type
        self._hash = type_hash_of(msg_type)
        self._decoders = {encoding: decoder_for(msg_type, encoding) for encoding in Encoding}
        self._decode_json = self._decoders[Encoding.JSON]
        self._callback = callback
        self._ignore_gid = transport.gid if ignore_local else None
        self._qos_ok: dict[str, bool] = {}
        self._malformed_log = RateLimitedLog(log)
        self._callback_log = RateLimitedLog(log)
        self._skip = 0
        self._chunks: ChunkAssembler | None = None  # made at the first chunk
        self._assembled = 0  # size of the message the last chunk just completed
        self._fetches: set[asyncio.Future[None]] = set()
        self._sub: Any = None
        self._closed = False
        self._delivery = Delivery(
            endpoint.name,
            endpoint.qos,
            callback,
            self.stats,
            progress=transport.client.read_progress,
            lost=lambda: self.on_message_lost,
            failed=self._callback_failed,
        )
        self._deliver = self._delivery.deliver
        qos = endpoint.qos
        if ignore_local:
            # Whoever delivers the local messages sees every message: it tracks the deadline.
            qos = qos.with_(deadline=None)
        self._watchdog: Watchdog | None = None
        if qos.deadline is not None or qos.liveliness_lease_duration is not None:
            self._watchdog = Watchdog(
                endpoint.name,
                qos,
                self.stats,
                lambda: self.on_deadline_missed,
                lambda: self.on_liveliness_changed,
            )

    async def start(self) -> None:
        """Subscribe: a core subscription, or an ordered JetStream consumer for transient local."""
        nc = self._transport.client
        qos = self.endpoint.qos
        latched = self._transport.latched
        if qos.durability is Durability.TRANSIENT_LOCAL and latched is not None and await latched.available():
            try:
                stored = await latched.prepare_subscriber(self.subject)
            except (nats_errors.Error, RuntimeError) as exc:
                raise TransportError(
                    f"{self.endpoint.name}: cannot read transient-local messages from JetStream "
                    f"stream {latched.name}: {exc}"
                ) from exc
            if stored is not None:
                self._skip = max(0, stored - qos.depth) if qos.depth >= 1 else 0
                self._sub = await latched.subscribe(self.subject, self._on_stored)
                return
            # not stored (the stream may not be extended by this identity): live messages only
        # Plain and coroutine callbacks alike: decoded in the reading task, then run inline
        # or queued by self._delivery (coroutines always queued, awaited in order).
        self._sub = await nc.subscribe_inline(self.subject, self._on_inline)

    async def _on_stored(self, msg: Msg) -> None:
        if self._skip:
            self._skip -= 1
            return
        if self._expired(msg):
            return
        await self._on_msg(msg)

    def _expired(self, msg: Msg) -> bool:
        """A stored message older than its publisher's QoS lifespan (by JetStream's store time)."""
        code = msg.headers.get(H_QOS) if msg.headers else None
        if code is None or ",s" not in code:
            return False
        try:
            lifespan = decode_qos(code).lifespan
        except ValueError:
            return False
        return lifespan is not None and time.time() - msg.metadata.timestamp.timestamp() > lifespan

    async def _on_msg(self, msg: Msg) -> None:
        """Path for transient local (JetStream ordered consumer): nats-py's task and queue."""
        message = self._decode(msg.data, msg.headers)
        self._assembled = 0
        if message is _DROPPED:
            return
        try:
            result = self._callback(message)
            if result is not None and inspect.isawaitable(result):
                await result
        except Exception as exc:
            self._callback_failed(exc)

    def _on_inline(self, reply: bytes, data: bytes, hdr: dict[str, str] | None) -> None:
        """Core subscriptions: called from the connection's reading task."""
        message = self._decode(data, hdr)
        if message is _DROPPED:
            return
        size = self._assembled
        if size:  # the last chunk of a reassembled message: the queue bounds count it whole
            self._assembled = 0
            self._deliver(message, size)
            return
        self._deliver(message, len(data))

    def _callback_failed(self, exc: BaseException) -> None:
        self._callback_log.log(
            logging.ERROR, "%s: subscription callback raised", self.endpoint.name, exc_info=exc
        )

    def _decode(self, data: bytes, hdr: dict[str, str] | None) -> Any:
        """The message, or :data:`_DROPPED` (own, mismatched, incompatible, heartbeat, malformed)."""
        decode = self._decode_json
        if hdr is not None:
            if self._ignore_gid is not None and hdr.get(H_GID) == self._ignore_gid:
                if not data and self._watchdog is not None:
                    self._watchdog.heartbeat()  # our own publishers are alive too
                return _DROPPED
            their_hash = hdr.get(H_HASH)
            if their_hash is not None and their_hash != self._hash:
                self._mismatch(their_hash, hdr.get(H_TYPE, "?"))
                return _DROPPED
            code = hdr.get(H_QOS)
            if code is not None:
                ok = self._qos_ok.get(code)
                if ok is None:
                    ok = self._check_qos(code)
                if not ok:
                    self.stats.qos_incompatible += 1
                    return _DROPPED
            if not data:
                if self._watchdog is not None:
                    self._watchdog.heartbeat()
                return _DROPPED
            chunk = hdr.get(H_CHUNK)
            if chunk is not None:
                whole = self._reassemble(hdr, chunk, data)
                if whole is None:
                    return _DROPPED
                data = whole
            enc_name = hdr.get(H_ENC)
            if enc_name is not None and enc_name != "json":
                found = ENCODINGS.get(enc_name)
                if found is None:
                    self._malformed(f"unknown encoding {enc_name!r}")
                    return _DROPPED
                decode = self._decoders[found]
        try:
            message = decode(data)
        except Exception as exc:
            self._malformed(str(exc))
            return _DROPPED
        self.stats.received += 1
        if self._watchdog is not None:
            self._watchdog.data()
        return message

    def _reassemble(self, hdr: dict[str, str], chunk: str, data: bytes) -> bytes | None:
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = ChunkAssembler(self._transport.max_message_size, self._incomplete)
        if chunk.endswith(STORED):  # the latched stream's pointer to an oversized message
            if not chunks.delivered(hdr, chunk.partition(" ")[0]):
                task = asyncio.ensure_future(self._fetch_stored())
                self._fetches.add(task)
                task.add_done_callback(self._fetches.discard)
            return None
        whole = chunks.feed(hdr, chunk, data)
        if whole is not None:
            self._assembled = len(whole)
        return whole

    async def _fetch_stored(self) -> None:
        """Deliver the oversized transient-local message kept in the Object Store."""
        large = self._transport.large
        found = await large.get(self.subject) if large is not None else None
        if found is None:
            return
        hdr, data = found
        chunks = self._chunks
        msgid = hdr.pop(H_MSGID, "")
        if chunks is not None and msgid:
            if chunks.delivered(hdr, msgid):
                return  # its live chunks got here first
            chunks.mark_delivered(hdr, msgid)
        message = self._decode(data, hdr)
        self._assembled = 0
        if message is not _DROPPED:
            self._deliver(message, len(data))

    def _incomplete(self) -> None:
        self.stats.incomplete += 1
        self._malformed_log.log(
            logging.WARNING,
            "%s: dropped a chunked message whose chunks were lost (%d so far)",
            self.endpoint.name,
            self.stats.incomplete,
        )

    def _malformed(self, reason: str) -> None:
        self.stats.malformed += 1
        self._malformed_log.log(
            logging.WARNING,
            "%s: dropped a payload that is not a valid %s (%d so far): %s",
            self.endpoint.name,
            self._msg_type.__ros_type__,
            self.stats.malformed,
            reason[:200],
        )

    def _mismatch(self, their_hash: str, their_type: str) -> None:
        self.stats.type_mismatch += 1
        _once.log(
            (self.subject, their_hash),
            logging.WARNING,
            "%s: dropping messages of %s (%s); this subscription expects %s (%s)",
            self.endpoint.name,
            their_type,
            their_hash,
            self._msg_type.__ros_type__,
            self._hash,
        )

    def _check_qos(self, code: str) -> bool:
        try:
            reasons = incompatibilities(decode_qos(code), self.endpoint.qos)
        except ValueError:
            reasons = []  # an unknown code from a newer peer: do not drop its data
        ok = not reasons
        if len(self._qos_ok) < 64:
            self._qos_ok[code] = ok
        if not ok:
            _once.log(
                (self.subject, code),
                logging.WARNING,
                "%s: incompatible QoS, messages dropped: %s",
                self.endpoint.name,
                "; ".join(reasons),
            )
        return ok

    async def close(self) -> None:
        """Stop receiving; idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._fetches):
            task.cancel()
        self._delivery.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
        sub, self._sub = self._sub, None
        if sub is not None and not self._transport.client.is_closed:
            try:
                await sub.unsubscribe()
            except nats_errors.Error as exc:
                log.debug("%s: unsubscribe failed: %s", self.endpoint.name, exc)
        self._transport._forget(self)
