"""Publishers on NATS subjects.

Hot path: publish is ``serialize`` + one pre-encoded ``HPUB`` (the header block is encoded
once per publisher). A payload over the server's ``max_payload`` goes in chunks
(:mod:`._chunks`); an oversized transient-local one is also kept in the Object Store
(:mod:`._objects`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from nats import errors as nats_errors

from robotfleet_nodes.errors import MessageTooLarge, TransportError
from robotfleet_nodes.idl.codec import Encoding, type_hash_of
from robotfleet_nodes.qos import History, Liveliness, QoSProfile, Reliability
from robotfleet_nodes.transport._base import EndpointInfo, PublisherHandle
from robotfleet_nodes.transport._encoding import EncodingOption, resolve_encoding
from robotfleet_nodes.transport._limits import too_large
from robotfleet_nodes.transport._ratelimit import RateLimitedLog
from robotfleet_nodes.transport.nats._chunks import STORED, chunk_blocks
from robotfleet_nodes.transport.nats._client import hpub_prefix
from robotfleet_nodes.transport.nats._fastcodec import encoder_for
from robotfleet_nodes.transport.nats._headers import (
    H_CHUNK,
    H_ENC,
    H_GID,
    H_HASH,
    H_QOS,
    H_TYPE,
    encode_block,
)
from robotfleet_nodes.transport.nats._objects import H_MSGID
from robotfleet_nodes.transport.nats._qos import encode_qos

if TYPE_CHECKING:
    from robotfleet_nodes.transport.nats._transport import NatsTransport

__all__ = ["NatsPublisher", "message_headers"]

log = logging.getLogger(__name__)

_STORE_TIMEOUT = 2.0


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

    def __init__(
        self,
        transport: NatsTransport,
        endpoint: EndpointInfo,
        msg_type: type[Any],
        *,
        encoding: EncodingOption | None = None,
    ) -> None:
        self._transport = transport
        self._nc = transport.client
        self.endpoint = endpoint
        self.subject = transport.mapper.topic(endpoint.name)
        self._encoding = resolve_encoding(transport.encoding if encoding is None else encoding, msg_type)
        self._encode = encoder_for(msg_type, self._encoding)
        self.headers = message_headers(msg_type, self._encoding, transport.gid, endpoint.qos)
        self._block = encode_block(self.headers)
        self._prefix = hpub_prefix(self.subject, self._block)
        #: Larger payloads take the slow path (:meth:`_publish_large`); see :meth:`refresh_limits`.
        self._threshold = 0
        self.refresh_limits()
        #: Test hook: ``chunk index -> bool``; a chunk it refuses is not sent (chunk loss).
        self._chunk_filter: Any = None
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
        if len(payload) > self._threshold:
            await self._publish_large(payload)
            return
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

    def refresh_limits(self) -> None:
        """Re-read the server's ``max_payload`` (after connecting or reconnecting)."""
        room = int(self._nc.max_payload or 0) - len(self._block)
        self._threshold = max(0, min(room, self._transport.max_message_size))

    async def _publish_large(self, payload: bytes) -> None:
        """Over ``max_message_size``: refuse; else over ``max_payload``: send in chunks."""
        limit = self._transport.max_message_size
        if len(payload) > limit:
            raise too_large(self.endpoint.name, len(payload), limit)
        max_payload = int(self._nc.max_payload or 0)
        try:
            if len(payload) + len(self._block) <= max_payload:  # the server's limit grew: fits
                self.refresh_limits()
                if self.latched and self._nc.is_connected:
                    await self._publish_stored(payload)
                else:
                    await self._nc.publish_encoded(self._prefix, self._block, payload)
                return
            msgid = self._transport.chunk_ids.next_id()
            stored = self.latched and await self._store_large(msgid, payload)
            chunk_filter = self._chunk_filter
            for index, (block, piece) in enumerate(chunk_blocks(self.headers, payload, max_payload, msgid)):
                if chunk_filter is not None and not chunk_filter(index):
                    continue
                await self._nc.publish_encoded(hpub_prefix(self.subject, block), block, piece)  # type: ignore[arg-type]
        except nats_errors.OutboundBufferLimitError:
            if self._best_effort:
                self._drops.log(
                    logging.WARNING, "%s: disconnected, best-effort message dropped", self.endpoint.name
                )
                return
            raise TransportError(
                f"{self.endpoint.name}: not connected and the reconnect buffer cannot hold a "
                f"{len(payload)}-byte message; raise reconnect_buffer_bytes or check the broker"
            ) from None
        except nats_errors.ConnectionClosedError:
            raise TransportError(f"{self.endpoint.name}: the transport is closed") from None
        if stored:  # after the chunks: what the latched stream keeps, pointing at the object
            await self._publish_stored(b"\x00", {**self.headers, H_CHUNK: f"{msgid} {STORED}"})

    async def _store_large(self, msgid: str, payload: bytes) -> bool:
        """Transient local: keep an oversized message in the Object Store (``_objects.py``)."""
        qos = self.endpoint.qos
        if qos.history is not History.KEEP_LAST or qos.depth > 1:
            raise MessageTooLarge(
                f"{self.endpoint.name}: a {len(payload)}-byte message is over the NATS server's "
                f"max_payload ({self._nc.max_payload} bytes), and transient-local messages that large "
                "are kept for late subscribers with depth 1 only: use KEEP_LAST 1 for this publisher, "
                "or raise max_payload in nats-server's configuration"
            )
        large = self._transport.large
        if large is None or not self._nc.is_connected:
            return False
        return await large.put(self.subject, {**self.headers, H_MSGID: msgid}, payload)

    async def _publish_stored(self, payload: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            ack = await self._nc.request(
                self.subject, payload, timeout=_STORE_TIMEOUT, headers=headers or self.headers
            )
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
