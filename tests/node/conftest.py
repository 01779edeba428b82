"""Fixtures for node-layer tests: a context on the session's broker with a fresh subject root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from _node_helpers import ContextFactory

from robotfleet_nodes.node.context import Context
from robotfleet_nodes.transport import IntraProcessTransport, NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper


@pytest.fixture
def make_context(nats_url: str, unique: str) -> ContextFactory:
    """``async with make_context() as ctx``: a context as its own participant (process).

    Each call is a separate NATS connection on the test's subject root, so two contexts
    behave like two processes; ``intra=True`` adds the intra-process path in front.
    """

    @asynccontextmanager
    async def factory(*, intra: bool = False, args: list[str] | None = None) -> AsyncIterator[Context]:
        nats = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
        transport = IntraProcessTransport(nats) if intra else nats
        context = Context(transport=transport, args=args)
        try:
            async with context:
                yield context
        finally:
            await transport.close()

    return factory
