"""The NATS transport (default): core NATS for topics and services, JetStream for latched topics."""

from __future__ import annotations

from robotfleet_nodes.transport.nats._client import RfosClient
from robotfleet_nodes.transport.nats._raw import RawPublisher, ServerInfo
from robotfleet_nodes.transport.nats._transport import DEFAULT_RECONNECT_BUFFER, NatsTransport

__all__ = ["DEFAULT_RECONNECT_BUFFER", "NatsTransport", "RawPublisher", "RfosClient", "ServerInfo"]
