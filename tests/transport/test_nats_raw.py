"""NatsTransport's raw methods (what bags, the CLI and the fleet use), on both client paths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from _transport_helpers import synced
from nats import errors as nats_errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.transport.nats import NatsTransport, RawPublisher
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

TIMEOUT = 5.0


@pytest.fixture(params=[True, False], ids=["fast", "public"])
async def transport(
    request: pytest.FixtureRequest, nats_url: str, unique: str
) -> AsyncIterator[NatsTransport]:
    made = NatsTransport(nats_url, mapper=SubjectMapper(root=unique), fast_path=request.param)
    await made.connect()
    yield made
    await made.close()


@pytest.fixture
async def peer(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


async def test_raw_publisher_sends_bytes_with_its_headers(
    transport: NatsTransport, peer: Client, subject: str
) -> None:
    sub = await peer.subscribe(subject)
    await synced(peer)
    raw = await transport.raw_publisher(subject, {"rfos-type": "x/msg/Y"})
    assert isinstance(raw, RawPublisher)
    await raw.publish(b"one")
    await (await transport.raw_publisher(subject)).publish(b"two")
    first, second = [await sub.next_msg(timeout=TIMEOUT) for _ in range(2)]
    assert (first.data, first.headers) == (b"one", {"rfos-type": "x/msg/Y"})
    assert second.data == b"two"
    assert not second.headers


async def test_raw_publisher_refuses_a_bad_subject(transport: NatsTransport) -> None:
    with pytest.raises(nats_errors.BadSubjectError):
        await transport.raw_publisher("a b")


async def test_subscribe_raw_and_inline_are_known_to_the_server_on_return(
    transport: NatsTransport, peer: Client, subject: str
) -> None:
    got: list[Msg] = []
    inline: list[tuple[bytes, bytes, dict[str, str] | None]] = []
    both = asyncio.Event()

    async def on_msg(msg: Msg) -> None:
        got.append(msg)
        if inline:
            both.set()

    def on_inline(reply: bytes, data: bytes, headers: dict[str, str] | None) -> None:
        inline.append((reply, data, headers))
        if got:
            both.set()

    raw_sub = await transport.subscribe_raw(f"{subject}.>", on_msg, pending_msgs_limit=10)
    inline_sub = await transport.subscribe_inline(f"{subject}.b", on_inline)
    # No wait in between: the subscriptions must already be on the server.
    await peer.publish(f"{subject}.b", b"x", headers={"k": "v"})
    await asyncio.wait_for(both.wait(), TIMEOUT)
    assert (got[0].subject, got[0].data) == (f"{subject}.b", b"x")
    assert inline[0][1:] == (b"x", {"k": "v"})
    await raw_sub.unsubscribe()
    await inline_sub.unsubscribe()


async def test_request_and_flush(transport: NatsTransport, peer: Client, subject: str) -> None:
    async def answer(msg: Any) -> None:
        await msg.respond(b"pong:" + msg.data)

    await peer.subscribe(subject, cb=answer)
    await synced(peer)
    reply = await transport.request(subject, b"ping", timeout=TIMEOUT)
    assert reply.data == b"pong:ping"
    with pytest.raises(nats_errors.NoRespondersError):
        await transport.request(f"{subject}.nobody", timeout=TIMEOUT)
    sub = await peer.subscribe(f"{subject}.after")
    await synced(peer)
    raw = await transport.raw_publisher(f"{subject}.after")
    await raw.publish(b"1")
    await transport.flush(TIMEOUT)  # the server has it: the peer gets it without our help
    assert (await sub.next_msg(timeout=TIMEOUT)).data == b"1"


async def test_jetstream_and_server_info(transport: NatsTransport, broker: Any) -> None:
    account = await transport.jetstream().account_info()
    assert account.streams >= 0
    info = transport.server_info()
    assert info.url == broker.url.removeprefix("nats://")
    assert info.version.count(".") == 2 and info.version[0].isdigit()
    assert info.max_payload > 0


def test_raw_methods_before_connect_say_what_to_do(nats_url: str) -> None:
    transport = NatsTransport(nats_url)
    with pytest.raises(TransportError, match="connect"):
        transport.jetstream()
    with pytest.raises(TransportError, match="connect"):
        transport.server_info()
