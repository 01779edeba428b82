"""The transport's NATS connection: what it needs from nats-py, on nats-py's public API.

:class:`RfosClient` is a nats-py ``Client`` with the few operations the transport's
publishers, subscriptions and services use: publish with a header block encoded once
(:meth:`~RfosClient.publish_prebuilt`, :meth:`~RfosClient.publish_encoded` with an
``HPUB`` prefix from :func:`hpub_prefix`), a synchronous publish for replies sent from a
message handler (:meth:`~RfosClient.publish_nowait`), request/reply
(:meth:`~RfosClient.request_prebuilt`), plain-function subscriptions
(:meth:`~RfosClient.subscribe_inline`) and an honest round trip
(:meth:`~RfosClient.roundtrip`).

This class implements them with nats-py's public API only. It is what the transport uses
when the installed nats-py lacks an internal the faster
:class:`~._fastclient.FastRfosClient` hooks (see :mod:`._internals`); normally the
transport uses the fast one. Both raise nats-py's own errors, as ``publish`` and
``request`` would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

from nats import errors as nats_errors
from nats.aio import client as _nats_client
from nats.aio.msg import Msg

from robotfleet_nodes.transport._limits import DEFAULT_MAX_MESSAGE_SIZE
from robotfleet_nodes.transport.nats._chunks import ReplyCollector
from robotfleet_nodes.transport.nats._headers import decode_block

__all__ = ["CredentialsRefused", "InlineHandler", "RfosClient", "check_subject", "hpub_prefix", "is_refusal"]

log = logging.getLogger(__name__)

#: Called with a message's reply subject, payload and parsed headers.
InlineHandler = Callable[[bytes, bytes, "dict[str, str] | None"], None]

#: What nats-py refuses in a subject on publish (CR/LF would inject protocol commands).
_BAD_SUBJECT = re.compile(r"[ \t\r\n]")
_CACHE_LIMIT = 4096


#: What the server says (lower case, as nats-py hands ``-ERR`` lines over) when it drops or
#: refuses a connection because of its identity: revoked, expired or unknown credentials.
_REFUSALS = ("authorization violation", "authentication revoked", "authentication expired")


class CredentialsRefused(nats_errors.AuthorizationError):
    """The server dropped the connection because of its credentials (revoked, expired, unknown).

    The fast client treats it as a lost connection and keeps reconnecting (a re-issued
    ``.creds`` file is read on the next attempt); the message is the server's.
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def __str__(self) -> str:
        return f"nats: {self.message}"


def is_refusal(error: BaseException | str) -> bool:
    """Whether ``error`` (an error nats-py reported, or a server ``-ERR`` text) means the
    server refused our credentials."""
    if isinstance(error, nats_errors.AuthorizationError):
        return True
    text = str(error).lower()
    return any(marker in text for marker in _REFUSALS)


def check_subject(subject: str) -> None:
    """Raise nats-py's ``BadSubjectError`` for a subject its ``publish`` refuses (empty, whitespace)."""
    if not subject or _BAD_SUBJECT.search(subject):
        raise nats_errors.BadSubjectError


def hpub_prefix(subject: str, header_block: bytes) -> bytes:
    """``HPUB <subject>  <header length> `` (the total size follows per message).

    Raises nats-py's ``BadSubjectError`` for an empty subject or one with whitespace.
    """
    check_subject(subject)
    return f"HPUB {subject}  {len(header_block)} ".encode()


class RfosClient(_nats_client.Client):
    """A nats-py ``Client`` with the transport's publish, request and subscribe operations.

    This base implements them on nats-py's public API (see the module docstring).
    """

    def __init__(self) -> None:
        super().__init__()
        #: Largest reply :meth:`request_prebuilt` reassembles from chunks (the transport sets it).
        self.rfos_max_message_size = DEFAULT_MAX_MESSAGE_SIZE
        #: Replicas of the streams and buckets created on this connection (``None``: decided
        #: from the server, kept in ``rfos_auto_replicas``; see :mod:`._replicas`).
        self.rfos_jetstream_replicas: int | None = None
        self.rfos_auto_replicas: int | None = None
        self._rfos_blocks: dict[bytes, dict[str, str]] = {}
        self._rfos_prefixes: dict[bytes, tuple[str, str]] = {}
        self._rfos_sends: set[asyncio.Future[None]] = set()

    def _headers_of(self, header_block: bytes) -> dict[str, str]:
        headers = self._rfos_blocks.get(header_block)
        if headers is None:
            if len(self._rfos_blocks) >= _CACHE_LIMIT:
                self._rfos_blocks.clear()
            headers = self._rfos_blocks[header_block] = decode_block(header_block)
        return headers

    async def subscribe_inline(self, subject: str, handler: InlineHandler, queue: str = "") -> Any:
        """Subscribe and call ``handler(reply, data, headers)`` for each message.

        For synchronous handlers only. ``unsubscribe()`` on the result works; the
        subscription is restored on reconnect.
        """

        async def deliver(msg: Msg) -> None:
            handler(msg.reply.encode(), msg.data, msg.headers)

        return await self.subscribe(subject, queue=queue, cb=deliver)

    def read_progress(self) -> object:
        """A value that changes whenever the connection's reader makes progress.

        Here (public API only): messages and payload bytes received, so bytes of a large
        message still being read do not count; the fast client also sees them.
        """
        stats = self.stats
        return (stats["in_msgs"], stats["in_bytes"])

    async def roundtrip(self, timeout: float) -> None:
        """Return once the server has processed everything sent so far.

        Sends a message to a private inbox and waits for it: the server handles one
        connection's commands in order, so its arrival proves the ones before it.
        Raises nats-py's ``TimeoutError`` after ``timeout`` seconds.
        """
        inbox = self.new_inbox()
        sub = await self.subscribe(inbox, max_msgs=1)
        try:
            await self.publish(inbox)
            await sub.next_msg(timeout=timeout)
        finally:
            with contextlib.suppress(nats_errors.Error):
                await sub.unsubscribe()

    async def publish_prebuilt(self, subject: str, header_block: bytes, payload: bytes) -> None:
        """Publish ``payload`` with an already encoded header block (see :mod:`._headers`)."""
        await self.publish(subject, payload, headers=self._headers_of(header_block))

    async def publish_encoded(self, prefix: bytes, header_block: bytes, payload: bytes) -> None:
        """Publish with a prefix from :func:`hpub_prefix` and its header block."""
        target = self._rfos_prefixes.get(prefix)
        if target is None:
            _, subject, reply, _ = prefix.decode().split(" ", 3)
            if len(self._rfos_prefixes) >= _CACHE_LIMIT:
                self._rfos_prefixes.clear()
            target = self._rfos_prefixes[prefix] = (subject, reply)
        await self.publish(target[0], payload, reply=target[1], headers=self._headers_of(header_block))

    def publish_nowait(self, subject: str, header_block: bytes, payload: bytes) -> None:
        """:meth:`publish_prebuilt` for synchronous code (a reply sent from a message handler).

        Raises what nats-py's ``publish`` raises before sending (bad subject, closed,
        draining, too large); a failure while sending is logged.
        """
        check_subject(subject)
        if self.is_closed:
            raise nats_errors.ConnectionClosedError
        if self.is_draining_pubs:
            raise nats_errors.ConnectionDrainingError
        if len(payload) > self.max_payload:
            raise nats_errors.MaxPayloadError
        send = asyncio.ensure_future(self.publish_prebuilt(subject, header_block, payload))
        self._rfos_sends.add(send)
        send.add_done_callback(self._sent)

    def _sent(self, send: asyncio.Future[None]) -> None:
        self._rfos_sends.discard(send)
        if not send.cancelled() and send.exception() is not None:
            log.warning("publish failed: %r", send.exception())

    async def request_prebuilt(
        self, subject: str, header_block: bytes, payload: bytes, timeout: float
    ) -> Any:
        """``request()`` with an already encoded header block; returns nats-py's ``Msg``.

        A reply sent in chunks (over ``max_payload``) is returned whole. Raises nats-py's
        ``NoRespondersError`` and ``TimeoutError`` like ``request()``.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        collector = ReplyCollector(future, self.rfos_max_message_size)

        async def collect(msg: Msg) -> None:
            if not collector.done():
                collector.set_result(msg)

        inbox = self.new_inbox()
        sub = await self.subscribe(inbox, cb=collect)
        try:
            await self.publish(subject, payload, reply=inbox, headers=self._headers_of(header_block))
            async with asyncio.timeout(timeout):
                msg = await future
        except TimeoutError:
            raise nats_errors.TimeoutError from None
        finally:
            with contextlib.suppress(nats_errors.Error):
                await sub.unsubscribe()
        headers = msg.headers
        if headers and not msg.data and headers.get("Status") == "503":
            raise nats_errors.NoRespondersError
        return msg
