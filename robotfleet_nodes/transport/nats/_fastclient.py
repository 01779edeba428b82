"""The fast NATS client: :class:`RfosClient`'s operations below nats-py's public API.

Measured with nats-py 2.16 (a ``std_msgs/String`` in JSON, publisher and subscriber in
one process, 2-core VM): three headers through the public API cut end-to-end throughput
from ~160k/s to ~75k/s, nearly all of it (1) rebuilding and validating the header block
on every publish and (2) parsing it into a dict on every receive; on request/reply each
header added ~4 us to the round trip. Our headers are identical for every message of a
publisher, so:

* publish sends a header block encoded once per publisher, framed by hand;
* receive caches parsed header dicts by their raw bytes (bounded); a hit is a dict lookup;
* subscriptions and service servers with plain-function callbacks are dispatched inline
  from the reading task (:meth:`FastRfosClient.subscribe_inline`): no per-message ``Msg``,
  queue hop or task switch, and no queue or task per subscription (1000 nodes with 8
  services and 2 subscriptions each: 5 tasks, ~3 KB per entity).

Beyond speed, it keeps a connection whose credentials were revoked reconnecting instead of
closed for good (:meth:`FastRfosClient._process_err`).

With these, typed pub/sub runs at ~0.95-1.0x raw nats-py's rate without headers and a
service call's p50 at ~1.05-1.1x raw request/reply (``benchmarks/pubsub.py``,
``services.py``; the bare clients against nats-py and nats-core: ``nats_clients.py``).

Every private nats-py name used here is listed and checked in :mod:`._internals`
(nats-py is pinned to the tested minor in ``setup.py``); :func:`new_client` returns this
class only when all of them check out. nats-py's own ``publish`` checks are kept: a
bad subject (empty, whitespace) raises ``BadSubjectError`` when its prefix is built; a
closed connection ``ConnectionClosedError``; publishers draining
``ConnectionDrainingError``; a full reconnect buffer ``OutboundBufferLimitError``; a
payload over the server's limit ``MaxPayloadError``; and a pending buffer over the flush
threshold is written out at once. Cached header dicts are shared between messages: treat
them as read-only.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from typing import Any

from nats import errors as nats_errors
from nats.aio import client as _nats_client

from robotfleet_nodes.transport.nats._chunks import ReplyCollector
from robotfleet_nodes.transport.nats._client import (
    CredentialsRefused,
    InlineHandler,
    RfosClient,
    check_subject,
    hpub_prefix,
    is_refusal,
)
from robotfleet_nodes.transport.nats._internals import FAST_PATH, PROBLEMS

__all__ = ["FastRfosClient", "new_client"]

log = logging.getLogger(__name__)

_CACHE_LIMIT = 4096
#: While connected, a publish that leaves more than this pending waits for it to be written
#: out: nats-py's own default (it flushes at its reconnect buffer size, 2 MiB unless set; ours
#: is 8 MiB so one 6 MB image fits). At 8 MiB a fast same-process publisher of 1 MB messages
#: pushed 8 MiB bursts between yields and starved a subscriber connection on the same loop
#: until nats-server cut it (benchmarks/sensors.py PointCloud2 intra CDR: 192-306 msg/s with
#: 300-370 lost of ~500, and 885-1000 msg/s with none at 2 MiB).
FLUSH_THRESHOLD = 2 * 1024 * 1024
_CACHEABLE_MAX = 1024
_CRLF = b"\r\n"
# Read with defaults: this module must import even when _internals finds them missing.
_CONNECTED = getattr(_nats_client.Client, "CONNECTED", -1)
_CLOSED = getattr(_nats_client.Client, "CLOSED", -2)
_DRAINING_SUBS = getattr(_nats_client.Client, "DRAINING_SUBS", -3)
_DRAINING_PUBS = getattr(_nats_client.Client, "DRAINING_PUBS", -4)


def new_client(*, fast: bool = True) -> RfosClient:
    """The client for a new connection: fast when nats-py's internals check out.

    Otherwise the public-API :class:`RfosClient`, with one warning per process naming
    what did not match. ``fast=False`` asks for the public-API client (no warning).
    """
    if not fast:
        return RfosClient()
    if FAST_PATH:
        return FastRfosClient()
    _warn_public_path()
    return RfosClient()


@functools.cache
def _warn_public_path() -> None:
    log.warning(
        "this nats-py differs from the tested one (%s); using its public API, which is "
        "slower. Install the pinned version: pip install -c constraints.txt nats-py",
        "; ".join(PROBLEMS),
    )


class FastRfosClient(RfosClient):
    """:class:`RfosClient` with a pre-encoded publish path, inline dispatch and a header cache."""

    def __init__(self) -> None:
        if not FAST_PATH:
            raise ImportError(
                "this nats-py lacks internals robotfleet_nodes' fast NATS client hooks ("
                + "; ".join(PROBLEMS)
                + "); use new_client(), or install the pinned version: pip install -c constraints.txt nats-py"
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

    def read_progress(self) -> object:
        """Messages received and the parser's unparsed bytes: moves with every read.

        A delivery drainer compares it across loop iterations to tell whether the reader has
        caught up (no new byte arrived) before running slow callbacks (:mod:`._delivery`).
        """
        return (self.stats["in_msgs"], len(self._ps.buf))

    async def roundtrip(self, timeout: float) -> None:
        """Return once the server has processed everything sent so far.

        nats-py's ``flush()`` writes its PING straight to the socket, ahead of commands
        still queued for the flusher task (a SUB just sent, say), so its PONG proves
        nothing about them: write the queue out first.
        """
        await self._flush_pending(force_flush=True)
        await self.flush(timeout=timeout)  # type: ignore[arg-type]

    async def _process_err(self, err_msg: str) -> None:
        """A server ``-ERR``: revoked or expired credentials are a lost connection, not the end.

        nats-py closes the client for good on ``Authorization Violation`` or
        ``Authentication Revoked`` received while connected; a fleet process must instead
        keep trying (the server refuses each attempt until the identity's ``.creds`` file is
        re-issued, which nats-py reads on every connect). The error callback hears a
        :class:`CredentialsRefused` first. Permission violations keep nats-py's handling:
        reported, nothing closed.
        """
        if self._status == _CONNECTED and is_refusal(err_msg):
            err = CredentialsRefused(err_msg.strip().strip("'"))
            self._err = err
            await self._error_cb(err)
            await self._process_op_err(err)  # nats-py's path for a lost connection: reconnect
            return
        await super()._process_err(err_msg)

    async def _send_command(self, cmd: bytes, priority: bool = False) -> None:
        """nats-py's, with :data:`FLUSH_THRESHOLD` as the flush point while connected."""
        if priority:
            self._pending.insert(0, cmd)
        else:
            self._pending.append(cmd)
        size = self._pending_data_size = self._pending_data_size + len(cmd)
        # one comparison in the common case: no flush point is below FLUSH_THRESHOLD unless
        # the reconnect buffer is
        if (size > FLUSH_THRESHOLD or 0 < self._max_pending_size < size) and size > self._rfos_flush_limit():
            await self._flush_pending(force_flush=True)

    def _rfos_flush_limit(self) -> float:
        """Pending bytes over which a command is written out before the caller goes on."""
        limit = self._max_pending_size
        if self._status == _CONNECTED:
            return FLUSH_THRESHOLD if limit <= 0 else min(limit, FLUSH_THRESHOLD)
        return limit if limit > 0 else float("inf")

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
        """The HPUB command (counted in ``stats``); raises as nats-py's ``publish`` would.

        The subject was checked when ``prefix`` was built (:func:`hpub_prefix`).
        """
        size = len(payload)
        status = self._status
        if status != _CONNECTED:
            if status == _CLOSED:
                raise nats_errors.ConnectionClosedError
            if status == _DRAINING_PUBS:
                raise nats_errors.ConnectionDrainingError
            if status != _DRAINING_SUBS and (  # not connected: the reconnect buffer must hold it
                self._max_pending_size <= 0 or size + self._pending_data_size > self._max_pending_size
            ):
                raise nats_errors.OutboundBufferLimitError
        if size > self._max_payload:
            raise nats_errors.MaxPayloadError
        self.stats["out_msgs"] += 1
        self.stats["out_bytes"] += size
        return b"".join((prefix, b"%d\r\n" % (len(header_block) + size), header_block, payload, _CRLF))

    async def publish_encoded(self, prefix: bytes, header_block: bytes, payload: bytes) -> None:
        """Publish with a prefix from :func:`hpub_prefix` and its header block (the hot path).

        As nats-py's ``publish``: queued for the flusher task; a pending buffer over the
        flush threshold is flushed before this returns.
        """
        await self._send_command(self._hpub(prefix, header_block, payload))
        if self._flush_queue is not None and self._flush_queue.empty():
            await self._flush_pending()

    def publish_nowait(self, subject: str, header_block: bytes, payload: bytes) -> None:
        """:meth:`publish_prebuilt` for synchronous code: queue the command, kick the flusher.

        A pending buffer over the flush threshold is written to the socket at once (nats-py
        forces a flush there; synchronous code cannot wait for the flusher task).
        """
        cmd = self._hpub(hpub_prefix(subject, header_block), header_block, payload)
        self._pending.append(cmd)
        self._pending_data_size += len(cmd)
        if self._status not in (_CONNECTED, _DRAINING_SUBS):
            return  # kept in the reconnect buffer
        size = self._pending_data_size
        if (
            (size > FLUSH_THRESHOLD or 0 < self._max_pending_size < size)
            and size > self._rfos_flush_limit()
            and self._transport is not None
        ):
            self._transport.writelines(self._pending[:])
            self._pending = []
            self._pending_data_size = 0
            return
        flush_queue = self._flush_queue
        if flush_queue is not None and flush_queue.empty():
            flush_queue.put_nowait(asyncio.get_running_loop().create_future())

    async def request_prebuilt(
        self, subject: str, header_block: bytes, payload: bytes, timeout: float
    ) -> Any:
        """``request()`` with an already encoded header block, on nats-py's shared reply inbox.

        Raises nats-py's ``NoRespondersError`` and ``TimeoutError`` like ``request()``, and
        its publish errors (bad subject, closed, draining) before anything is set up.
        """
        check_subject(subject)
        if self._status == _DRAINING_PUBS:
            raise nats_errors.ConnectionDrainingError
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
        collector = ReplyCollector(future, self.rfos_max_message_size)  # chunked replies too
        self._resp_map[key] = collector  # type: ignore[assignment]
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
