"""Fixtures of the transport contract suite (helpers live in ``_transport_helpers``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _transport_helpers import KINDS, Bus


@pytest.fixture(params=KINDS)
async def bus(request: pytest.FixtureRequest, nats_url: str, unique: str) -> AsyncIterator[Bus]:
    """Participants of the transport under test on a fresh subject root."""
    made = Bus(request.param, nats_url, unique)
    yield made
    await made.close()
