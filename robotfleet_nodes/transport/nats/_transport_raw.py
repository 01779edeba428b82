"""The raw NATS methods of :class:`~._transport.NatsTransport`, for tools, bags and the fleet's JetStream.

Bytes, headers and nats-py ``Msg`` objects, no message types; listed in
``docs/architecture.md`` ("NATS client"). Code outside the transport uses these, never
``transport.client``, so it works whichever client (fast or public-API) the transport runs on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from robotfleet_nodes.security.creds import redact_url
from robotfleet_nodes.transport.nats._chunks import ChunkCounter
from robotfleet_nodes.transport.nats._client import InlineHandler, RfosClient
from robotfleet_nodes.transport.nats._raw import RawPublisher, ServerInfo
from robotfleet_nodes.transport.nats._replicas import stream_replicas

__all__ = ["NatsRawMethods"]


class NatsRawMethods:
    """``NatsTransport``'s raw NATS methods (a mixin; the connection itself is the transport's)."""

    url: str | None
    chunk_ids: ChunkCounter

    if TYPE_CHECKING:  # provided by NatsTransport

        @property
        def client(self) -> RfosClient: ...

        async def _connected_client(self) -> RfosClient: ...

        async def _settle(self) -> None: ...

    def jetstream(self, domain: str | None = None) -> JetStreamContext:
        """nats-py's JetStream context on this connection (streams, key-value buckets, consumers);
        ``domain``: another JetStream domain's (a hub's, seen from a leaf node)."""
        if domain is None:
            return self.client.jetstream()
        return self.client.jetstream(domain=domain)

    def stream_replicas(self) -> int:
        """``num_replicas`` for a JetStream stream or bucket created on this connection:
        ``messaging.jetstream_replicas``, else 3 on a cluster of 3 or more servers, else 1
        (see :mod:`~._replicas`)."""
        return stream_replicas(self.client)

    def server_info(self) -> ServerInfo:
        """The server this transport is connected to (``TransportError`` before ``connect()``)."""
        nc = self.client
        url = nc.connected_url
        version = nc.connected_server_version
        return ServerInfo(
            url=url.netloc.rsplit("@", 1)[-1] if url is not None else redact_url(self.url or ""),
            version=f"{version.major}.{version.minor}.{version.patch}",
            max_payload=nc.max_payload,
        )

    async def flush(self, timeout: float = 2.0) -> None:
        """Return once the server has processed everything this transport sent so far.

        One round trip; raises nats-py's ``TimeoutError`` / ``FlushTimeoutError`` after
        ``timeout`` seconds.
        """
        nc = await self._connected_client()
        await nc.roundtrip(timeout)

    async def request(self, subject: str, payload: bytes = b"", *, timeout: float) -> Msg:
        """A plain NATS request on ``subject`` (any NATS service; no RobotFleetOS headers).

        Raises nats-py's ``NoRespondersError`` and ``TimeoutError``.
        """
        nc = await self._connected_client()
        return await nc.request(subject, payload, timeout=timeout)

    async def subscribe_raw(
        self,
        subject: str,
        callback: Callable[[Msg], Awaitable[None]],
        *,
        queue: str = "",
        pending_msgs_limit: int | None = None,
        pending_bytes_limit: int | None = None,
    ) -> Subscription:
        """Call ``callback`` with each nats-py ``Msg`` on ``subject`` (a NATS pattern may use ``*``/``>``).

        The subscription is known to the server when this returns; ``unsubscribe()`` or
        ``drain()`` it when done. The limits bound what nats-py queues for a slow callback.
        """
        nc = await self._connected_client()
        limits: dict[str, int] = {}
        if pending_msgs_limit is not None:
            limits["pending_msgs_limit"] = pending_msgs_limit
        if pending_bytes_limit is not None:
            limits["pending_bytes_limit"] = pending_bytes_limit
        sub = await nc.subscribe(subject, queue=queue, cb=callback, **limits)  # type: ignore[arg-type]
        await self._settle()
        return sub

    async def subscribe_inline(
        self, subject: str, handler: InlineHandler, *, queue: str = ""
    ) -> Subscription:
        """Call the plain function ``handler(reply, data, headers)`` for each message on ``subject``.

        The fastest way in: no message object and, on the fast client, no queue or task
        hop (``headers`` dicts are shared: read-only). The subscription is known to the
        server when this returns; ``unsubscribe()`` it when done.
        """
        nc = await self._connected_client()
        sub: Subscription = await nc.subscribe_inline(subject, handler, queue=queue)
        await self._settle()
        return sub

    async def raw_publisher(self, subject: str, headers: Mapping[str, str] | None = None) -> RawPublisher:
        """A :class:`RawPublisher` of bytes on ``subject`` with ``headers`` on every message
        (chunked when over the server's ``max_payload``)."""
        nc = await self._connected_client()
        return RawPublisher(nc, subject, headers or {}, self.chunk_ids)
