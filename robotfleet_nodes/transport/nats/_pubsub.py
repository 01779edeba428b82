"""Publishers and subscriptions on NATS subjects.

Hot paths: publish is ``serialize`` + one pre-encoded ``HPUB``; receive is a header
check (hash, origin, QoS code: dict lookups on a cached header dict) + ``deserialize`` +
the callback, run inline in the connection's reading task while it keeps up. A slow or
coroutine callback gets a bounded queue that drops by the subscription's QoS and a drainer
that yields to the reader (:mod:`._delivery`), so it never holds up the connection.
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
from robotfleet_nodes.qos import Durability, Liveliness, QoSProfile, Reliability, incompatibilities
from robotfleet_nodes.transport._base import (
    EndpointInfo,
    EntityStats,
    MessageCallback,
    PublisherHandle,
    SubscriptionHandle,
)
from robotfleet_nodes.transport._ratelimit import OnceLogger, RateLimitedLog
from robotfleet_nodes.transport._watchdog import Watchdog
from robotfleet_nodes.transport.nats._client import hpub_prefix
from robotfleet_nodes.transport.nats._delivery import Delivery
from robotfleet_nodes.transport.nats._fastcodec import decoder_for, encoder_for
from robotfleet_nodes.transport.nats._headers import H_ENC, H_GID, H_HASH, H_QOS, H_TYPE, encode_block
from robotfleet_nodes.transport.nats._qos import decode_qos, encode_qos

if TYPE_CHECKING:
    from robotfleet_nodes.transport.nats._transport import NatsTransport

__all__ = ["NatsPublisher", "NatsSubscription", "message_headers"]

log = logging.getLogger(__name__)
_once = OnceLogger(log)

ENCODINGS: dict[str, Encoding] = {e.value: e for e in Encoding}
_STORE_TIMEOUT = 2.0
_DROPPED: Any = object()


def message_headers(
    msg_type: type[Any], encoding: Encoding, gid: str | None, qos: QoSProfile | None
) -> dict[str, str]:
    """The headers of every message of ``msg_type`` (sent by participant ``gid``, on topics)."""
    headers = {H_TYPE: str(msg_type.__ros_type__), H_HASH: type_hash_of(msg_type), H_ENC: encoding.value}
    if gid is not None:
        headers[H_GID] = gid
    if qos is not None:
        headers[H_QOS] = encode_qos(qos)
    return headers


class NatsPublisher(PublisherHandle):
    """Publishes on one subject with a header block encoded once."""

    def __init__(self, transport: NatsTransport, endpoint: EndpointInfo, msg_type: type[Any]) -> None:
        self._transport = transport
        self._nc = transport.client
        self.endpoint = endpoint
        self.subject = transport.mapper.topic(endpoint.name)
        self._encoding = transport.encoding
        self._encode = encoder_for(msg_type, self._encoding)
        self.headers = message_headers(msg_type, self._encoding, transport.gid, endpoint.qos)
        self._block = encode_block(self.headers)
        self._prefix = hpub_prefix(self.subject, self._block)
        self._best_effort = endpoint.qos.reliability is Reliability.BEST_EFFORT
        #: Set by the transport once the latched stream stores this subject.
        self.latched = False
        self._drops = RateLimitedLog(log)
        self._closed = False
        self._heartbeat: asyncio.Task[None] | None = None
        qos = endpoint.qos
        periods = [p for p in (qos.deadline, qos.liveliness_lease_duration) if p is not None]
        if periods and qos.liveliness is Liveliness.AUTOMATIC:
            self._heartbeat = asyncio.create_task(
                self._beat(min(periods) / 3), name=f"rfos-heartbeat {endpoint.name}"
            )

    async def publish(self, msg: Any) -> None:
        """Serialize ``msg`` and send it (buffered while reconnecting, up to the bound).

        Transient local: while connected, waits for JetStream to confirm it stored the
        message, so a subscription created after ``publish`` returns gets it.
        """
        payload = self._encode(msg)
        try:
            if self.latched and self._nc.is_connected:
                await self._publish_stored(payload)
                return
            await self._nc.publish_encoded(self._prefix, self._block, payload)
        except nats_errors.OutboundBufferLimitError:
            if self._best_effort:
                self._drops.log(
                    logging.WARNING, "%s: disconnected, best-effort message dropped", self.endpoint.name
                )
                return
            raise TransportError(
                f"{self.endpoint.name}: not connected and the reconnect buffer is full; "
                "raise reconnect_buffer_bytes or check the broker"
            ) from None
        except nats_errors.ConnectionClosedError:
            raise TransportError(f"{self.endpoint.name}: the transport is closed") from None

    async def _publish_stored(self, payload: bytes) -> None:
        try:
            ack = await self._nc.request(self.subject, payload, timeout=_STORE_TIMEOUT, headers=self.headers)
        except (nats_errors.TimeoutError, nats_errors.NoRespondersError) as exc:
            self._drops.log(
                logging.WARNING,
                "%s: JetStream did not confirm storing a message: %r",
                self.endpoint.name,
                exc,
            )
            return
        if b'"error"' in ack.data:
            self._drops.log(
                logging.WARNING, "%s: JetStream refused a message: %s", self.endpoint.name, ack.data[:200]
            )

    async def _beat(self, period: float) -> None:
        """Liveliness heartbeats: empty payload, same headers."""
        while True:
            await asyncio.sleep(period)
            try:
                await self._nc.publish_prebuilt(self.subject, self._block, b"")
            except nats_errors.Error:
                continue

    async def close(self) -> None:
        """Stop publishing (and heartbeating); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        self._transport._forget(self)


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
