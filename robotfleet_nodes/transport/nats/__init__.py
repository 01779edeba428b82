"""The NATS transport (default): core NATS for topics and services, JetStream for latched topics.

Besides :class:`NatsTransport`, the wire format's header names (``H_*``, the ``rfos-*``
headers every message carries) and the pre-encoded publish framing (``encode_block``,
``hpub_prefix``) are public for tools that read or write raw NATS messages (``rfos bag``),
and so is the reassembly of messages sent in chunks (``ChunkAssembler``, ``reassembling``).
"""

from __future__ import annotations

from robotfleet_nodes.transport.nats._chunks import ChunkAssembler, reassembling
from robotfleet_nodes.transport.nats._client import RfosClient
from robotfleet_nodes.transport.nats._headers import (
    H_CHUNK,
    H_ENC,
    H_ERROR,
    H_GID,
    H_HASH,
    H_PROBE,
    H_QOS,
    H_TYPE,
)
from robotfleet_nodes.transport.nats._raw import RawPublisher, ServerInfo
from robotfleet_nodes.transport.nats._transport import DEFAULT_RECONNECT_BUFFER, NatsTransport

__all__ = [
    "DEFAULT_RECONNECT_BUFFER",
    "H_CHUNK",
    "H_ENC",
    "H_ERROR",
    "H_GID",
    "H_HASH",
    "H_PROBE",
    "H_QOS",
    "H_TYPE",
    "ChunkAssembler",
    "NatsTransport",
    "RawPublisher",
    "RfosClient",
    "ServerInfo",
    "reassembling",
]
