"""Fixtures of the transport contract suite (helpers live in ``_transport_helpers``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from _transport_helpers import DDS_SKIPS, KINDS, Bus


@pytest.fixture(params=KINDS)
async def bus(request: pytest.FixtureRequest, nats_url: str, unique: str) -> AsyncIterator[Bus]:
    """Participants of the transport under test on a fresh subject root."""
    # -- DDS (optional backend): skip what has no DDS meaning, saying why --------------
    if "dds" in request.param:
        reason = DDS_SKIPS.get(request.node.originalname)
        if reason:
            pytest.skip(f"DDS: {reason}")
    made = Bus(request.param, nats_url, unique)
    yield made
    await made.close()


# -- DDS (optional backend) ---------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def _dds_on_loopback() -> Iterator[None]:
    """DDS traffic of the test session stays on 127.0.0.1 (no multicast), whatever the shell says."""
    try:
        from robotfleet_nodes.transport.dds import LOOPBACK_CONFIG
    except ImportError:
        yield
        return
    previous = os.environ.get("CYCLONEDDS_URI")
    os.environ["CYCLONEDDS_URI"] = LOOPBACK_CONFIG
    yield
    if previous is None:
        os.environ.pop("CYCLONEDDS_URI", None)
    else:
        os.environ["CYCLONEDDS_URI"] = previous
