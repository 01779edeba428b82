"""Server-Sent Events over real sockets, and the Broadcaster fan-out hub."""

from __future__ import annotations

import asyncio
import http.client
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from robotfleet_nodes.web import (
    App,
    Broadcaster,
    HttpServer,
    Request,
    ServerSentEvent,
    SseResponse,
)

TIMEOUT = 5.0


@pytest.fixture
async def sse() -> AsyncIterator[dict[str, Any]]:
    app = App()
    hub: Broadcaster[ServerSentEvent] = Broadcaster(max_queue=100)
    ctx: dict[str, Any] = {"hub": hub, "closed": asyncio.Event(), "subscribed": asyncio.Event()}

    @app.get("/events/fixed")
    async def fixed(req: Request) -> SseResponse:
        async def source() -> AsyncIterator[ServerSentEvent]:
            yield ServerSentEvent({"n": 1}, event="robot", id="1")
            yield ServerSentEvent("two\nlines", id="2", retry=500)
            yield ServerSentEvent("resume", id=req.headers.get("last-event-id", "none"))

        return SseResponse(source())

    @app.get("/events/live")
    async def live(req: Request) -> SseResponse:
        async def source() -> AsyncIterator[ServerSentEvent]:
            try:
                async with hub.subscribe() as sub:
                    ctx["subscribed"].set()
                    async for event in sub:
                        yield event
            finally:
                ctx["closed"].set()

        return SseResponse(source(), ping_interval=float(req.query_params.get("ping", "15")))

    async with HttpServer(app, "127.0.0.1", 0) as server:
        ctx["server"] = server
        yield ctx


class EventReader:
    """Reads an event stream off a raw socket: HTTP/1.1 chunked framing, then SSE blocks."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.buffer = b""

    async def _chunk(self) -> bool:
        size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
        data = await self.reader.readexactly(size + 2)
        self.buffer += data[:-2]
        return size > 0

    async def next_block(self) -> str:
        """One SSE block (event or comment) without its terminating blank line."""
        while b"\n\n" not in self.buffer:
            if not await asyncio.wait_for(self._chunk(), TIMEOUT):
                raise EOFError(f"stream ended with {self.buffer!r} unread")
        block, _, self.buffer = self.buffer.partition(b"\n\n")
        return block.decode()

    async def end(self) -> None:
        """Wait for the last chunk; fails if another event comes first."""
        while await asyncio.wait_for(self._chunk(), TIMEOUT):
            pass
        assert self.buffer == b""


async def open_stream(
    port: int, path: str, headers: str = ""
) -> tuple[EventReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n{headers}\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    return EventReader(reader), writer, head


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


async def test_events_arrive_in_order_and_stream_ends(sse: dict[str, Any]) -> None:
    events, writer, head = await open_stream(sse["server"].port, "/events/fixed", "Last-Event-ID: 41\r\n")
    try:
        text = head.decode().lower()
        assert text.startswith("http/1.1 200 ")
        assert "content-type: text/event-stream; charset=utf-8\r\n" in text
        assert "cache-control: no-cache\r\n" in text
        assert "content-encoding" not in text
        assert await events.next_block() == 'event: robot\nid: 1\ndata: {"n":1}'
        assert await events.next_block() == "id: 2\nretry: 500\ndata: two\ndata: lines"
        assert await events.next_block() == "id: 41\ndata: resume"
        await events.end()
    finally:
        await close(writer)


async def test_stream_is_readable_with_http_client(sse: dict[str, Any]) -> None:
    def read_all(port: int) -> tuple[int, str, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/events/fixed", headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type", ""), resp.read()
        finally:
            conn.close()

    status, content_type, body = await asyncio.to_thread(read_all, sse["server"].port)
    assert (status, content_type) == (200, "text/event-stream; charset=utf-8")
    assert body.count(b"\n\n") == 3
    assert body.endswith(b"id: none\ndata: resume\n\n")


async def test_keep_alive_ping_when_quiet(sse: dict[str, Any]) -> None:
    events, writer, _ = await open_stream(sse["server"].port, "/events/live?ping=0.05")
    try:
        assert await events.next_block() == ": ping"
        sse["hub"].publish(ServerSentEvent("hello", event="note"))
        block = await events.next_block()
        while block == ": ping":
            block = await events.next_block()
        assert block == "event: note\ndata: hello"
    finally:
        await close(writer)


async def test_client_disconnect_cleans_up_subscriber(
    sse: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    hub: Broadcaster[ServerSentEvent] = sse["hub"]
    with caplog.at_level(logging.DEBUG, logger="robotfleet_nodes.web"):
        events, writer, _ = await open_stream(sse["server"].port, "/events/live")
        await asyncio.wait_for(sse["subscribed"].wait(), TIMEOUT)
        assert hub.subscriber_count == 1
        hub.publish(ServerSentEvent("one"))
        assert await events.next_block() == "data: one"
        await close(writer)
        await asyncio.wait_for(sse["closed"].wait(), TIMEOUT)
    assert hub.subscriber_count == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    status_ok = await asyncio.to_thread(_get_status, sse["server"].port, "/events/fixed")
    assert status_ok == 200


def _get_status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


async def test_server_stop_ends_streams() -> None:
    app = App()
    hub: Broadcaster[ServerSentEvent] = Broadcaster()
    subscribed = asyncio.Event()

    @app.get("/events")
    async def events(req: Request) -> SseResponse:
        sub = hub.subscribe()
        subscribed.set()
        return SseResponse(sub)

    server = HttpServer(app, "127.0.0.1", 0, shutdown_timeout=TIMEOUT)
    await server.start()
    stream, writer, _ = await open_stream(server.port, "/events")
    await asyncio.wait_for(subscribed.wait(), TIMEOUT)
    await asyncio.wait_for(server.stop(), TIMEOUT)
    await stream.end()
    assert await asyncio.wait_for(stream.reader.read(), TIMEOUT) == b""
    assert hub.subscriber_count == 0
    await close(writer)


async def test_broadcaster_disconnects_slow_subscriber_without_blocking() -> None:
    hub: Broadcaster[int] = Broadcaster(max_queue=3)
    slow = hub.subscribe()
    fast = hub.subscribe()
    received: list[int] = []
    for i in range(3):
        hub.publish(i)
        received.append(await anext(fast))
    hub.publish(3)  # slow now holds 0, 1, 2 and cannot take 3
    assert slow.overflowed
    assert hub.overflow_disconnects == 1
    assert hub.subscriber_count == 1
    assert [event async for event in slow] == []
    received.append(await anext(fast))
    assert received == [0, 1, 2, 3]
    fast.close()
    assert hub.subscriber_count == 0


async def test_broadcaster_coalesces_by_key() -> None:
    hub: Broadcaster[tuple[str, int]] = Broadcaster(max_queue=3)
    sub = hub.subscribe()
    for version in range(100):
        for robot in ("r1", "r2", "r3"):
            hub.publish((robot, version), key=robot)
    assert (len(sub), hub.overflow_disconnects) == (3, 0)
    hub.publish(("note", 0))  # unkeyed: overflows the full queue
    assert sub.overflowed
    sub2 = hub.subscribe()
    hub.publish(("r1", 1), key="r1")
    hub.publish(("alert", 0))
    hub.publish(("r1", 2), key="r1")
    hub.close()
    assert [event async for event in sub2] == [("r1", 2), ("alert", 0)]


async def test_broadcaster_merges_a_queued_event_with_a_delta() -> None:
    """A delta must not replace a queued event it does not contain: ``merge`` combines them."""
    hub: Broadcaster[dict[str, int]] = Broadcaster(max_queue=10)
    slow, fresh = hub.subscribe(), hub.subscribe()

    def merge(queued: dict[str, int], delta: dict[str, int]) -> dict[str, int]:
        return {**queued, **delta}

    hub.publish({"r1": 80, "r2": 70}, key="zone-1")
    assert await anext(fresh) == {"r1": 80, "r2": 70}  # the fresh reader took it already
    hub.publish({"r2": 42}, key="zone-1", merge=merge)
    hub.publish({"r1": 79}, key="zone-1", merge=merge)
    hub.close()
    assert [event async for event in slow] == [{"r1": 79, "r2": 42}], "one event with both changes"
    assert [event async for event in fresh] == [{"r2": 42, "r1": 79}]  # its queue merged the two deltas


async def test_subscription_waits_for_publish() -> None:
    hub: Broadcaster[str] = Broadcaster()
    sub = hub.subscribe()
    waiter = asyncio.ensure_future(anext(sub))
    await asyncio.sleep(0)
    assert not waiter.done()
    hub.publish("x")
    assert await asyncio.wait_for(waiter, TIMEOUT) == "x"
    sub.close()


def test_event_encoding_and_validation() -> None:
    assert ServerSentEvent("a\r\nb\rc").encode() == b"data: a\ndata: b\ndata: c\n\n"
    assert ServerSentEvent({"k": [1, 2]}, event="e").encode() == b'event: e\ndata: {"k":[1,2]}\n\n'
    assert ServerSentEvent("").encode() == b"data: \n\n"
    with pytest.raises(ValueError, match="line breaks"):
        ServerSentEvent("x", event="a\nb")
    with pytest.raises(ValueError, match="ping_interval"):
        SseResponse(Broadcaster[ServerSentEvent]().subscribe(), ping_interval=0)
