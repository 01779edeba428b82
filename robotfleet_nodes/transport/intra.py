"""Intra-process transport: nodes of one process exchange message objects, not bytes.

A publish hands the *same object* to every local subscription (no serialization, no
copy), as rclcpp's intra-process communication does: **treat received and published
messages as immutable**; mutating one changes what every other local subscriber sees.

Everything also goes through ``inner`` (normally a :class:`NatsTransport`) for remote
peers. Local subscriptions subscribe on ``inner`` with ``ignore_local=True``: ``inner``
tags each message with its participant gid (``rfos-gid``) and drops its own on receive,
so a local subscriber gets each local message exactly once (locally) and remote messages
through the broker (liveliness heartbeats of local publishers still count). Services: a
local server answers local clients directly; otherwise the call goes through ``inner``.
Transient local: the last ``depth`` messages of local publishers are kept here for late
local subscribers; remote ones come from ``inner``. With ``inner=None`` this is a pure
in-process bus.

Each local subscription has its own queue. Coroutine callbacks get a task each (like
nats-py's subscriptions), so a slow one delays only itself; plain-function callbacks,
which block the loop wherever they run, share one dispatcher task; a remote message for a
plain-function callback with nothing local queued is handed over right where ``inner``
decoded it (queued, a socket read's worth of decoded messages would stay alive, and nested
types' objects keep the garbage collector busy). The queue keeps the
last ``depth`` messages for best effort subscriptions and up to
:data:`RELIABLE_QUEUE_LIMIT` for reliable ones; when full the oldest message is dropped,
counted in the handle's ``dropped`` and logged (rate-limited).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from robotfleet_nodes.errors import ServiceTimeout, ServiceUnavailable
from robotfleet_nodes.idl.codec import type_hash_of
from robotfleet_nodes.qos import Durability, Reliability, incompatibilities
from robotfleet_nodes.transport._base import (
    ClientHandle,
    EndpointInfo,
    EntityStats,
    LivelinessCallback,
    MessageCallback,
    NodeInfo,
    ParticipantInfo,
    PublisherHandle,
    RequestHandler,
    ServiceHandle,
    SubscriptionHandle,
    Transport,
)
from robotfleet_nodes.transport._connection import (
    ConnectionEvents,
    ConnectionListener,
    ConnectionListenerHandle,
    ConnectionState,
)
from robotfleet_nodes.transport._dispatch import CallbackFailures, run_queued_callbacks
from robotfleet_nodes.transport._errors import RemoteServiceError
from robotfleet_nodes.transport._ratelimit import OnceLogger, RateLimitedLog
from robotfleet_nodes.transport._watchdog import Watchdog

__all__ = ["RELIABLE_QUEUE_LIMIT", "IntraProcessTransport"]

log = logging.getLogger(__name__)
_once = OnceLogger(log)

#: Most messages a reliable local subscription queues before dropping the oldest.
RELIABLE_QUEUE_LIMIT = 65536


class _Topic:
    """Local state of one topic: subscriptions and the transient-local history."""

    __slots__ = ("history", "subscriptions", "version")

    def __init__(self) -> None:
        self.subscriptions: list[_LocalSubscription] = []
        #: (type hash, message, expiry on the monotonic clock: its publisher's QoS lifespan)
        self.history: deque[tuple[str, Any, float | None]] | None = None
        self.version = 0  #: bumped when subscriptions change: publishers re-match


class _Dispatcher:
    """Runs plain-function callbacks of local subscriptions from one task.

    A plain function blocks the loop wherever it runs, so one task serves them all (no
    task per subscription); subscriptions take turns one message at a time and the task
    yields to the loop after each batch.
    """

    _BATCH = 1024

    def __init__(self) -> None:
        self._ready: deque[_LocalSubscription] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def schedule(self, subscription: _LocalSubscription) -> None:
        self._ready.append(subscription)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rfos-intra-dispatch")
        self._wakeup.set()

    async def _run(self) -> None:
        ready, wakeup = self._ready, self._wakeup
        while True:
            if not ready:
                wakeup.clear()
                await wakeup.wait()
                continue
            budget = self._BATCH
            while ready and budget:
                budget -= 1
                subscription = ready.popleft()
                if subscription.run_one():
                    ready.append(subscription)
            await asyncio.sleep(0)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


class _LocalSubscription(CallbackFailures, SubscriptionHandle):
    def __init__(
        self, owner: IntraProcessTransport, endpoint: EndpointInfo, type_hash: str, callback: MessageCallback
    ) -> None:
        self._owner = owner
        self.endpoint = endpoint
        self.type_hash = type_hash
        self.stats = EntityStats()
        self._callback = callback
        qos = endpoint.qos
        limit = (
            qos.depth if qos.reliability is Reliability.BEST_EFFORT else max(qos.depth, RELIABLE_QUEUE_LIMIT)
        )
        self._queue: deque[Any] = deque(maxlen=limit)
        self._is_async = inspect.iscoroutinefunction(callback)
        self._wakeup: asyncio.Event | None = asyncio.Event() if self._is_async else None
        self._scheduled = False
        self._log = RateLimitedLog(log)
        self.dropped = 0
        self.inner: SubscriptionHandle | None = None
        self._liveliness_cb: LivelinessCallback | None = None
        self._watchdog: Watchdog | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self, inner: SubscriptionHandle | None) -> None:
        """Share ``inner``'s counters (remote drops are counted there) and start delivering."""
        self.inner = inner
        if inner is not None:
            self.stats = inner.stats
            inner.on_liveliness_changed = self._liveliness_cb
        qos = self.endpoint.qos
        if qos.deadline is not None:
            self._watchdog = Watchdog(
                self.endpoint.name,
                qos.with_(liveliness_lease_duration=None),
                self.stats,
                lambda: self.on_deadline_missed,
                lambda: None,
            )
        if self._is_async:
            self._task = asyncio.create_task(self._run(), name=f"rfos-intra {self.endpoint.name}")

    @property
    def on_liveliness_changed(self) -> LivelinessCallback | None:
        """Liveliness of remote publishers (tracked by the inner subscription)."""
        return self._liveliness_cb

    @on_liveliness_changed.setter
    def on_liveliness_changed(self, callback: LivelinessCallback | None) -> None:
        self._liveliness_cb = callback
        if self.inner is not None:
            self.inner.on_liveliness_changed = callback

    def deliver(self, msg: Any) -> None:
        self.stats.received += 1
        self.enqueue(msg)

    def enqueue(self, msg: Any) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
            self._log.log(
                logging.WARNING, "%s: local queue full, dropped the oldest message", self.endpoint.name
            )
        self._queue.append(msg)
        if self._wakeup is not None:
            self._wakeup.set()
        elif not self._scheduled and not self._closed:
            self._scheduled = True
            self._owner._dispatcher.schedule(self)

    def from_inner(self, msg: Any) -> None:
        """A remote message (the inner subscription counted it).

        A plain-function callback with nothing local queued runs right here: queued, the
        decoded messages of a whole socket read would stay alive until the dispatcher ran,
        and a nested type's dozens of objects each trigger the garbage collector's
        collections (measured on ``nav_msgs/Odometry``: 15 % of the time).
        """
        if self._wakeup is None and not self._queue and not self._closed:
            if self._watchdog is not None:
                self._watchdog.data()
            self._call(msg)
        else:
            self.enqueue(msg)

    def run_one(self) -> bool:
        """Run the callback on the next queued message; True if more are queued."""
        queue = self._queue
        if not queue or self._closed:
            self._scheduled = False
            return False
        msg = queue.popleft()
        if self._watchdog is not None:
            self._watchdog.data()
        self._call(msg)
        if queue:
            return True
        self._scheduled = False
        return False

    def _call(self, msg: Any) -> None:
        """Run the plain-function callback on ``msg``; what it raises is logged."""
        try:
            result = self._callback(msg)
            if result is not None and inspect.isawaitable(result):
                task = asyncio.ensure_future(result)  # a plain function returned an awaitable (rare)
                task.add_done_callback(self._check_task)
        except Exception as exc:
            self._failed(exc)

    async def _run(self) -> None:
        """Coroutine callbacks: one task per subscription, so a slow one delays only itself."""
        if self._wakeup is None:
            return
        on_message = self._watchdog.data if self._watchdog is not None else None
        await run_queued_callbacks(self._queue, self._wakeup, self._callback, self._failed, on_message)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._owner._remove_subscription(self)
        if self.inner is not None:
            await self.inner.close()


class _LocalPublisher(PublisherHandle):
    def __init__(
        self,
        owner: IntraProcessTransport,
        endpoint: EndpointInfo,
        type_hash: str,
        topic: _Topic,
        inner: PublisherHandle | None,
    ) -> None:
        self._owner = owner
        self.endpoint = endpoint
        self._hash = type_hash
        self._topic = topic
        self._inner = inner
        self._latched = endpoint.qos.durability is Durability.TRANSIENT_LOCAL
        self._version = -1
        self._targets: list[_LocalSubscription] = []
        self._wrong_type: list[_LocalSubscription] = []
        self._incompatible: list[_LocalSubscription] = []
        self._closed = False

    def _match(self) -> None:
        """Split the topic's subscriptions by type hash and QoS (once per change)."""
        self._targets, self._wrong_type, self._incompatible = [], [], []
        for subscription in self._topic.subscriptions:
            if subscription.type_hash != self._hash:
                self._wrong_type.append(subscription)
                _once.log(
                    (self.endpoint.name, self._hash, subscription.type_hash),
                    logging.WARNING,
                    "%s: local publisher of %s and subscription of another type (%s): not delivered",
                    self.endpoint.name,
                    self.endpoint.type_name,
                    subscription.type_hash,
                )
                continue
            reasons = incompatibilities(self.endpoint.qos, subscription.endpoint.qos)
            if reasons:
                self._incompatible.append(subscription)
                _once.log(
                    (self.endpoint.name, id(subscription)),
                    logging.WARNING,
                    "%s: incompatible QoS, messages dropped: %s",
                    self.endpoint.name,
                    "; ".join(reasons),
                )
                continue
            self._targets.append(subscription)
        self._version = self._topic.version

    async def publish(self, msg: Any) -> None:
        """Hand ``msg`` to local subscriptions (same object), then to remote peers."""
        if self._version != self._topic.version:
            self._match()
        for subscription in self._targets:
            subscription.deliver(msg)
        for subscription in self._wrong_type:
            subscription.stats.type_mismatch += 1
        for subscription in self._incompatible:
            subscription.stats.qos_incompatible += 1
        if self._latched and self._topic.history is not None:
            lifespan = self.endpoint.qos.lifespan
            expires = None if lifespan is None else time.monotonic() + lifespan
            self._topic.history.append((self._hash, msg, expires))
        if self._inner is not None:
            await self._inner.publish(msg)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner._entities.discard(self)
        if self._inner is not None:
            await self._inner.close()


class _LocalService(ServiceHandle):
    def __init__(self, owner: IntraProcessTransport, endpoint: EndpointInfo, handler: RequestHandler) -> None:
        self._owner = owner
        self.endpoint = endpoint
        self.handler = handler
        self.stats = EntityStats()
        self.inner: ServiceHandle | None = None
        self._closed = False

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner._remove_service(self)
        if self.inner is not None:
            await self.inner.close()


class _LocalClient(ClientHandle):
    def __init__(
        self, owner: IntraProcessTransport, endpoint: EndpointInfo, inner: ClientHandle | None
    ) -> None:
        self._owner = owner
        self.endpoint = endpoint
        self._inner = inner
        self._closed = False

    async def call(self, request: Any, *, timeout: float) -> Any:
        """Call a local server directly if there is one, else go through ``inner``."""
        server = self._owner._pick_server(self.endpoint.name)
        if server is None:
            if self._inner is None:
                raise ServiceUnavailable(f"no server for service {self.endpoint.name} in this process")
            return await self._inner.call(request, timeout=timeout)
        server.stats.received += 1
        try:
            response = server.handler(request)
            if inspect.isawaitable(response):
                response = await asyncio.wait_for(response, timeout)
        except TimeoutError:
            raise ServiceTimeout(f"service {self.endpoint.name} did not answer within {timeout:g}s") from None
        except Exception as exc:
            log.debug("%s: local service handler raised", self.endpoint.name, exc_info=exc)
            raise RemoteServiceError(self.endpoint.name, f"{type(exc).__name__}: {exc}") from exc
        return response

    async def wait_for_service(self, *, timeout: float) -> bool:
        """True at once for a local server; else asks ``inner``."""
        if self._owner._pick_server(self.endpoint.name, rotate=False) is not None:
            return True
        if self._inner is None:
            return await self._owner._wait_local_server(self.endpoint.name, timeout)
        return await self._inner.wait_for_service(timeout=timeout)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner._entities.discard(self)
        if self._inner is not None:
            await self._inner.close()


class IntraProcessTransport(Transport):
    """Zero-copy delivery between nodes of one process, and ``inner`` for everyone else."""

    kind: ClassVar[str] = "intra"

    def __init__(self, inner: Transport | None = None) -> None:
        self.inner = inner
        self.gid = uuid.uuid4().hex
        self.started_at = time.time()
        self._topics: dict[str, _Topic] = {}
        self._servers: dict[str, list[_LocalService]] = {}
        self._rr: dict[str, itertools.count[int]] = {}
        self._server_added = asyncio.Condition() if inner is None else None
        self._entities: set[Any] = set()
        self._nodes: list[NodeInfo] = []
        self._connection = ConnectionEvents()
        self._dispatcher = _Dispatcher()
        self._closed = False

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic()
        return topic

    async def connect(self) -> None:
        """Connect ``inner`` (if any); idempotent."""
        if self.inner is not None:
            await self.inner.connect()
        else:
            self._connection.set(ConnectionState.CONNECTED)

    async def close(self) -> None:
        """Close every entity, then ``inner``; idempotent."""
        if self._closed:
            return
        self._closed = True
        for entity in list(self._entities):
            await entity.close()
        self._dispatcher.close()
        if self.inner is not None:
            await self.inner.close()
        else:
            self._connection.set(ConnectionState.CLOSED)

    async def create_publisher(self, endpoint: EndpointInfo, msg_type: type[Any]) -> PublisherHandle:
        """Publish locally (same object) and on ``inner``."""
        topic = self._topic(endpoint.name)
        if endpoint.qos.durability is Durability.TRANSIENT_LOCAL:
            depth = endpoint.qos.depth
            if topic.history is None or (topic.history.maxlen or 0) < depth:
                topic.history = deque(topic.history or (), maxlen=depth)
        inner = await self.inner.create_publisher(endpoint, msg_type) if self.inner is not None else None
        publisher = _LocalPublisher(self, endpoint, type_hash_of(msg_type), topic, inner)
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
        """Receive local messages directly and remote ones through ``inner``.

        With ``ignore_local`` (another layer delivers this process's messages) only the
        remote ones are delivered.
        """
        topic = self._topic(endpoint.name)
        subscription = _LocalSubscription(self, endpoint, type_hash_of(msg_type), callback)
        inner = None
        if self.inner is not None:
            inner = await self.inner.create_subscription(
                endpoint, msg_type, subscription.from_inner, ignore_local=True
            )
        subscription.start(inner)
        if not ignore_local:
            if endpoint.qos.durability is Durability.TRANSIENT_LOCAL and topic.history:
                now = time.monotonic()
                stored = [
                    msg
                    for type_hash, msg, expires in topic.history
                    if type_hash == subscription.type_hash and (expires is None or expires > now)
                ]
                for msg in stored[-endpoint.qos.depth :]:
                    subscription.deliver(msg)
            topic.subscriptions.append(subscription)
            topic.version += 1
        self._entities.add(subscription)
        return subscription

    def _remove_subscription(self, subscription: _LocalSubscription) -> None:
        self._entities.discard(subscription)
        topic = self._topics.get(subscription.endpoint.name)
        if topic is not None and subscription in topic.subscriptions:
            topic.subscriptions.remove(subscription)
            topic.version += 1

    async def create_service(
        self, endpoint: EndpointInfo, srv_type: type[Any], handler: RequestHandler
    ) -> ServiceHandle:
        """Serve local clients directly and remote ones through ``inner``."""
        service = _LocalService(self, endpoint, handler)
        self._servers.setdefault(endpoint.name, []).append(service)
        if self.inner is not None:
            service.inner = await self.inner.create_service(endpoint, srv_type, handler)
            service.stats = service.inner.stats
        elif self._server_added is not None:
            async with self._server_added:
                self._server_added.notify_all()
        self._entities.add(service)
        return service

    def _remove_service(self, service: _LocalService) -> None:
        self._entities.discard(service)
        servers = self._servers.get(service.endpoint.name)
        if servers and service in servers:
            servers.remove(service)

    def _pick_server(self, name: str, *, rotate: bool = True) -> _LocalService | None:
        servers = self._servers.get(name)
        if not servers:
            return None
        if not rotate or len(servers) == 1:
            return servers[0]
        counter = self._rr.setdefault(name, itertools.count())
        return servers[next(counter) % len(servers)]

    async def _wait_local_server(self, name: str, timeout: float) -> bool:
        assert self._server_added is not None
        predicate: Callable[[], bool] = lambda: bool(self._servers.get(name))  # noqa: E731
        try:
            async with self._server_added:
                await asyncio.wait_for(self._server_added.wait_for(predicate), timeout)
        except TimeoutError:
            return False
        return True

    async def create_client(self, endpoint: EndpointInfo, srv_type: type[Any]) -> ClientHandle:
        """A client preferring local servers."""
        inner = await self.inner.create_client(endpoint, srv_type) if self.inner is not None else None
        client = _LocalClient(self, endpoint, inner)
        self._entities.add(client)
        return client

    async def announce(self, nodes: list[NodeInfo]) -> None:
        """Announce ``nodes`` through ``inner`` (or keep them for :meth:`graph`)."""
        self._nodes = list(nodes)
        if self.inner is not None:
            await self.inner.announce(nodes)

    async def graph(self, *, timeout: float = 0.5) -> list[ParticipantInfo]:
        """The bus-wide graph from ``inner``; without one, just this process."""
        if self.inner is not None:
            return await self.inner.graph(timeout=timeout)
        if self._closed:
            return []
        return [
            ParticipantInfo(
                gid=self.gid,
                host=socket.gethostname(),
                pid=os.getpid(),
                nodes=list(self._nodes),
                started_at=self.started_at,
            )
        ]

    @property
    def connection_state(self) -> ConnectionState:
        """``inner``'s state; a pure in-process bus is connected from connect() to close()."""
        return self.inner.connection_state if self.inner is not None else self._connection.state

    def add_connection_listener(self, listener: ConnectionListener) -> ConnectionListenerHandle:
        """Changes of ``inner``'s connection (a pure in-process bus: connected, then closed)."""
        if self.inner is not None:
            return self.inner.add_connection_listener(listener)
        return self._connection.add(listener)
