"""The outermost ASGI layer: body and protocol limits, request metrics, the server's context.

uvicorn accepts any request body size (chunked too), waits for a body forever and takes any
``HTTP/x.y`` version httptools parses; :class:`RequestGuard` answers ``413`` for a body above
``max_body_bytes`` (declared or counted while it streams in), ``408`` when the body stalls
for ``body_timeout`` seconds and ``505`` for anything but HTTP/1.0 and 1.1. It also records
``http_requests_total`` and ``http_request_duration_seconds`` and puts a
:class:`ServerContext` into ``scope["state"]`` so event streams end when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import HttpError
from ._response import json_bytes

__all__ = ["CONTEXT_KEY", "RequestGuard", "ServerContext", "ServerMetrics"]

logger = logging.getLogger(__name__)

#: Key of the :class:`ServerContext` in ``scope["state"]`` (``request.state.rfos_server``).
CONTEXT_KEY = "rfos_server"
_BAD_NAME = re.compile(rb'[\x00-\x1f\x7f()<>@,;:\[\]={} \t\\"]')
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_VERSIONS = frozenset({"1.0", "1.1"})


class ServerMetrics:
    """The server's own metrics, registered in the caller's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered, by method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Seconds from request head to response sent.",
            ["method"],
            registry=registry,
        )
        self.connections = Gauge("http_connections", "Open HTTP connections.", registry=registry)
        self.streams = Gauge("http_event_streams", "Open server-sent event streams.", registry=registry)


@dataclass(slots=True)
class ServerContext:
    """What a response may need from the server: its stop signal and its metrics."""

    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    metrics: ServerMetrics | None = None


class RequestGuard:
    """Wraps the application: limits, metrics and the :class:`ServerContext` (see module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        context: ServerContext,
        *,
        max_body_bytes: int,
        drain_body_bytes: int,
        drain_timeout: float,
        body_timeout: float,
    ) -> None:
        self.app = app
        self.context = context
        self.max_body_bytes = max_body_bytes
        self.drain_body_bytes = drain_body_bytes
        self.drain_timeout = drain_timeout
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[CONTEXT_KEY] = self.context
        started = time.perf_counter()
        status = 0
        answered = False  # a refused body was answered early; the app's response is dropped

        async def send_status(message: Message) -> None:
            nonlocal status
            if answered:
                return
            if message["type"] == "http.response.start":
                _check_headers(message)
            await send(message)
            if message["type"] == "http.response.start":
                status = message["status"]

        async def refuse_body(seen: int) -> None:
            nonlocal answered
            await _send_error(send_status, self._too_large(), more_body=True)
            answered = True
            await self._drain(receive, seen)
            await send({"type": "http.response.body", "body": b""})

        try:
            rejection = self._check_head(scope)
            if rejection is None:
                await self.app(scope, self._counting(receive, refuse_body), send_status)
            elif rejection.status == 413:
                await refuse_body(0)
            else:
                await _send_error(send_status, rejection)
        except HttpError as exc:  # a body that stalled outside a handler
            if not status:
                await _send_error(send_status, exc)
        except Exception as exc:
            if not status:
                error_id = str(uuid.uuid4())
                logger.exception("request failed (error id %s)", error_id)
                await _send_error(send_status, HttpError(500, "internal error", id=error_id))
            else:
                logger.debug("request failed after its response started", exc_info=exc)
        finally:
            metrics = self.context.metrics
            if metrics is not None and status:
                method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
                metrics.requests.labels(method=method, code=str(status)).inc()
                metrics.duration.labels(method=method).observe(time.perf_counter() - started)

    def _check_head(self, scope: Scope) -> HttpError | None:
        if scope.get("http_version") not in _VERSIONS:
            version = scope.get("http_version")
            return HttpError(505, f"HTTP/{version} is not supported; use HTTP/1.1", headers=_CLOSE)
        names = {name for name, _ in scope["headers"]}
        if b"transfer-encoding" in names and b"content-length" in names:
            return HttpError(400, "both Transfer-Encoding and Content-Length are present", headers=_CLOSE)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    return HttpError(400, "Content-Length is not a number", headers=_CLOSE)
                if int(value) > self.max_body_bytes:
                    return self._too_large()
        return None

    def _too_large(self) -> HttpError:
        return HttpError(413, f"request body larger than {self.max_body_bytes} bytes", headers=_CLOSE)

    async def _receive_body(self, receive: Receive) -> Message:
        try:
            async with asyncio.timeout(self.body_timeout):
                return await receive()
        except TimeoutError:
            raise HttpError(408, "timed out waiting for the request body", headers=_CLOSE) from None

    async def _drain(self, receive: Receive, seen: int) -> None:
        """Read and drop the rest of a refused body, so the close after the answer is clean.

        (Closing a socket with unread input makes the kernel reset the connection, and the
        client may lose the answer.) Stops after ``drain_body_bytes`` or ``drain_timeout``.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.drain_timeout):
                while seen <= self.drain_body_bytes:
                    message = await receive()
                    if message["type"] != "http.request":
                        return
                    seen += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        return

    def _counting(self, receive: Receive, refuse: Callable[[int], Awaitable[None]]) -> Receive:
        seen = 0
        complete = False

        async def counted() -> Message:
            nonlocal seen, complete
            if complete:  # the body is in: what follows is the wait for a disconnect
                return await receive()
            message = await self._receive_body(receive)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if seen > self.max_body_bytes:
                    complete = True
                    await refuse(seen)
                    raise self._too_large()  # ends the handler; its response is dropped
            else:
                complete = True
            return message

        return counted


#: Headers of an error that must close the connection (the request body was not read).
_CLOSE = {"Connection": "close"}


def _check_headers(message: Message) -> None:
    """Refuse a header uvicorn would refuse only after marking the response started."""
    for name, value in message.get("headers", ()):
        if _BAD_NAME.search(name) or _BAD_VALUE.search(value):
            raise ValueError(f"response header {name!r} has a bad name or a control character in its value")


async def _send_error(send: Send, exc: HttpError, *, more_body: bool = False) -> None:
    body = json_bytes(exc.payload())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()),
    ]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": more_body})
