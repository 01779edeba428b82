"""Transports: the :class:`Transport` interface and its NATS and intra-process implementations.

``NatsTransport`` is the default; ``IntraProcessTransport(inner)`` composes nodes of one
process without serialization and forwards everything to ``inner`` for remote peers.
"""

from __future__ import annotations

from robotfleet_nodes.transport._base import (
    UNKNOWN_NODE_NAME,
    UNKNOWN_NODE_NAMESPACE,
    ClientHandle,
    DeadlineCallback,
    EndpointInfo,
    EntityStats,
    LivelinessCallback,
    MessageCallback,
    MessageLostCallback,
    NodeInfo,
    ParticipantInfo,
    PublisherHandle,
    RequestHandler,
    ServiceHandle,
    SubscriptionHandle,
    SubscriptionStats,
    Transport,
)
from robotfleet_nodes.transport._connection import (
    ConnectionEvents,
    ConnectionListener,
    ConnectionListenerHandle,
    ConnectionState,
)
from robotfleet_nodes.transport._encoding import AUTO, EncodingOption
from robotfleet_nodes.transport._errors import RemoteServiceError
from robotfleet_nodes.transport.intra import IntraProcessTransport
from robotfleet_nodes.transport.nats import NatsTransport

__all__ = [
    "AUTO",
    "UNKNOWN_NODE_NAME",
    "UNKNOWN_NODE_NAMESPACE",
    "ClientHandle",
    "ConnectionEvents",
    "ConnectionListener",
    "ConnectionListenerHandle",
    "ConnectionState",
    "DeadlineCallback",
    "EncodingOption",
    "EndpointInfo",
    "EntityStats",
    "IntraProcessTransport",
    "LivelinessCallback",
    "MessageCallback",
    "MessageLostCallback",
    "NatsTransport",
    "NodeInfo",
    "ParticipantInfo",
    "PublisherHandle",
    "RemoteServiceError",
    "RequestHandler",
    "ServiceHandle",
    "SubscriptionHandle",
    "SubscriptionStats",
    "Transport",
]
