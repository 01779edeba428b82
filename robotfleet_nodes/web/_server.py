"""``HttpServer``: a small HTTP/1.1 server on ``asyncio.start_server``.

Keep-alive, ``Content-Length`` bodies only, size limits and timeouts for slow clients,
HEAD, conditional GET (``ETag``/``If-None-Match``), gzip negotiation and SSE streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import logging
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from ._errors import HttpError
from ._request import Headers, Request
from ._response import Response, json_response
from ._routing import Handler, error_response, internal_error_response
from ._sse import ServerSentEvent, SseResponse
from .metrics import Registry

__all__ = ["HttpServer", "ServerLimits"]

logger = logging.getLogger(__name__)

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(r"/[\x21-\x7e]*")
_VERSION = re.compile(r"HTTP/\d\.\d")
_COMPRESSIBLE = frozenset({"application/json", "application/javascript", "application/xml", "image/svg+xml"})
_GZIP_MIN = 1024
_GZIP_IN_THREAD = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """Size limits and timeouts (seconds) that protect the server from bad clients."""

    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_body_bytes: int = 1024 * 1024
    max_query_fields: int = 1000
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    body_timeout: float = 30.0
    write_timeout: float = 30.0


class _BadRequest(Exception):
    """A request we answer with ``status`` and then close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _ServerMetrics:
    """The server's own metrics, registered in the caller's registry."""

    def __init__(self, registry: Registry) -> None:
        self.requests = registry.counter(
            "http_requests_total", "HTTP requests answered, by method and status code.", ["method", "code"]
        )
        self.duration = registry.histogram(
            "http_request_duration_seconds", "Seconds from request head to response written.", ["method"]
        )
        self.connections = registry.gauge("http_connections", "Open HTTP connections.")
        self.streams = registry.gauge("http_event_streams", "Open server-sent event streams.")

    def observe(self, method: str, status: int, started: float) -> None:
        method = method if method in _KNOWN_METHODS else "OTHER"
        self.requests.labels(method=method, code=str(status)).inc()
        self.duration.labels(method=method).observe(time.perf_counter() - started)


@dataclass(slots=True)
class _Connection:
    writer: asyncio.StreamWriter
    busy: bool = False


class _End:
    """Marks the end of an SSE source."""


_END = _End()


async def _next_event(iterator: Any) -> ServerSentEvent | _End:
    try:
        event: ServerSentEvent = await anext(iterator)
    except StopAsyncIteration:
        return _END
    return event


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _accepts_gzip(accept_encoding: str) -> bool:
    allowed = False
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding == "gzip":
            return q > 0
        allowed = q > 0
    return allowed


def _compressible(content_type: str | None) -> bool:
    if not content_type:
        return False
    base = content_type.split(";", 1)[0].strip().lower()
    return base.startswith("text/") or base in _COMPRESSIBLE or base.endswith("+json")


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


class HttpServer:
    """Serve ``app`` (an :class:`App` or any ``async (Request) -> Response``) over HTTP/1.1.

    ``port=0`` binds a free port; read it from :attr:`port` after :meth:`start`. Use as
    ``async with HttpServer(app, port=0) as server: ...``. With ``metrics``, the server
    registers ``http_requests_total``, ``http_request_duration_seconds``, ``http_connections``
    and ``http_event_streams`` there.
    """

    def __init__(
        self,
        app: Handler,
        host: str = "0.0.0.0",
        port: int = 8080,
        *,
        limits: ServerLimits | None = None,
        shutdown_timeout: float = 5.0,
        metrics: Registry | None = None,
    ) -> None:
        self.app = app
        self._metrics = _ServerMetrics(metrics) if metrics is not None else None
        self.host = host
        self._requested_port = port
        self.limits = limits or ServerLimits()
        self.shutdown_timeout = shutdown_timeout
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._stopping = asyncio.Event()
        self.port = port

    async def start(self) -> None:
        """Bind and start accepting connections."""
        if self._server is not None:
            raise RuntimeError("HttpServer is already started")
        self._stopping.clear()
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self._requested_port, limit=self.limits.max_header_bytes
        )
        sockets = self._server.sockets
        if sockets:
            self.port = sockets[0].getsockname()[1]
        logger.info("HTTP server listening on %s:%d", self.host, self.port)

    async def stop(self, timeout: float | None = None) -> None:
        """Stop listening, end SSE streams and idle connections, wait for in-flight requests.

        Requests still running after ``timeout`` (default ``shutdown_timeout``) are cancelled.
        """
        if self._server is None:
            return
        server, self._server = self._server, None
        self._stopping.set()
        server.close()
        idle = [task for task, conn in self._connections.items() if not conn.busy]
        for task in idle:
            task.cancel()
        tasks = list(self._connections)
        if tasks:
            _, pending = await asyncio.wait(
                tasks, timeout=self.shutdown_timeout if timeout is None else timeout
            )
            for task in pending:
                logger.warning("cancelling a request still running at shutdown")
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
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

    # -- connections -------------------------------------------------------------------

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stopping.is_set():
            writer.close()
            return
        conn = _Connection(writer)
        task = asyncio.get_running_loop().create_task(self._serve(conn, reader, writer))
        self._connections[task] = conn
        task.add_done_callback(self._connections.pop)

    async def _serve(
        self, conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._metrics is not None:
            self._metrics.connections.inc()
        peer = writer.get_extra_info("peername")
        client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None
        try:
            first = True
            while not self._stopping.is_set():
                keep_alive = await self._one_request(conn, reader, writer, client, first=first)
                first = False
                if not keep_alive:
                    break
        except asyncio.CancelledError:
            if not self._stopping.is_set():
                raise
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError) as exc:
            logger.debug("connection from %s ended: %r", client, exc)
        except Exception:
            logger.exception("unexpected error on connection from %s", client)
        finally:
            writer.close()
            if self._metrics is not None:
                self._metrics.connections.dec()

    async def _read_head(self, reader: asyncio.StreamReader, *, first: bool) -> bytes | None:
        """The request head up to the blank line, or ``None`` if the client went away."""
        wait = self.limits.header_timeout if first else self.limits.idle_timeout
        try:
            async with asyncio.timeout(wait):
                start = await reader.read(1)
        except TimeoutError:
            return None
        if not start:
            return None
        try:
            async with asyncio.timeout(self.limits.header_timeout):
                rest = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise _BadRequest(408, "timed out waiting for the request headers") from None
        except asyncio.LimitOverrunError:
            raise _BadRequest(431, "request line and headers exceed the size limit") from None
        except asyncio.IncompleteReadError:
            return None
        head = start + rest
        if len(head) > self.limits.max_header_bytes:
            raise _BadRequest(431, "request line and headers exceed the size limit")
        return head

    def _parse_head(self, head: bytes, client: tuple[str, int] | None) -> Request:
        lines = head[:-4].split(b"\r\n")
        try:
            request_line = lines[0].decode("ascii")
        except UnicodeDecodeError:
            raise _BadRequest(400, "request line is not ASCII") from None
        parts = request_line.split(" ")
        if len(parts) != 3:
            raise _BadRequest(400, "malformed request line; expected 'METHOD /path HTTP/1.1'")
        method, target, version = parts
        if not _TOKEN.fullmatch(method.encode()):
            raise _BadRequest(400, "malformed request method")
        if not _VERSION.fullmatch(version):
            raise _BadRequest(400, "malformed HTTP version")
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _BadRequest(505, f"{version} is not supported; use HTTP/1.1")
        if not _TARGET.fullmatch(target):
            raise _BadRequest(400, "request target must be an origin-form path starting with '/'")
        if len(lines) - 1 > self.limits.max_headers:
            raise _BadRequest(431, f"more than {self.limits.max_headers} header fields")
        items: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.fullmatch(name):
                raise _BadRequest(400, "malformed header line")
            value = value.strip(b" \t")
            if b"\0" in value:
                raise _BadRequest(400, "header value contains NUL")
            items.append((name.decode("ascii"), value.decode("latin-1")))
        raw_path, _, query_string = target.partition("?")
        raw_path = raw_path.partition("#")[0]
        try:
            path = unquote(raw_path, errors="strict")
            query = parse_qs(
                query_string,
                keep_blank_values=True,
                errors="strict",
                max_num_fields=self.limits.max_query_fields,
            )
        except UnicodeDecodeError:
            raise _BadRequest(400, "path or query is not valid UTF-8 after percent-decoding") from None
        except ValueError:
            raise _BadRequest(400, f"more than {self.limits.max_query_fields} query parameters") from None
        return Request(
            method=method,
            path=path,
            raw_path=raw_path,
            query=query,
            headers=Headers(items),
            client=client,
            http_version=version,
        )

    def _content_length(self, headers: Headers) -> int:
        if "transfer-encoding" in headers:
            if "content-length" in headers:
                raise _BadRequest(400, "both Transfer-Encoding and Content-Length are present")
            raise _BadRequest(411, "chunked or encoded request bodies are not supported; send Content-Length")
        values = {v.strip() for raw in headers.getall("content-length") for v in raw.split(",")}
        if not values:
            return 0
        if len(values) != 1:
            raise _BadRequest(400, "conflicting Content-Length values")
        value = values.pop()
        if not value.isdigit() or not value.isascii():
            raise _BadRequest(400, "Content-Length is not a number")
        length = int(value)
        if length > self.limits.max_body_bytes:
            raise _BadRequest(413, f"request body larger than {self.limits.max_body_bytes} bytes")
        return length

    @staticmethod
    def _wants_keep_alive(request: Request) -> bool:
        tokens = {
            token.strip().lower()
            for value in request.headers.getall("connection")
            for token in value.split(",")
        }
        if request.http_version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens

    async def _one_request(
        self,
        conn: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: tuple[str, int] | None,
        *,
        first: bool,
    ) -> bool:
        """Serve one request; True if the connection stays open for another."""
        request: Request | None = None
        try:
            head = await self._read_head(reader, first=first)
            if head is None:
                return False
            conn.busy = True
            request = self._parse_head(head, client)
            length = self._content_length(request.headers)
            if length:
                if request.headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                try:
                    async with asyncio.timeout(self.limits.body_timeout):
                        request.body = await reader.readexactly(length)
                except TimeoutError:
                    raise _BadRequest(408, "timed out waiting for the request body") from None
        except _BadRequest as exc:
            logger.debug("bad request from %s: %s", client, exc.message)
            response = json_response({"error": exc.message}, exc.status)
            writer.write(await self._render(None, response, keep_alive=False))
            await self._drain(writer)
            if self._metrics is not None:
                self._metrics.observe("OTHER", exc.status, time.perf_counter())
            return False
        try:
            return await self._dispatch(request, reader, writer)
        finally:
            conn.busy = False

    async def _dispatch(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        started = time.perf_counter()
        result: Response | SseResponse
        try:
            result = await self.app(request)
            if not isinstance(result, Response | SseResponse):
                raise TypeError(  # noqa: TRY301 - one path for every handler bug
                    f"handler returned {type(result).__name__}; return a Response or SseResponse"
                )
        except HttpError as exc:
            result = error_response(exc)
        except Exception as exc:
            result = internal_error_response(exc, request)
        if isinstance(result, SseResponse):
            if self._metrics is not None:
                self._metrics.observe(request.method, 200, started)
            await self._stream_events(request, result, reader, writer)
            return False
        keep_alive = self._wants_keep_alive(request) and not self._stopping.is_set()
        if result.headers.get("Connection", "").lower() == "close":
            keep_alive = False
        try:
            payload = await self._render(request, result, keep_alive=keep_alive)
        except ValueError as exc:
            result = internal_error_response(exc, request)
            payload = await self._render(request, result, keep_alive=keep_alive)
        writer.write(payload)
        await self._drain(writer)
        if self._metrics is not None:
            self._metrics.observe(request.method, result.status, started)
        logger.debug(
            "%s %s -> %d (%.1f ms)",
            request.method,
            request.raw_path,
            result.status,
            (time.perf_counter() - started) * 1000,
        )
        return keep_alive

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(self.limits.write_timeout):
            await writer.drain()

    async def _render(self, request: Request | None, response: Response, *, keep_alive: bool) -> bytes:
        """The response bytes (HEAD: head only); ``ValueError`` for an invalid header."""
        status = response.status
        body = response.body
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("connection", "content-length")
        }
        lower = {k.lower() for k in headers}
        if response.content_type and "content-type" not in lower:
            headers["Content-Type"] = response.content_type
        if request is not None:
            etag = next((v for k, v in headers.items() if k.lower() == "etag"), None)
            inm = request.headers.get("if-none-match")
            if (
                status == 200
                and etag
                and inm is not None
                and request.method in ("GET", "HEAD")
                and _etag_matches(inm, etag)
            ):
                status, body = 304, b""
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            elif (
                len(body) > _GZIP_MIN
                and status not in _NO_BODY_STATUSES
                and _compressible(response.content_type)
                and "content-encoding" not in lower
            ):
                headers["Vary"] = "Accept-Encoding"
                if _accepts_gzip(request.headers.get("accept-encoding", "")):
                    if len(body) > _GZIP_IN_THREAD:
                        body = await asyncio.to_thread(gzip.compress, body, 6, mtime=0)
                    else:
                        body = gzip.compress(body, 6, mtime=0)
                    headers["Content-Encoding"] = "gzip"
        lines = [f"HTTP/1.1 {status} {_reason(status)}", f"Date: {email.utils.formatdate(usegmt=True)}"]
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name.encode("latin-1")) or any(c in value for c in "\r\n\0"):
                raise ValueError(f"response header {name!r} has a bad name or a line break in its value")
            lines.append(f"{name}: {value}")
        if status not in _NO_BODY_STATUSES and not 100 <= status < 200:
            lines.append(f"Content-Length: {len(body)}")
        else:
            body = b""
        if not keep_alive:
            lines.append("Connection: close")
        elif request is not None and request.http_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if request is None or request.method != "HEAD":
            payload += body
        return payload

    # -- server-sent events ------------------------------------------------------------

    async def _stream_events(
        self,
        request: Request,
        response: SseResponse,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        lines = [
            "HTTP/1.1 200 OK",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            "Content-Type: text/event-stream; charset=utf-8",
            "Cache-Control: no-cache",
            "X-Accel-Buffering: no",
            "Connection: close",
        ]
        lines.extend(f"{k}: {v}" for k, v in response.headers.items())
        iterator = aiter(response.source)
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        tasks: list[asyncio.Task[Any]] = []
        if self._metrics is not None:
            self._metrics.streams.inc()
        try:
            await self._drain(writer)
            if request.method == "HEAD":
                return
            gone = asyncio.create_task(self._wait_disconnect(reader))
            stopping = asyncio.create_task(self._stopping.wait())
            tasks = [gone, stopping]
            pending_next: asyncio.Task[ServerSentEvent | _End] | None = None
            while True:
                if pending_next is None:
                    pending_next = asyncio.create_task(_next_event(iterator))
                    tasks.append(pending_next)
                done, _ = await asyncio.wait(
                    {pending_next, gone, stopping},
                    timeout=response.ping_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if gone in done or stopping in done:
                    break
                if not done:
                    writer.write(b": ping\n\n")
                    await self._drain(writer)
                    continue
                tasks.remove(pending_next)
                item = pending_next.result()
                pending_next = None
                if isinstance(item, _End):
                    break
                writer.write(item.encode())
                await self._drain(writer)
        except (ConnectionError, TimeoutError) as exc:
            logger.debug("event stream to %s ended: %r", request.client, exc)
        except Exception:
            logger.exception("event stream source for %s %s failed", request.method, request.raw_path)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            if self._metrics is not None:
                self._metrics.streams.dec()

    @staticmethod
    async def _wait_disconnect(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
