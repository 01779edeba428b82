"""The nats-py client, tuned for messages whose headers repeat and for many subscriptions.

Measured with nats-py 2.16 (a ``std_msgs/String`` in JSON, publisher and subscriber in
one process, 2-core VM): three headers through the public API cut end-to-end throughput
from ~160k/s to ~75k/s, nearly all of it (1) rebuilding and validating the header block
on every publish and (2) parsing it into a dict on every receive; on request/reply each
header added ~4 us to the round trip. Our headers are identical for every message of a
publisher, so:

* publish sends a header block encoded once per publisher (:meth:`RfosClient.publish_encoded`,
  :meth:`RfosClient.request_prebuilt` for service calls);
* receive caches parsed header dicts by their raw bytes (bounded); a hit is a dict lookup;
* subscriptions and service servers with plain-function callbacks are dispatched inline
  from the reading task (:meth:`RfosClient.subscribe_inline`): no per-message ``Msg``,
  queue hop or task switch, and no queue or task per subscription (1000 nodes with 8
  services and 2 subscriptions each: 5 tasks, ~3 KB per entity).

With these, typed pub/sub runs at ~0.95-1.0x raw nats-py's rate without headers and a
service call's p50 at ~1.05-1.1x raw request/reply.

All of this hooks private nats-py internals (nats-py is pinned ``>=2.16,<3``);
:data:`FAST_PATH` says whether they exist and :class:`RfosClient` refuses to start, naming
the cause, if a future nats-py renames them. Cached header dicts are shared between
messages: treat them as read-only.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any

from nats import errors as nats_errors
from nats.aio import client as _nats_client

__all__ = ["FAST_PATH", "RfosClient", "hpub_prefix"]

log = logging.getLogger(__name__)

_CACHE_LIMIT = 4096
_CACHEABLE_MAX = 1024
_CRLF = b"\r\n"
#: Called with a message's reply subject, payload and parsed headers, in the reading task.
InlineHandler = Callable[[bytes, bytes, "dict[str, str] | None"], None]
_CONNECTED = _nats_client.Client.CONNECTED

FAST_PATH = all(
    hasattr(_nats_client.Client, attr) for attr in ("_send_command", "_flush_pending", "_process_headers")
)


class RfosClient(_nats_client.Client):
    """A nats-py ``Client`` with a pre-encoded publish path and a header-parse cache."""

    def __init__(self) -> None:
        if not FAST_PATH:
            raise ImportError(
                "this nats-py lacks the internals robotfleet_nodes' NATS transport hooks; "
                "install the pinned version: pip install -c constraints.txt nats-py"
            )
        super().__init__()
        self._rfos_header_cache: dict[bytes, dict[str, str] | None] = {}
        self._rfos_inline: dict[int, InlineHandler] = {}
        self._rfos_tokens = itertools.cycle(range(0x10000))
        self._rfos_no_queue: asyncio.Queue[Any] = asyncio.Queue()

    async def subscribe_inline(self, subject: str, handler: InlineHandler, queue: str = "") -> Any:
        """Subscribe and call ``handler(reply, data, headers)`` right in the reading task.

        For synchronous handlers only (a sync callback blocks the loop wherever it runs):
        this skips nats-py's per-message ``Msg``, queue and task switch, and the
        subscription keeps no queue or task of its own (~3 KB less each). nats-py still
        owns the subscription, so it is restored on reconnect; ``unsubscribe()`` works.
        """
        sub = await self.subscribe(subject, queue=queue)
        self._rfos_inline[sub._id] = handler
        # Messages never reach the subscription's own queue: drop it and its iterator.
        sub._pending_queue = self._rfos_no_queue
        sub._message_iterator = None
        return sub

    async def roundtrip(self, timeout: float) -> None:
        """Return once the server has processed everything sent so far.

        nats-py's ``flush()`` writes its PING straight to the socket, ahead of commands
        still queued for the flusher task (a SUB just sent, say), so its PONG proves
        nothing about them: write the queue out first.
        """
        await self._flush_pending(force_flush=True)
        await self.flush(timeout=timeout)  # type: ignore[arg-type]

    def _remove_sub(self, sid: int, max_msgs: int = 0) -> None:
        self._rfos_inline.pop(sid, None)
        super()._remove_sub(sid, max_msgs)

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        handler = self._rfos_inline.get(sid)
        if handler is None:
            await super()._process_msg(sid, subject, reply, data, headers)
            return
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        handler(reply, data, await self._process_headers(headers) if headers else None)

    async def _process_headers(self, headers: Any) -> dict[str, str] | None:
        if not headers:
            return None
        # Status lines (no responders, JetStream heartbeats) start with a space: never cached.
        if len(headers) > _CACHEABLE_MAX or headers[8:9] == b" ":
            return await super()._process_headers(headers)
        key = bytes(headers)
        cache = self._rfos_header_cache
        parsed = cache.get(key)
        if parsed is None:
            parsed = await super()._process_headers(headers)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = parsed
        return parsed

    async def publish_prebuilt(self, subject: str, header_block: bytes, payload: bytes) -> None:
        """Publish ``payload`` with an already encoded header block (see :mod:`._headers`)."""
        await self.publish_encoded(hpub_prefix(subject, header_block), header_block, payload)

    def _hpub(self, prefix: bytes, header_block: bytes, payload: bytes) -> bytes:
        """The HPUB command (counted in ``stats``); raises as nats-py's ``publish`` would."""
        size = len(payload)
        if self._status != _CONNECTED:
            if self.is_closed:
                raise nats_errors.ConnectionClosedError
            if self._max_pending_size <= 0 or size + self._pending_data_size > self._max_pending_size:
                raise nats_errors.OutboundBufferLimitError
        if size > self._max_payload:
            raise nats_errors.MaxPayloadError
        self.stats["out_msgs"] += 1
        self.stats["out_bytes"] += size
        return b"".join((prefix, b"%d\r\n" % (len(header_block) + size), header_block, payload, _CRLF))

    async def publish_encoded(self, prefix: bytes, header_block: bytes, payload: bytes) -> None:
        """Publish with a prefix from :func:`hpub_prefix` and its header block (the hot path)."""
        await self._send_command(self._hpub(prefix, header_block, payload))
        if self._flush_queue is not None and self._flush_queue.empty():
            await self._flush_pending()

    def publish_nowait(self, subject: str, header_block: bytes, payload: bytes) -> None:
        """:meth:`publish_prebuilt` for synchronous code: queue the command, kick the flusher."""
        cmd = self._hpub(hpub_prefix(subject, header_block), header_block, payload)
        self._pending.append(cmd)
        self._pending_data_size += len(cmd)
        flush_queue = self._flush_queue
        if self._status == _CONNECTED and flush_queue is not None and flush_queue.empty():
            flush_queue.put_nowait(asyncio.get_running_loop().create_future())

    async def request_prebuilt(
        self, subject: str, header_block: bytes, payload: bytes, timeout: float
    ) -> Any:
        """``request()`` with an already encoded header block, on nats-py's shared reply inbox.

        Raises nats-py's ``NoRespondersError`` and ``TimeoutError`` like ``request()``.
        """
        if not self._resp_sub_prefix:
            await self._init_request_sub()
        prefix = self._resp_sub_prefix
        if prefix is None:
            raise nats_errors.ConnectionClosedError
        token = self._nuid.next()
        token.extend(b"%04x" % next(self._rfos_tokens))
        key = token.decode()
        inbox = (prefix + token).decode()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._resp_map[key] = future
        try:
            await self.publish_encoded(
                f"HPUB {subject} {inbox} {len(header_block)} ".encode(), header_block, payload
            )
            async with asyncio.timeout(timeout):
                msg = await future
        except TimeoutError:
            raise nats_errors.TimeoutError from None
        finally:
            self._resp_map.pop(key, None)
        headers = msg.headers
        if headers and not msg.data and headers.get("Status") == "503":
            raise nats_errors.NoRespondersError
        return msg


def hpub_prefix(subject: str, header_block: bytes) -> bytes:
    """``HPUB <subject>  <header length> `` (the total size follows per message)."""
    return f"HPUB {subject}  {len(header_block)} ".encode()
