"""The entity methods of :class:`~._transport.NatsTransport`: publishers, subscriptions, services, clients.

Entities created in the same loop turn share one round trip (``_settle``), so the server
knows their subscriptions before the calls return; ``cover_latched`` prepares the
latched-topics stream for the fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from nats import errors as nats_errors
from nats.js import errors as js_errors

from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.qos import Durability
from robotfleet_nodes.transport._base import (
    ClientHandle,
    EndpointInfo,
    MessageCallback,
    PublisherHandle,
    RequestHandler,
    ServiceHandle,
    SubscriptionHandle,
)
from robotfleet_nodes.transport._encoding import EncodingOption
from robotfleet_nodes.transport.nats._client import RfosClient
from robotfleet_nodes.transport.nats._latched import LatchedStore, fleet_latched_patterns
from robotfleet_nodes.transport.nats._publisher import NatsPublisher
from robotfleet_nodes.transport.nats._services import NatsClient, NatsService
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.transport.nats._subscription import NatsSubscription

if TYPE_CHECKING:
    from robotfleet_nodes.transport.nats._transport import NatsTransport

__all__ = ["NatsEntityMethods"]


class NatsEntityMethods:
    """``NatsTransport``'s entity methods (a mixin; the connection itself is the transport's)."""

    mapper: SubjectMapper
    latched: LatchedStore | None
    _nc: RfosClient | None
    _entities: set[Any]
    _connect_timeout: float
    _settling: asyncio.Future[None] | None
    _tasks: set[asyncio.Task[None]]

    if TYPE_CHECKING:  # provided by NatsTransport

        @property
        def client(self) -> RfosClient: ...

        @property
        def connected(self) -> bool: ...

        async def connect(self) -> None: ...

    def _as_transport(self) -> NatsTransport:
        """``self``, as the entities know it (this mixin is only ever part of ``NatsTransport``)."""
        return cast("NatsTransport", self)

    def _forget(self, entity: Any) -> None:
        self._entities.discard(entity)

    async def _connected_client(self) -> RfosClient:
        if self._nc is None:
            await self.connect()
        return self.client

    async def create_publisher(
        self,
        endpoint: EndpointInfo,
        msg_type: type[Any],
        *,
        encoding: EncodingOption | None = None,
    ) -> PublisherHandle:
        """Publish ``msg_type`` on ``endpoint.name`` (transient local: also stored in JetStream).

        ``encoding``: this publisher's, instead of the transport's (see :class:`NatsTransport`).
        """
        await self._connected_client()
        publisher = NatsPublisher(self._as_transport(), endpoint, msg_type, encoding=encoding)
        qos = endpoint.qos
        if (
            qos.durability is Durability.TRANSIENT_LOCAL
            and self.latched is not None
            and await self.latched.available()
        ):
            try:
                publisher.latched = await self.latched.ensure(publisher.subject, qos.depth)
            except (nats_errors.Error, RuntimeError) as exc:
                raise TransportError(
                    f"{endpoint.name}: cannot keep transient-local messages in JetStream stream "
                    f"{self.latched.name}: {exc}"
                ) from exc
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
        """Deliver decoded messages on ``endpoint.name`` to ``callback`` (see :class:`Transport`)."""
        await self._connected_client()
        subscription = NatsSubscription(
            self._as_transport(), endpoint, msg_type, callback, ignore_local=ignore_local
        )
        await subscription.start()
        await self._settle()
        self._entities.add(subscription)
        return subscription

    async def create_service(
        self, endpoint: EndpointInfo, srv_type: type[Any], handler: RequestHandler
    ) -> ServiceHandle:
        """Answer requests to ``endpoint.name`` in its queue group."""
        await self._connected_client()
        service = NatsService(self._as_transport(), endpoint, srv_type, handler)
        await service.start()
        await self._settle()
        self._entities.add(service)
        return service

    async def create_client(self, endpoint: EndpointInfo, srv_type: type[Any]) -> ClientHandle:
        """A client for the service ``endpoint.name``."""
        await self._connected_client()
        client = NatsClient(self._as_transport(), endpoint, srv_type)
        self._entities.add(client)
        return client

    async def _settle(self) -> None:
        """One round trip, so the server knows a new subscription before we return.

        Callers in the same loop turn share one round trip (a node creating its six
        parameter services together waits for one PONG, not six): the round trip starts on
        the next turn, after every subscription queued until then.
        """
        if not self.connected:
            return
        waiter = self._settling
        if waiter is None:
            loop = asyncio.get_running_loop()
            waiter = self._settling = loop.create_future()
            loop.call_soon(self._start_settle, waiter)
        await asyncio.shield(waiter)

    def _start_settle(self, waiter: asyncio.Future[None]) -> None:
        if self._settling is waiter:
            self._settling = None  # later callers start the next round trip
        task = asyncio.ensure_future(self._roundtrip(waiter))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _roundtrip(self, waiter: asyncio.Future[None]) -> None:
        try:
            if self.connected:
                with contextlib.suppress(nats_errors.Error, TimeoutError):
                    await self.client.roundtrip(self._connect_timeout)
        finally:
            if not waiter.done():
                waiter.set_result(None)

    async def cover_latched(self, patterns: Iterable[str] | None = None, *, depth: int = 1) -> None:
        """Create or extend the latched-topics stream so it stores ``patterns`` (NATS wildcards).

        Default: :func:`fleet_latched_patterns` (every robot action's status). The fleet calls
        this at start: with NATS accounts only it may manage streams, and publishers or
        subscribers of covered subjects never need to. Raises ``TransportError`` when
        JetStream is off or the request is refused.
        """
        nc = await self._connected_client()
        wanted = list(patterns) if patterns is not None else fleet_latched_patterns(self.mapper.prefix)
        store = (
            self.latched
            if self.latched is not None
            else LatchedStore(nc, self.mapper.root, self.mapper.domain)
        )
        try:
            await store.cover(wanted, depth)
        except (nats_errors.Error, js_errors.Error, RuntimeError) as exc:
            raise TransportError(
                f"cannot have JetStream stream {store.name} store {wanted}: {exc or type(exc).__name__} "
                "(this identity must be allowed to manage streams: the fleet or operator)"
            ) from exc
