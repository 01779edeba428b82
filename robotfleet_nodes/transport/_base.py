"""The contract between nodes and a message bus.

A :class:`Transport` carries typed messages for the node layer: publishers and
subscriptions on topics, service servers and clients, and the graph (which nodes exist
and what they offer). It works in ROS names (``/robots/robot-1/status``), not in
subjects: each implementation maps names onto its own bus (NATS subjects, DDS topics
``rt/...``, or in-process queues). Actions, parameters and lifecycle are built by the
node layer from topics and services, exactly as rcl does, so a transport never sees them.

Implementations: :mod:`robotfleet_nodes.transport.nats` (default),
:mod:`robotfleet_nodes.transport.intra` (nodes composed in one process), and the DDS
backend. One contract test suite (``tests/transport/``) runs against each.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport._connection import (
    ConnectionListener,
    ConnectionListenerHandle,
    ConnectionState,
)

if TYPE_CHECKING:
    from robotfleet_nodes.transport._encoding import EncodingOption

__all__ = [
    "UNKNOWN_NODE_NAME",
    "UNKNOWN_NODE_NAMESPACE",
    "ClientHandle",
    "DeadlineCallback",
    "EndpointInfo",
    "EntityStats",
    "LivelinessCallback",
    "MessageCallback",
    "MessageLostCallback",
    "NodeInfo",
    "ParticipantInfo",
    "PublisherHandle",
    "RequestHandler",
    "ServiceHandle",
    "SubscriptionHandle",
    "SubscriptionStats",
    "Transport",
]

#: ROS 2's placeholder node for endpoints no node claims (plain DDS programs, or a participant
#: whose node list has not arrived yet); the DDS graph lists them there, ``node list`` hides it.
UNKNOWN_NODE_NAME = "_NODE_NAME_UNKNOWN_"
UNKNOWN_NODE_NAMESPACE = "/_NODE_NAMESPACE_UNKNOWN_"

#: Called with each decoded message; may be a coroutine function.
MessageCallback = Callable[[Any], Awaitable[None] | None]
#: Called with a decoded request; returns (or awaits) the response message.
RequestHandler = Callable[[Any], Awaitable[Any] | Any]


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """One publisher, subscription, service server or client, as announced in the graph."""

    name: str  #: fully qualified ROS name: ``/robots/robot-1/status``
    type_name: str  #: ``pkg/msg/Type`` or ``pkg/srv/Type``
    type_hash: str  #: ``RIHS01_...``
    qos: QoSProfile = field(default_factory=QoSProfile)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type_name, "hash": self.type_hash, "qos": self.qos.describe()}


@dataclass(slots=True)
class NodeInfo:
    """What one node offers; the transport announces it for graph queries."""

    name: str  #: node name without namespace
    namespace: str  #: ``/`` or ``/robots/robot-1``
    publishers: list[EndpointInfo] = field(default_factory=list)
    subscriptions: list[EndpointInfo] = field(default_factory=list)
    services: list[EndpointInfo] = field(default_factory=list)
    clients: list[EndpointInfo] = field(default_factory=list)

    @property
    def fqn(self) -> str:
        """Fully qualified node name: ``/robots/robot-1/edge``."""
        return (self.namespace.rstrip("/") + "/" + self.name) if self.namespace != "/" else "/" + self.name


@dataclass(slots=True)
class ParticipantInfo:
    """One transport instance (one broker connection, usually one process) and its nodes."""

    gid: str
    host: str
    pid: int
    nodes: list[NodeInfo] = field(default_factory=list)
    started_at: float = 0.0
    #: Subscriptions with dropped, malformed, mismatched or QoS-incompatible messages
    #: (healthy ones are left out to keep graph answers small).
    troubled: list[SubscriptionStats] = field(default_factory=list)


@dataclass(slots=True)
class EntityStats:
    """Counters every subscription and service server keeps (shown by ``rfos doctor``)."""

    received: int = 0
    malformed: int = 0  #: payloads that failed to decode: dropped
    type_mismatch: int = 0  #: messages whose type hash differs from ours: dropped
    qos_incompatible: int = 0
    deadline_missed: int = 0  #: deadline periods that passed without a message
    incomplete: int = 0  #: chunked messages dropped because chunks were lost (never delivered)
    #: messages the subscription's bounded queue dropped because its callback fell behind
    dropped: int = 0


@dataclass(slots=True)
class SubscriptionStats:
    """One subscription's counters as the graph carries them (``rfos doctor``, ``topic info -v``)."""

    node: str  #: fully qualified name of the node that owns it
    topic: str
    stats: EntityStats

    @property
    def troubled(self) -> bool:
        """Whether any message was dropped (queue, lost chunks, decoding, type or QoS)."""
        s = self.stats
        return bool(s.dropped or s.incomplete or s.malformed or s.type_mismatch or s.qos_incompatible)


class PublisherHandle(abc.ABC):
    """Publishes messages of one type on one topic."""

    @abc.abstractmethod
    async def publish(self, msg: Any) -> None:
        """Send ``msg`` (already type-checked by the node layer)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop publishing; idempotent."""


#: Called with the total number of missed deadlines so far.
DeadlineCallback = Callable[[int], None]
#: Called with ``True`` when a publisher becomes alive, ``False`` when its lease expires.
LivelinessCallback = Callable[[bool], None]
#: Called with the total number of messages lost so far (a full KEEP_ALL queue dropped them).
MessageLostCallback = Callable[[int], None]


class SubscriptionHandle(abc.ABC):
    """Receives messages of one type on one topic; see :attr:`stats`.

    With a QoS deadline, :attr:`on_deadline_missed` is called each time a deadline period
    passes without a message; with a liveliness lease, :attr:`on_liveliness_changed` is
    called when the publishers' liveliness changes; :attr:`on_message_lost` is called when a
    KEEP_ALL subscription whose callback falls behind loses messages (transports that bound
    their queues). All may be set at any time.
    """

    stats: EntityStats
    on_deadline_missed: DeadlineCallback | None = None
    on_liveliness_changed: LivelinessCallback | None = None
    on_message_lost: MessageLostCallback | None = None

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving; idempotent."""


class ServiceHandle(abc.ABC):
    """A service server answering requests; see :attr:`stats`."""

    stats: EntityStats

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop serving; idempotent."""


class ClientHandle(abc.ABC):
    """Calls one service."""

    @abc.abstractmethod
    async def call(self, request: Any, *, timeout: float) -> Any:
        """Send ``request`` and return the response.

        Raises ``ServiceUnavailable`` when no server answers the name and
        ``ServiceTimeout`` when one does not answer within ``timeout`` seconds.
        """

    @abc.abstractmethod
    async def wait_for_service(self, *, timeout: float) -> bool:
        """True once a server for this service exists, False after ``timeout`` seconds."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the client; idempotent."""


class Transport(abc.ABC):
    """A message bus for nodes. One instance is shared by all nodes of a container."""

    #: Short name used in config (``transport: nats``) and logs.
    kind: ClassVar[str] = ""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Connect to the bus; idempotent."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every entity and the connection; idempotent."""

    @abc.abstractmethod
    async def create_publisher(
        self, endpoint: EndpointInfo, msg_type: type[Any], *, encoding: EncodingOption | None = None
    ) -> PublisherHandle:
        """Start publishing ``msg_type`` on ``endpoint.name``.

        ``encoding``: ``"auto"``, ``json`` or ``cdr`` for this publisher; ``None``: the
        transport's default. Transports with one wire format (DDS: CDR) ignore it.
        """

    @abc.abstractmethod
    async def create_subscription(
        self,
        endpoint: EndpointInfo,
        msg_type: type[Any],
        callback: MessageCallback,
        *,
        ignore_local: bool = False,
    ) -> SubscriptionHandle:
        """Deliver each message on ``endpoint.name`` to ``callback``.

        Malformed payloads and type-hash mismatches are dropped, counted in the handle's
        stats and logged (rate-limited); the callback never sees them. With
        ``ignore_local`` the subscription skips messages published through this same
        transport instance (the intra-process layer delivers those itself, and so also
        tracks the QoS deadline; liveliness of remote publishers stays with this handle).
        """

    @abc.abstractmethod
    async def create_service(
        self, endpoint: EndpointInfo, srv_type: type[Any], handler: RequestHandler
    ) -> ServiceHandle:
        """Answer requests to ``endpoint.name`` (replicas share the load)."""

    @abc.abstractmethod
    async def create_client(self, endpoint: EndpointInfo, srv_type: type[Any]) -> ClientHandle:
        """A client for the service ``endpoint.name``."""

    @abc.abstractmethod
    async def announce(self, nodes: list[NodeInfo]) -> None:
        """Publish this participant's current nodes and endpoints to the graph."""

    @abc.abstractmethod
    async def graph(self, *, timeout: float = 0.5) -> list[ParticipantInfo]:
        """Every participant currently on the bus, with its nodes (exact, not cached)."""

    @property
    @abc.abstractmethod
    def connection_state(self) -> ConnectionState:
        """Where the connection stands now (``NEW`` before :meth:`connect`)."""

    @abc.abstractmethod
    def add_connection_listener(self, listener: ConnectionListener) -> ConnectionListenerHandle:
        """Call ``listener`` with the new :class:`ConnectionState` on every change.

        Changes: ``CONNECTED`` once connected, ``DISCONNECTED`` when the connection is lost,
        ``RECONNECTED`` when it is back, ``CLOSED`` after :meth:`close`. ``listener`` may be
        a coroutine function (run as a task); an exception in it is logged and otherwise
        ignored. The returned handle's ``remove()`` stops the calls.
        """
