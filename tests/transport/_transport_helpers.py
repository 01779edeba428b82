"""Helpers of the transport contract suite: test types, endpoints, and :class:`Bus`.

The suite runs against each transport: ``nats``, ``nats-public`` (the NATS transport on
nats-py's public API only, its fallback), ``intra+nats``, ``intra``.

``bus`` makes participants on a fresh subject root (``SubjectMapper(root=unique)``).
With ``intra`` (a pure in-process bus) every participant is the same instance: the whole
test is one process; tests that need a broker or separate participants skip, saying why.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import type_hash_of
from robotfleet_nodes.node.qos import QoSProfile
from robotfleet_nodes.transport import EndpointInfo, IntraProcessTransport, NatsTransport, Transport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

_REGISTRY = default_registry()
_REGISTRY.add_text("rfos_transport_test/msg/Other", "string data\nint32 x\n")
_REGISTRY.add_text("rfos_transport_test/srv/AddTwoInts", "int64 a\nint64 b\n---\nint64 sum\nstring who\n")

#: A message type with another hash than ``std_msgs/msg/String``.
Other: Any = _REGISTRY.get_class("rfos_transport_test/msg/Other")
#: A service type: ``a`` + ``b`` -> ``sum``, ``who`` answered.
AddTwoInts: Any = _REGISTRY.get_interface("rfos_transport_test/srv/AddTwoInts")

KINDS: tuple[str, ...] = ("nats", "nats-public", "intra+nats", "intra")

# -- DDS (optional backend) ---------------------------------------------------------------
try:
    from robotfleet_nodes.transport.dds import DdsTransport
except ImportError:  # the dds extra is not installed
    DdsTransport = None  # type: ignore[assignment,misc]
else:
    KINDS += ("dds", "intra+dds")

#: Contract tests without a DDS meaning, and why (``conftest.py`` skips them on DDS).
DDS_SKIPS: dict[str, str] = {
    "test_malformed_payload_is_counted_and_skipped": "the test publishes garbage with a raw NATS client",
    "test_type_mismatch_is_counted_and_not_delivered": (
        "DDS never matches a writer of another type, so nothing reaches the reader to count"
    ),
    "test_service_handler_exception_is_raised_at_the_client": (
        "ROS 2's DDS service mapping has no error reply (the client times out, as with rclpy)"
    ),
    "test_two_replicas_share_load": (
        "ROS 2 DDS services have no load sharing: every server answers, the first reply wins"
    ),
    "test_announce_publishes_a_graph_changed_event": "graph events go through the NATS broker",
    "test_broker_restart_mid_stream": "DDS has no broker to restart",
    "test_publish_while_disconnected_is_buffered": "DDS has no broker to lose",
}


def endpoint(name: str, cls: Any, qos: QoSProfile | None = None) -> EndpointInfo:
    """An endpoint for ``cls`` (message or service class) on ``name``."""
    type_hash = type_hash_of(cls) if hasattr(cls, "model_fields") else type_hash_of(cls.Request)
    return EndpointInfo(name=name, type_name=cls.__ros_type__, type_hash=type_hash, qos=qos or QoSProfile())


class Bus:
    """Participants of one kind on one subject root; closes them all at the end."""

    def __init__(self, kind: str, url: str, root: str) -> None:
        self.kind = kind
        self.url = url
        self.root = root
        self._made: list[Transport] = []
        self._pure: IntraProcessTransport | None = None
        self._dds_domain: int | None = None

    @property
    def has_broker(self) -> bool:
        return self.kind != "intra"

    def require_broker(self, why: str) -> None:
        """Skip on the pure in-process bus, which has no broker."""
        if not self.has_broker:
            pytest.skip(f"pure intra-process bus has no broker: {why}")

    async def new(self, *, url: str | None = None, reconnect_wait: float = 1.0) -> Transport:
        """A new participant (on ``intra``: the one process-wide bus)."""
        if self.kind in ("dds", "intra+dds"):
            return await self._new_dds()
        if self.kind == "intra":
            if self._pure is None:
                self._pure = IntraProcessTransport()
                self._made.append(self._pure)
                await self._pure.connect()
            return self._pure
        nats = NatsTransport(
            url or self.url,
            mapper=SubjectMapper(root=self.root),
            name=f"test-{self.kind}",
            reconnect_wait=reconnect_wait,
            fast_path=self.kind != "nats-public",
        )
        transport: Transport = nats if self.kind.startswith("nats") else IntraProcessTransport(nats)
        self._made.append(transport)
        await transport.connect()
        return transport

    async def _new_dds(self) -> Transport:
        """A DDS participant on this bus's own random domain (tests never see each other)."""
        assert DdsTransport is not None
        if self._dds_domain is None:
            self._dds_domain = random.randint(1, 200)
        dds = DdsTransport(self._dds_domain)
        transport: Transport = dds if self.kind == "dds" else IntraProcessTransport(dds)
        self._made.append(transport)
        await transport.connect()
        return transport

    async def close(self) -> None:
        for transport in self._made:
            await transport.close()


async def synced(client: Any, timeout: float = 5.0) -> None:
    """Return once the server has processed everything the nats-py ``client`` sent.

    nats-py's own ``flush()`` writes its PING ahead of commands still queued for its
    flusher (a SUB just made), so its PONG proves nothing about them. A message to a
    private inbox does: the server handles one connection's commands in order.
    """
    inbox = client.new_inbox()
    sub = await client.subscribe(inbox, max_msgs=1)
    await client.publish(inbox, b"")
    await sub.next_msg(timeout=timeout)
