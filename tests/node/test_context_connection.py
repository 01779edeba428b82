"""A context's connection state as its nodes' code sees it: a real broker killed and restarted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.transport import ConnectionState, NatsTransport

WAIT = 15.0


async def next_state(queue: asyncio.Queue[ConnectionState]) -> ConnectionState:
    return await asyncio.wait_for(queue.get(), WAIT)


async def test_listener_sees_the_broker_go_and_come_back(tmp_path: Path) -> None:
    async with EmbeddedBroker(store_dir=tmp_path) as broker:
        context = Context(url=broker.url, enable_rosout=False)
        states: asyncio.Queue[ConnectionState] = asyncio.Queue()
        from_async: asyncio.Queue[ConnectionState] = asyncio.Queue()

        async def async_listener(state: ConnectionState) -> None:
            await from_async.put(state)

        context.add_connection_listener(states.put_nowait)  # before start: sees CONNECTED too
        context.add_connection_listener(async_listener)
        assert context.connection_state is ConnectionState.NEW
        async with context:
            assert await next_state(states) is ConnectionState.CONNECTED
            assert context.connection_state is ConnectionState.CONNECTED
            await asyncio.to_thread(broker.kill)
            assert await next_state(states) is ConnectionState.DISCONNECTED
            assert context.connection_state is ConnectionState.DISCONNECTED
            assert not context.connection_state.is_up
            await asyncio.to_thread(broker.restart)
            assert await next_state(states) is ConnectionState.RECONNECTED
            assert context.connection_state.is_up
        assert await next_state(states) is ConnectionState.CLOSED
        assert context.connection_state is ConnectionState.CLOSED
        expected = [
            ConnectionState.CONNECTED,
            ConnectionState.DISCONNECTED,
            ConnectionState.RECONNECTED,
            ConnectionState.CLOSED,
        ]
        assert [await next_state(from_async) for _ in expected] == expected
        assert states.empty()


async def test_removed_listener_is_not_called(tmp_path: Path) -> None:
    async with EmbeddedBroker(store_dir=tmp_path) as broker:
        transport = NatsTransport(broker.url, reconnect_wait=0.1)
        context = Context(transport=transport, enable_rosout=False)
        kept: asyncio.Queue[ConnectionState] = asyncio.Queue()
        dropped: asyncio.Queue[ConnectionState] = asyncio.Queue()
        async with context:
            context.add_connection_listener(kept.put_nowait)
            context.add_connection_listener(dropped.put_nowait).remove()
            await asyncio.to_thread(broker.kill)
            assert await next_state(kept) is ConnectionState.DISCONNECTED
        # the context did not own the transport: it reports CLOSED, the transport is still open
        assert await next_state(kept) is ConnectionState.CLOSED
        assert transport.connection_state is ConnectionState.DISCONNECTED
        await transport.close()
        assert transport.connection_state is ConnectionState.CLOSED
        assert dropped.empty()
