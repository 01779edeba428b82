"""Server-Sent Events: the event type, the streaming response and a fan-out hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable, Hashable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._guard import CONTEXT_KEY, ServerContext
from ._response import json_text

__all__ = [
    "Broadcaster",
    "ServerSentEvent",
    "SseResponse",
    "Subscription",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One SSE event; ``data`` that is not a string is sent as compact JSON."""

    data: str | dict[str, Any] | list[Any] | BaseModel = ""
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    def __post_init__(self) -> None:
        for name in ("event", "id"):
            value = getattr(self, name)
            if value is not None and ("\n" in value or "\r" in value or "\0" in value):
                raise ValueError(f"ServerSentEvent.{name} must not contain line breaks or NUL")
        if self.retry is not None and self.retry < 0:
            raise ValueError(f"ServerSentEvent.retry must be >= 0 ms, got {self.retry}")

    def encode(self) -> bytes:
        """The wire form: ``event:``/``id:``/``retry:``/``data:`` lines and a blank line."""
        lines: list[str] = []
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        data = self.data
        if isinstance(data, BaseModel):
            text = data.model_dump_json()
        elif isinstance(data, str):
            text = data
        else:
            text = json_text(data)  # never NaN/Infinity: one would break the client's parser
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(text))
        return ("\n".join(lines) + "\n\n").encode()


class SseResponse(Response):
    """Return from a handler to stream ``source`` as ``text/event-stream``.

    Sends ``: ping`` every ``ping_interval`` seconds while the source is quiet, and stops
    (closing the source) when the client disconnects, the server stops, or a write stays
    blocked for ``write_timeout`` seconds (a client that stopped reading).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        source: AsyncIterable[ServerSentEvent],
        *,
        ping_interval: float = 15.0,
        write_timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if ping_interval <= 0:
            raise ValueError(f"ping_interval must be > 0 s, got {ping_interval}")
        super().__init__(
            None, 200, {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})}
        )
        self.source = source
        self.ping_interval = ping_interval
        self.write_timeout = write_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = scope.get("state", {}).get(CONTEXT_KEY)
        stopping = context.stopping if isinstance(context, ServerContext) else asyncio.Event()
        metrics = context.metrics if isinstance(context, ServerContext) else None
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        iterator = aiter(self.source)
        tasks: list[asyncio.Task[Any]] = []
        if metrics is not None:
            metrics.streams.inc()
        try:
            async with asyncio.timeout(self.write_timeout):
                await send({"type": "http.response.start", "status": 200, "headers": headers})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            gone = asyncio.create_task(_wait_disconnect(receive))
            stop = asyncio.create_task(stopping.wait())
            tasks = [gone, stop]
            pending: asyncio.Task[ServerSentEvent | None] | None = None
            while True:
                if pending is None:
                    pending = asyncio.create_task(_next_event(iterator))
                    tasks.append(pending)
                done, _ = await asyncio.wait(
                    {pending, gone, stop}, timeout=self.ping_interval, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done or stop in done:
                    break
                chunk = _PING
                if done:
                    tasks.remove(pending)
                    item, pending = pending.result(), None
                    if item is None:
                        break
                    chunk = item.encode()
                async with asyncio.timeout(self.write_timeout):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not gone.done():
                await send({"type": "http.response.body", "body": b""})
        except (OSError, TimeoutError) as exc:
            logger.debug("event stream ended: %r", exc)
        except Exception:
            logger.exception("event stream source for %s failed", scope.get("path"))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            if metrics is not None:
                metrics.streams.dec()


_PING = b": ping\n\n"


async def _next_event(iterator: AsyncIterator[ServerSentEvent]) -> ServerSentEvent | None:
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return None


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class Subscription(Generic[T]):
    """One subscriber's bounded queue; iterate it with ``async for``.

    Iteration ends when the subscription is closed, the broadcaster closes, or the
    subscriber fell more than ``max_queue`` events behind (then :attr:`overflowed` is true).
    """

    def __init__(self, hub: Broadcaster[T], max_queue: int) -> None:
        self._hub = hub
        self._max_queue = max_queue
        self._queue: OrderedDict[Hashable, T] = OrderedDict()
        self._wakeup = asyncio.Event()
        self.closed = False
        self.overflowed = False

    def __len__(self) -> int:
        return len(self._queue)

    def _offer(self, event: T, key: Hashable | None, merge: Callable[[T, T], T] | None = None) -> bool:
        """Queue ``event``; False if the queue is full (the caller disconnects us)."""
        slot: Hashable = object() if key is None else (_Keyed, key)
        if key is not None and slot in self._queue:
            # coalesce: keep its place, carry the newest value (or what ``merge`` makes of both)
            self._queue[slot] = event if merge is None else merge(self._queue[slot], event)
        elif len(self._queue) >= self._max_queue:
            return False
        else:
            self._queue[slot] = event
        self._wakeup.set()
        return True

    def _end(self, *, overflowed: bool = False) -> None:
        self.closed = True
        self.overflowed = self.overflowed or overflowed
        if overflowed:
            self._queue.clear()
        self._wakeup.set()

    def close(self) -> None:
        """Unsubscribe; pending events are dropped and iteration ends."""
        if not self.closed:
            self._hub._remove(self)
            self._end()
            self._queue.clear()

    async def aclose(self) -> None:
        """Async form of :meth:`close` (called when a stream stops)."""
        self.close()

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popitem(last=False)[1]

    async def __aenter__(self) -> Subscription[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Keyed:
    """Namespace marker so coalescing keys never collide with unkeyed slots."""


class Broadcaster(Generic[T]):
    """Fan-out hub: :meth:`publish` never blocks; slow subscribers are disconnected.

    Each subscriber has a queue of at most ``max_queue`` events. ``publish(event, key=k)``
    replaces a still-queued event with the same key (or merges the two, see :meth:`publish`),
    so a slow reader gets the latest state per key instead of a backlog. A subscriber whose
    queue would overflow is disconnected and counted in :attr:`overflow_disconnects`.
    """

    def __init__(self, *, max_queue: int = 1000) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self._max_queue = max_queue
        self._subscribers: dict[Subscription[T], None] = {}
        self.overflow_disconnects = 0
        self.published = 0

    @property
    def subscriber_count(self) -> int:
        """Number of live subscriptions."""
        return len(self._subscribers)

    def subscribe(self) -> Subscription[T]:
        """A new subscription receiving every event published from now on."""
        sub = Subscription(self, self._max_queue)
        self._subscribers[sub] = None
        return sub

    def publish(
        self, event: T, *, key: Hashable | None = None, merge: Callable[[T, T], T] | None = None
    ) -> None:
        """Queue ``event`` for every subscriber (O(1) each); never blocks or raises.

        ``merge(queued, event)`` (keyed events only) is what a subscriber gets instead when
        an event with the same key is still queued for it; by default the newer ``event``
        replaces it. Use it when ``event`` alone does not carry the full state of its key
        (a delta): ``merge`` then returns an event that does.
        """
        self.published += 1
        overflowed: list[Subscription[T]] = []
        for sub in self._subscribers:
            if not sub._offer(event, key, merge):
                overflowed.append(sub)
        for sub in overflowed:
            self._remove(sub)
            sub._end(overflowed=True)
            self.overflow_disconnects += 1
            logger.warning("disconnected a slow subscriber: more than %d events behind", self._max_queue)

    def close(self) -> None:
        """End every subscription (their iterations stop after queued events)."""
        subs = list(self._subscribers)
        self._subscribers.clear()
        for sub in subs:
            sub._end()

    def _remove(self, sub: Subscription[T]) -> None:
        self._subscribers.pop(sub, None)
