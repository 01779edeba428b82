"""``HttpServer``: uvicorn (httptools) serving an :class:`App` inside the caller's event loop.

uvicorn's own entry points (``uvicorn.run``, ``Server.serve``) take over signal handling and
call ``sys.exit`` when the port is taken; a tier already runs its event loop and handles
SIGINT/SIGTERM itself. So the server binds its socket itself (a port in use is an
:class:`HttpPortInUse` naming the port) and drives ``Server.startup`` / ``main_loop`` /
``shutdown``, the steps ``serve`` is made of. :func:`~._protocol.check_uvicorn` verifies
those names at start.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import socket
from dataclasses import dataclass
from types import TracebackType

import uvicorn
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from robotfleet_nodes.errors import RobotFleetError

from ._guard import RequestGuard, ServerContext, ServerMetrics
from ._protocol import HeadLimits, check_uvicorn, limited_protocol
from ._routing import App

__all__ = ["HttpPortInUse", "HttpServer", "ServerLimits"]

logger = logging.getLogger(__name__)


class HttpPortInUse(RobotFleetError, OSError):
    """The HTTP port is taken by another process."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """Size limits and timeouts (seconds) that protect the server from bad clients.

    ``max_body_bytes`` is enforced for every body (``Content-Length`` or chunked); after the
    ``413``, up to ``drain_body_bytes`` of the refused body are read and dropped for at most
    ``drain_timeout`` seconds, so the answer is not lost to a reset; ``body_timeout`` bounds
    each wait for more body; the head limits are the protocol's; ``idle_timeout`` closes a
    keep-alive connection with no new request (uvicorn's ``timeout_keep_alive``, whole
    seconds, at least 1).
    """

    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_body_bytes: int = 1024 * 1024
    drain_body_bytes: int = 8 * 1024 * 1024
    drain_timeout: float = 2.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 30.0


class HttpServer:
    """Serve ``app`` over HTTP/1.1 with uvicorn; ``async with HttpServer(app, port=0) as s:``.

    ``port=0`` binds a free port; read it from :attr:`port` after :meth:`start`. ``tls``
    (certificate and key PEM files; default: the :class:`App`'s ``tls``) serves HTTPS. With
    ``metrics``, the server registers ``http_requests_total``,
    ``http_request_duration_seconds``, ``http_connections`` and ``http_event_streams`` there.
    """

    def __init__(
        self,
        app: App | ASGIApp,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        limits: ServerLimits | None = None,
        shutdown_timeout: float = 5.0,
        metrics: CollectorRegistry | None = None,
        tls: tuple[str, str] | None = None,
    ) -> None:
        if tls is None and isinstance(app, App):
            tls = app.tls
        #: (certificate, key) PEM files: HTTPS; None: plain HTTP
        self.tls = tls
        self.app: ASGIApp = app.build() if isinstance(app, App) else app
        self.host = host
        self.port = port
        self.limits = limits or ServerLimits()
        self.shutdown_timeout = shutdown_timeout
        self._metrics = ServerMetrics(metrics) if metrics is not None else None
        self._context: ServerContext | None = None
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._main: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and start accepting connections; :class:`HttpPortInUse` if the port is taken."""
        if self._server is not None:
            raise RuntimeError("HttpServer is already started")
        sock = self._bind()
        try:
            self._context = ServerContext(metrics=self._metrics)
            limits = self.limits
            config = uvicorn.Config(
                RequestGuard(
                    self.app,
                    self._context,
                    max_body_bytes=limits.max_body_bytes,
                    drain_body_bytes=limits.drain_body_bytes,
                    drain_timeout=limits.drain_timeout,
                    body_timeout=limits.body_timeout,
                ),
                http=limited_protocol(
                    HeadLimits(
                        header_timeout=limits.header_timeout,
                        max_header_bytes=limits.max_header_bytes,
                        max_headers=limits.max_headers,
                    )
                ),
                loop="none",
                lifespan="off",
                log_config=None,
                access_log=False,
                server_header=False,
                timeout_keep_alive=max(1, math.ceil(limits.idle_timeout)),
                timeout_graceful_shutdown=max(1, math.ceil(self.shutdown_timeout)),
                ssl_certfile=self.tls[0] if self.tls else None,
                ssl_keyfile=self.tls[1] if self.tls else None,
            )
            config.load()
            server = uvicorn.Server(config)
            check_uvicorn(server)
            server.lifespan = config.lifespan_class(config)
            await server.startup(sockets=[sock])
        except BaseException:
            sock.close()  # a failed start leaves no port bound
            raise
        self._server, self._socket = server, sock
        if self._metrics is not None:
            connections = server.server_state.connections
            self._metrics.connections.set_function(lambda: len(connections))
        self._main = asyncio.create_task(server.main_loop(), name=f"http server :{self.port}")
        scheme = "HTTPS" if self.tls else "HTTP"
        logger.info("%s server listening on %s:%d", scheme, self.host, self.port)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP, not 0 (socket.create_server's): asyncio sets TCP_NODELAY only on
        # sockets whose proto says TCP, and without it a response written as head + body
        # waits for the client's delayed ACK (40 ms per small request, measured).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.host, self.port))
            sock.listen(2048)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise HttpPortInUse(
                    f"HTTP port {self.port} on {self.host} is already in use: stop the other "
                    "process or choose another port"
                ) from None
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    async def stop(self) -> None:
        """Stop listening, end event streams and idle connections, wait for in-flight requests.

        Requests still running after ``shutdown_timeout`` seconds are cancelled.
        """
        server, self._server = self._server, None
        if server is None:
            return
        assert self._context is not None and self._main is not None
        self._context.stopping.set()
        server.should_exit = True
        await self._main
        await server.shutdown(sockets=[self._socket] if self._socket is not None else None)
        self._socket = None
        logger.info("HTTP server on port %d stopped", self.port)

    async def __aenter__(self) -> HttpServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
