"""Service servers and clients: NATS request/reply in a queue group named after the service.

Replicas of a server join the same queue group, so NATS gives each request to one of them.
A handler that raises answers with an empty payload and an ``rfos-error`` header, which the
client raises as :class:`~robotfleet_nodes.transport.RemoteServiceError`. "No responders"
(the server's 503 status) becomes :class:`~robotfleet_nodes.errors.ServiceUnavailable`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from nats import errors as nats_errors

from robotfleet_nodes.errors import MessageTooLarge, ServiceTimeout, ServiceUnavailable, TransportError
from robotfleet_nodes.idl.codec import Encoding, type_hash_of
from robotfleet_nodes.transport._base import (
    ClientHandle,
    EndpointInfo,
    EntityStats,
    RequestHandler,
    ServiceHandle,
)
from robotfleet_nodes.transport._encoding import resolve_encoding
from robotfleet_nodes.transport._errors import RemoteServiceError
from robotfleet_nodes.transport._limits import too_large
from robotfleet_nodes.transport._ratelimit import RateLimitedLog
from robotfleet_nodes.transport.nats._chunks import chunk_blocks
from robotfleet_nodes.transport.nats._fastcodec import decoder_for, encoder_for
from robotfleet_nodes.transport.nats._headers import H_ENC, H_ERROR, H_HASH, H_PROBE, encode_block
from robotfleet_nodes.transport.nats._publisher import message_headers
from robotfleet_nodes.transport.nats._subscription import ENCODINGS

if TYPE_CHECKING:
    from robotfleet_nodes.transport.nats._transport import NatsTransport

__all__ = ["NatsClient", "NatsService"]

log = logging.getLogger(__name__)

_PROBE_BLOCK = encode_block({H_PROBE: "1"})
#: Coroutine requests one service runs at the same time.
MAX_CONCURRENT = 256


def _error_block(detail: str) -> bytes:
    return encode_block({H_ERROR: detail.replace("\r", " ").replace("\n", " ")[:1000] or "error"})


class NatsService(ServiceHandle):
    """Answers requests on one service subject, sharing load with its replicas."""

    def __init__(
        self, transport: NatsTransport, endpoint: EndpointInfo, srv_type: type[Any], handler: RequestHandler
    ):
        self._transport = transport
        self._nc = transport.client
        self.endpoint = endpoint
        self.subject = transport.mapper.service(endpoint.name)
        self.stats = EntityStats()
        self._request_type = srv_type.Request
        self._request_hash = type_hash_of(srv_type.Request)
        self._handler = handler
        self._encoding = resolve_encoding(transport.encoding, srv_type.Response)
        self._decoders = {encoding: decoder_for(srv_type.Request, encoding) for encoding in Encoding}
        self._decode_json = self._decoders[Encoding.JSON]
        self._encode = encoder_for(srv_type.Response, self._encoding)
        self._pending_tasks: set[asyncio.Future[None]] = set()
        self._headers = message_headers(srv_type.Response, self._encoding, None, None)
        self._block = encode_block(self._headers)
        self._log = RateLimitedLog(log)
        self._sub: Any = None
        self._closed = False

    async def start(self) -> None:
        """Join the service's queue group.

        Requests are decoded in the connection's reading task (no queue, no task per
        service). A plain-function handler answers right there; a coroutine handler runs
        as one task per request, so a request that waits (an action's ``get_result``, a
        slow lookup) never holds back the next one. At most :data:`MAX_CONCURRENT`
        coroutine requests run per service; more wait for a free slot.
        """
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._sub = await self._nc.subscribe_inline(self.subject, self._on_request_inline, queue=self.subject)

    def _serve(self, data: bytes, hdr: dict[str, str] | None) -> tuple[bytes, bytes] | Awaitable[Any]:
        """The reply (header block, payload), or the handler's awaitable result."""
        decode = self._decode_json
        if hdr is not None:
            if H_PROBE in hdr:
                return _PROBE_BLOCK, b""
            their_hash = hdr.get(H_HASH)
            if their_hash is not None and their_hash != self._request_hash:
                self.stats.type_mismatch += 1
                return _error_block(
                    f"TypeMismatch: request type hash {their_hash} != {self._request_hash}"
                ), b""
            enc_name = hdr.get(H_ENC)
            if enc_name is not None and enc_name != "json":
                decode = self._decoders[ENCODINGS.get(enc_name, Encoding.JSON)]
        try:
            request = decode(data)
        except Exception as exc:
            self.stats.malformed += 1
            self._log.log(logging.WARNING, "%s: malformed request dropped: %s", self.endpoint.name, exc)
            return _error_block(f"DecodeError: {exc}"), b""
        self.stats.received += 1
        try:
            response = self._handler(request)
        except Exception as exc:
            return self._failed(exc)
        if inspect.isawaitable(response):
            return response
        return self._encoded(response)

    def _encoded(self, response: Any) -> tuple[bytes, bytes]:
        try:
            return self._block, self._encode(response)
        except Exception as exc:
            return self._failed(exc)

    def _failed(self, exc: Exception) -> tuple[bytes, bytes]:
        self._log.log(logging.ERROR, "%s: service handler raised", self.endpoint.name, exc_info=exc)
        return _error_block(f"{type(exc).__name__}: {exc}"), b""

    async def _finish(self, pending: Awaitable[Any]) -> tuple[bytes, bytes]:
        try:
            response = await pending
        except Exception as exc:
            return self._failed(exc)
        return self._encoded(response)

    def _on_request_inline(self, reply: bytes, data: bytes, hdr: dict[str, str] | None) -> None:
        if not reply:
            return
        out = self._serve(data, hdr)
        if not isinstance(out, tuple):
            task = asyncio.ensure_future(self._reply_later(reply.decode(), out))
            self._pending_tasks.add(task)
            task.add_done_callback(self._pending_tasks.discard)
            return
        try:
            if len(out[1]) > self._nc.max_payload - len(out[0]):
                for block, payload in self._chunked(out[1]):
                    self._nc.publish_nowait(reply.decode(), block, payload)
                return
            self._nc.publish_nowait(reply.decode(), *out)
        except nats_errors.Error as exc:
            self._log.log(logging.WARNING, "%s: could not send the reply: %s", self.endpoint.name, exc)

    async def _reply_later(self, reply: str, pending: Awaitable[Any]) -> None:
        async with self._slots:
            out = await self._finish(pending)
        try:
            if len(out[1]) > self._nc.max_payload - len(out[0]):
                for block, payload in self._chunked(out[1]):
                    await self._nc.publish_prebuilt(reply, block, payload)
                return
            await self._nc.publish_prebuilt(reply, *out)
        except nats_errors.Error as exc:
            self._log.log(logging.WARNING, "%s: could not send the reply: %s", self.endpoint.name, exc)

    def _chunked(self, payload: bytes) -> list[tuple[bytes, bytes]]:
        """A reply over ``max_payload`` as chunks (``_chunks.py``), or an error reply over
        ``max_message_size``."""
        limit = self._transport.max_message_size
        if len(payload) > limit:
            error = too_large(f"{self.endpoint.name} reply", len(payload), limit)
            self._log.log(logging.ERROR, "%s", error)
            return [(_error_block(f"MessageTooLarge: {error}"), b"")]
        msgid = self._transport.chunk_ids.next_id()
        return [
            (block, bytes(piece))
            for block, piece in chunk_blocks(self._headers, payload, int(self._nc.max_payload), msgid)
        ]

    async def close(self) -> None:
        """Leave the queue group; idempotent."""
        if self._closed:
            return
        self._closed = True
        sub, self._sub = self._sub, None
        if sub is not None and not self._nc.is_closed:
            try:
                await sub.unsubscribe()
            except nats_errors.Error as exc:
                log.debug("%s: unsubscribe failed: %s", self.endpoint.name, exc)
        self._transport._forget(self)


class NatsClient(ClientHandle):
    """Calls one service with request/reply."""

    def __init__(self, transport: NatsTransport, endpoint: EndpointInfo, srv_type: type[Any]) -> None:
        self._transport = transport
        self._nc = transport.client
        self.endpoint = endpoint
        self.subject = transport.mapper.service(endpoint.name)
        self._response_type = srv_type.Response
        self._response_hash = type_hash_of(srv_type.Response)
        self._encoding = resolve_encoding(transport.encoding, srv_type.Request)
        self._encode = encoder_for(srv_type.Request, self._encoding)
        self._decoders = {encoding: decoder_for(srv_type.Response, encoding) for encoding in Encoding}
        self._block = encode_block(message_headers(srv_type.Request, self._encoding, None, None))
        self._closed = False

    async def call(self, request: Any, *, timeout: float) -> Any:
        """Send ``request``; return the decoded response (see :class:`ClientHandle`).

        A request must fit the server's ``max_payload`` (replicas in a queue group would
        each get some chunks): a bigger one raises ``MessageTooLarge``. Replies may be larger.
        """
        payload = self._encode(request)
        if len(payload) > self._nc.max_payload - len(self._block):
            raise MessageTooLarge(
                f"{self.endpoint.name}: the encoded request is {len(payload)} bytes, over the NATS "
                f"server's max_payload of {self._nc.max_payload} bytes (service requests are never "
                "chunked); send less per call, or raise max_payload in nats-server's configuration"
            )
        try:
            msg = await self._nc.request_prebuilt(self.subject, self._block, payload, timeout)
        except nats_errors.NoRespondersError:
            raise ServiceUnavailable(
                f"no server for service {self.endpoint.name} (subject {self.subject}); is its node running?"
            ) from None
        except nats_errors.TimeoutError:
            raise ServiceTimeout(f"service {self.endpoint.name} did not answer within {timeout:g}s") from None
        except nats_errors.ConnectionClosedError:
            raise TransportError(f"{self.endpoint.name}: the transport is closed") from None
        hdr = msg.headers
        encoding = Encoding.JSON
        if hdr is not None:
            error = hdr.get(H_ERROR)
            if error is not None:
                raise RemoteServiceError(self.endpoint.name, error)
            their_hash = hdr.get(H_HASH)
            if their_hash is not None and their_hash != self._response_hash:
                raise RemoteServiceError(
                    self.endpoint.name,
                    f"TypeMismatch: response type hash {their_hash} != {self._response_hash}",
                )
            encoding = ENCODINGS.get(hdr.get(H_ENC, "json"), Encoding.JSON)
        return self._decoders[encoding](msg.data)

    async def wait_for_service(self, *, timeout: float) -> bool:
        """Probe the service until a server exists (probes are answered without the handler)."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await self._nc.request_prebuilt(self.subject, _PROBE_BLOCK, b"", min(remaining, 1.0))
            except nats_errors.NoRespondersError:
                pass
            except nats_errors.TimeoutError:
                if self._nc.is_connected:
                    return True  # no "no responders": a server exists but is busy
                continue
            except nats_errors.ConnectionClosedError:
                return False
            else:
                return True
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.25)

    async def close(self) -> None:
        """Release the client; idempotent."""
        if not self._closed:
            self._closed = True
            self._transport._forget(self)
