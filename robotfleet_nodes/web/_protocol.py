"""uvicorn's httptools protocol with the request-head limits uvicorn does not enforce itself.

uvicorn (0.55) parses with httptools but puts no bound on the request head: a client may send
20 KB of headers, 200 header fields, or half a header and then nothing, for as long as it
likes. :func:`limited_protocol` returns a subclass of ``HttpToolsProtocol`` that

- drops a connection whose request head is not complete ``header_timeout`` seconds after the
  connection opened or the request's first bytes arrived (``408`` if part of a head came;
  the timer is armed only while a head is incomplete, so a whole head costs none);
- answers ``431`` and closes when the request line plus headers exceed ``max_header_bytes``
  or there are more than ``max_headers`` header fields.

It overrides only httptools' parser callbacks and ``asyncio.Protocol`` methods, each calling
the parent; the names it relies on are checked by :func:`check_uvicorn` at server start.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from robotfleet_nodes.errors import RobotFleetError

__all__ = ["HeadLimits", "check_uvicorn", "limited_protocol"]

logger = logging.getLogger(__name__)

#: uvicorn names this module and the server use; a uvicorn without one of them is refused.
_PROTOCOL_METHODS = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "send_400_response",
)
_SERVER_NAMES = ("startup", "main_loop", "shutdown", "should_exit", "server_state")


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadLimits:
    """Bounds on one request head (request line and header fields)."""

    header_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100


class _HeadRejected(Exception):
    """Raised from a parser callback to stop parsing; the protocol answers ``status``."""


def check_uvicorn(server: uvicorn.Server) -> None:
    """Refuse to run on a uvicorn whose protocol or ``server`` lacks a name we rely on."""
    missing = [n for n in _PROTOCOL_METHODS if not callable(getattr(HttpToolsProtocol, n, None))]
    missing += [f"Server.{n}" for n in _SERVER_NAMES if not hasattr(server, n)]
    if missing:
        raise RobotFleetError(
            f"uvicorn {uvicorn.__version__} lacks {', '.join(missing)}; "
            "install the version constraints.txt pins (pip install -c constraints.txt -e .)"
        )


class _LimitedProtocol(HttpToolsProtocol):
    limits: HeadLimits = HeadLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_fields = 0
        self._head_started = False
        self._rejection: tuple[int, str] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- httptools callbacks -------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # A head that arrived whole (the usual case) needs no timer; only a partial one does.
        if self._head_started and self._head_timer is None and not self.transport.is_closing():
            self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._head_fields = 0
        self._head_started = True

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > self.limits.max_headers:
            self._reject(431, f"more than {self.limits.max_headers} header fields")
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_started = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error; ours when a callback rejected the head."""
        if self._rejection is None:
            super().send_400_response(msg)
            return
        status, message = self._rejection
        self._send_error(status, message)

    # -- machinery -----------------------------------------------------------------------
    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self.limits.max_header_bytes:
            self._reject(431, f"request line and headers exceed {self.limits.max_header_bytes} bytes")

    def _reject(self, status: int, message: str) -> None:
        self._rejection = (status, message)
        raise _HeadRejected(message)

    def _send_error(self, status: int, message: str) -> None:
        body = json.dumps({"error": message}, separators=(",", ":")).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode("latin-1")
        logger.debug("rejected a request from %s: %d %s", self.client, status, message)
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_started:
            self._send_error(408, "timed out waiting for the request headers")
        else:
            self.transport.close()


_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


def limited_protocol(limits: HeadLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol class with ``limits`` enforced (``Config(http=...)``)."""
    return type("LimitedHttpToolsProtocol", (_LimitedProtocol,), {"limits": limits})
