"""The context: one transport (one broker connection) shared by every node created in it.

Like rclpy's ``Context``, but asyncio-native. Without an explicit transport it connects to
``MESSAGING_URL``, or, when that is unset, to the local broker on ``127.0.0.1:$RFOS_LOCAL_PORT``
(4222), starting it detached when none runs, so programs started in two terminals find each
other as ROS 2 programs do; ``RFOS_LOCAL_PORT=0`` starts a private embedded nats-server for
this process instead.
Nodes composed in one context talk through the intra-process path; everything still goes
through the broker for peers in other processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from robotfleet_nodes._callbacks import spawn
from robotfleet_nodes._local_broker import ENV_PORT, LocalBroker, local_port
from robotfleet_nodes.broker import EmbeddedBroker, messaging_url_from_env
from robotfleet_nodes.errors import BrokerUnavailable, ConfigError, TransportError
from robotfleet_nodes.node._rosout import RosoutHandler
from robotfleet_nodes.transport import (
    ConnectionEvents,
    ConnectionListener,
    ConnectionListenerHandle,
    ConnectionState,
    Transport,
)

if TYPE_CHECKING:
    from robotfleet_nodes.node.arguments import RosArgs
    from robotfleet_nodes.node.node import Node

__all__ = ["Context"]

log = logging.getLogger(__name__)

#: Environment variable choosing the bus of contexts without an explicit transport:
#: ``nats`` (default) or ``dds`` (cyclonedds; the robot's own ROS 2 bus).
TRANSPORT_ENV = "RFOS_TRANSPORT"
#: Environment variable: seconds a context keeps retrying its first connection.
CONNECT_WAIT_ENV = "RFOS_CONNECT_WAIT"
#: Seconds of waiting for the first connection that are logged at INFO, not WARNING.
_QUIET_CONNECT_WAIT = 5.0


def _env_seconds(name: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number of seconds") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r}: expected a number of seconds >= 0")
    return value


#: Seconds graph changes are collected before they are announced together.
ANNOUNCE_DELAY = 0.05
#: While the graph keeps changing (hundreds of nodes or entities being created), the delay
#: doubles per announcement up to this many seconds: each announcement encodes the changed
#: nodes again, and a zone creating 200 action clients changes its node 1000 times.
MAX_ANNOUNCE_DELAY = 0.4


class Context:
    """Owns the transport and the nodes that use it. Use ``async with Context() as ctx``."""

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        url: str | None = None,
        args: Sequence[str] | None = None,
        intra_process: bool = True,
        enable_rosout: bool = True,
        connect_wait: float | None = None,
        credentials: str | os.PathLike[str] | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        encoding: str | None = None,
        max_message_size: int | None = None,
        jetstream_replicas: int | None = None,
    ) -> None:
        """``connect_wait``: seconds to keep retrying the first connection (a broker that is
        still starting, as in a launch file or a Kubernetes pod); default ``RFOS_CONNECT_WAIT``
        from the environment, else 0 (fail at once, as tools should).

        ``credentials`` (a NATS ``.creds`` file), ``tls_ca``, ``tls_cert``, ``tls_key``: the
        identity and TLS files of the NATS connection this context makes (a tier passes its
        ``messaging`` section); each defaults to ``MESSAGING_CREDS``, ``MESSAGING_TLS_CA``,
        ``MESSAGING_TLS_CERT``, ``MESSAGING_TLS_KEY`` (see :class:`NatsTransport`).

        ``encoding`` (``auto``, ``json``, ``cdr``) and ``max_message_size`` (bytes): the NATS
        transport's (``messaging.encoding`` / ``messaging.max_message_size``); default
        ``MESSAGING_ENCODING`` / ``MESSAGING_MAX_MESSAGE_SIZE``, else ``auto`` and 256 MiB.

        ``jetstream_replicas``: replicas of the JetStream streams and buckets created on the
        connection (``messaging.jetstream_replicas``); ``None``: 3 on a cluster of 3 or more
        servers, else 1."""
        from robotfleet_nodes.node.arguments import parse_ros_args

        self._connect_wait = connect_wait if connect_wait is not None else _env_seconds(CONNECT_WAIT_ENV)

        self._transport = transport
        self._owns_transport = transport is None
        self._url = url
        self._credentials = credentials
        self._tls_files = (tls_ca, tls_cert, tls_key)
        self._encoding = encoding
        self._max_message_size = max_message_size
        self._jetstream_replicas = jetstream_replicas
        self._intra_process = intra_process
        self.ros_args: RosArgs = parse_ros_args(list(args or []))
        self._broker: EmbeddedBroker | None = None
        self._local: LocalBroker | None = None
        self._nodes: list[Node] = []
        self._announce_pending = False
        self._announce_handle: asyncio.TimerHandle | None = None
        self._announce_delay = ANNOUNCE_DELAY
        self._announced_at = -float("inf")
        self._tasks: set[asyncio.Task[Any]] = set()
        self._shutdown = asyncio.Event()
        self._started = False
        self._enable_rosout = enable_rosout
        self._rosout: RosoutHandler | None = None
        self._connection = ConnectionEvents()
        self._forwarding: ConnectionListenerHandle | None = None

    @property
    def rosout_enabled(self) -> bool:
        """Whether node log records are published on ``/rosout``."""
        return self._enable_rosout

    @property
    def rosout_handler(self) -> logging.Handler | None:
        """The ``logging`` handler that publishes records on ``/rosout`` (``None`` while the
        context is not started or rosout is disabled). ``handler.handle(record)`` publishes a
        record named ``rfos.<logger name>`` from any thread, never blocking."""
        return self._rosout

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            raise RuntimeError("the context is not started: `await ctx.start()` or `async with Context()`")
        return self._transport

    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes)

    @property
    def url(self) -> str | None:
        """The broker URL in use (embedded or given), if the transport is NATS."""
        return self._url

    @property
    def connection_state(self) -> ConnectionState:
        """Where the transport's connection stands (``NEW`` before :meth:`start`)."""
        return self._connection.state

    def add_connection_listener(self, listener: ConnectionListener) -> ConnectionListenerHandle:
        """Call ``listener`` on every change of the transport's :class:`ConnectionState`.

        May be called before :meth:`start` (the listener then sees ``CONNECTED``). Changes:
        ``CONNECTED``, ``DISCONNECTED`` (the broker is gone; the transport keeps trying),
        ``RECONNECTED`` (back; subscriptions restored), ``CLOSED`` (the context closed).
        ``listener`` may be a coroutine function; its exceptions are logged, never raised.
        ``remove()`` on the returned handle stops the calls.
        """
        return self._connection.add(listener)

    async def start(self) -> None:
        """Connect (to the local broker, or a private one, when no URL is known); idempotent."""
        if self._started:
            return
        try:
            if self._transport is None:
                self._transport = await self._default_transport()
            if self._forwarding is None:
                self._forwarding = self._transport.add_connection_listener(self._connection.set)
            await self._connect(self._transport)
        finally:
            # Held from finding the local broker until connected: it is not stopped meanwhile.
            if self._local is not None:
                self._local.release()
        if self._local is not None:
            log.info("MESSAGING_URL is not set: connected to %s", self._local.describe())
        self._connection.set(self._transport.connection_state)
        if self._enable_rosout:
            self._rosout = RosoutHandler(self._transport)
            await self._rosout.start()
        self._started = True

    async def _connect(self, transport: Transport) -> None:
        started = time.monotonic()
        deadline = started + self._connect_wait
        delay = 0.2
        while True:
            try:
                await transport.connect()
                return
            except TransportError as exc:
                now = time.monotonic()
                if now + delay > deadline:
                    if isinstance(exc, BrokerUnavailable) and self._connect_wait > 0:
                        raise BrokerUnavailable(
                            f"{exc}; gave up after {now - started:.1f} s "
                            f"({CONNECT_WAIT_ENV}={self._connect_wait:g})"
                        ) from exc
                    raise
                # A broker started next to us (a launch file, a pod) takes a moment: that is
                # news only once it takes longer than that.
                level = logging.INFO if now - started < _QUIET_CONNECT_WAIT else logging.WARNING
                log.log(
                    level, "waiting for the broker: %s; retrying for up to %.0f s more", exc, deadline - now
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _default_transport(self) -> Transport:
        from robotfleet_nodes.transport.intra import IntraProcessTransport

        inner: Transport
        if os.environ.get(TRANSPORT_ENV, "nats").strip().lower() == "dds":
            from robotfleet_nodes.transport.dds import DdsTransport  # optional extra

            inner = DdsTransport()
        else:
            inner = await self._nats_transport()
        return IntraProcessTransport(inner) if self._intra_process else inner

    async def _nats_transport(self) -> Transport:
        from robotfleet_nodes.transport.nats import NatsTransport

        url = self._url or messaging_url_from_env()
        if url is None:
            port = local_port()
            if port:
                self._local = LocalBroker(port)
                url = await asyncio.to_thread(self._local.acquire)
            else:
                self._broker = EmbeddedBroker()
                url = await asyncio.to_thread(self._broker.start)
                log.info(
                    "MESSAGING_URL is not set and %s=0: started a private embedded nats-server at %s",
                    ENV_PORT,
                    url,
                )
        self._url = url
        tls_ca, tls_cert, tls_key = self._tls_files
        return NatsTransport(
            url,
            credentials=self._credentials,
            tls_ca=tls_ca,
            tls_cert=tls_cert,
            tls_key=tls_key,
            encoding=self._encoding,
            max_message_size=self._max_message_size,
            jetstream_replicas=self._jetstream_replicas,
        )

    async def close(self) -> None:
        """Destroy every node, close the transport, stop an embedded broker; idempotent."""
        for node in list(reversed(self._nodes)):
            await node.destroy_node()
        if self._announce_handle is not None:  # the nodes are gone: nothing left to announce
            self._announce_handle.cancel()
            self._announce_handle = None
            self._announce_pending = False
        if self._rosout is not None:
            await self._rosout.stop()
            self._rosout = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._transport is not None and self._owns_transport:
            await self._transport.close()
            self._transport = None
        if self._forwarding is not None:
            self._forwarding.remove()
            self._forwarding = None
            self._connection.set(ConnectionState.CLOSED)
        if self._broker is not None:
            await asyncio.to_thread(self._broker.stop)
            self._broker = None
        if self._local is not None:  # the local broker outlives us; it stops when idle
            self._local.release()
            self._local = None
        self._started = False
        self._shutdown.set()

    def shutdown(self) -> None:
        """Ask everything waiting in :meth:`wait_for_shutdown` to return."""
        self._shutdown.set()

    async def wait_for_shutdown(self) -> None:
        await self._shutdown.wait()

    # -- nodes -----------------------------------------------------------------------
    def _add_node(self, node: Node) -> None:
        self._nodes.append(node)
        self.graph_changed()

    def _remove_node(self, node: Node) -> None:
        if node in self._nodes:
            self._nodes.remove(node)
            self.graph_changed()

    def graph_changed(self) -> None:
        """Re-announce this context's nodes shortly.

        Changes within :data:`ANNOUNCE_DELAY` seconds coalesce into one announcement, so
        bringing up 1000 nodes costs a handful of announcements, not 1000 (each lists every
        node of the context). While changes keep coming, the delay doubles up to
        :data:`MAX_ANNOUNCE_DELAY`; after a quiet spell it is short again.
        """
        if self._announce_pending or self._transport is None:
            return
        self._announce_pending = True
        loop = asyncio.get_running_loop()
        if loop.time() - self._announced_at < 2 * self._announce_delay:
            self._announce_delay = min(MAX_ANNOUNCE_DELAY, self._announce_delay * 2)
        else:
            self._announce_delay = ANNOUNCE_DELAY
        self._announce_handle = loop.call_later(self._announce_delay, self._announce)

    def _announce(self) -> None:
        self._announce_pending = False
        self._announce_handle = None
        self._announced_at = asyncio.get_running_loop().time()
        if self._transport is None:
            return
        infos = [node.info for node in self._nodes]
        spawn(self._transport.announce(infos), self._tasks)

    async def __aenter__(self) -> Context:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
