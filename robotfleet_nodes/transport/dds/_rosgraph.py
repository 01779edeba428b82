"""ROS 2's graph as DDS discovery shows it: the nodes of participants that are not ours.

Every rmw participant (Fast DDS, rmw_cyclonedds, and ours) publishes
``rmw_dds_common/msg/ParticipantEntitiesInfo`` on ``ros_discovery_info``: each node's
namespace and name with the GUIDs of its readers and writers. DDS discovery (Cyclone's
built-in ``DCPSPublication`` / ``DCPSSubscription`` topics) gives each GUID's topic, type
and QoS. :class:`RosGraph` joins the two the way rmw_dds_common's graph cache does:

- writer on ``rt/X`` -> publisher of ``/X``; reader on ``rt/X`` -> subscription;
- reader on ``rq/XRequest`` -> server of service ``/X``; writer on it -> client
  (the ``rr/XReply`` half of each is the same service and is not counted twice);
- types ``pkg::msg::dds_::T_`` -> ``pkg/msg/T``, ``pkg::srv::dds_::T_Request_`` -> ``pkg/srv/T``;
- the type hash from ``typehash=RIHS01_...;`` in USER_DATA (Iron and later).

Endpoints that no node claims (plain DDS programs) belong to ROS 2's placeholder node
``/_NODE_NAMESPACE_UNKNOWN_/_NODE_NAME_UNKNOWN_`` (hidden from ``node list``, as in ROS 2),
so their topics are still listed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cyclonedds._clayer import ddspy_take
from cyclonedds.builtin import (
    BuiltinDataReader,
    BuiltinTopicDcpsParticipant,
    BuiltinTopicDcpsPublication,
    BuiltinTopicDcpsSubscription,
)
from cyclonedds.core import InstanceState, Policy, Qos, ReadCondition, SampleState, ViewState
from cyclonedds.domain import DomainParticipant
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from robotfleet_nodes.errors import DecodeError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import cdr_codec_of
from robotfleet_nodes.qos import Durability, History, QoSProfile, Reliability
from robotfleet_nodes.transport._base import (
    UNKNOWN_NODE_NAME as UNKNOWN_NODE,
)
from robotfleet_nodes.transport._base import (
    UNKNOWN_NODE_NAMESPACE as UNKNOWN_NAMESPACE,
)
from robotfleet_nodes.transport._base import (
    EndpointInfo,
    NodeInfo,
    ParticipantInfo,
)

__all__ = [
    "FASTDDS_VENDOR",
    "UNKNOWN_NAMESPACE",
    "UNKNOWN_NODE",
    "DiscoveredEndpoint",
    "RosGraph",
    "is_fastdds",
    "nodes_of",
    "ros_name",
    "ros_type",
]

log = logging.getLogger(__name__)

#: The first two bytes of a Fast DDS (eProsima) participant's GUID: its vendor id 1.15.
FASTDDS_VENDOR = b"\x01\x0f"
_PARTICIPANT_INFO = "rmw_dds_common/msg/ParticipantEntitiesInfo"
_TYPEHASH = re.compile(rb"typehash=(RIHS01_[0-9a-f]+);")
_DDS_TYPE = re.compile(
    r"^(?P<pkg>\w+)::(?P<kind>msg|srv|action)::dds_::(?P<name>\w+?)_(?P<part>Request_|Response_)?$"
)
_ALIVE = SampleState.Any | ViewState.Any | InstanceState.Alive
_ALL = SampleState.Any | ViewState.Any | InstanceState.Any


@dataclass(frozen=True, slots=True)
class DiscoveredEndpoint:
    """One reader or writer DDS discovery reported."""

    guid: bytes  #: 16 bytes
    participant: bytes  #: the participant's 16-byte GUID
    writer: bool
    topic: str  #: the DDS topic name: ``rt/chatter``
    type_name: str  #: the DDS type name: ``std_msgs::msg::dds_::String_``
    qos: QoSProfile
    type_hash: str = ""


def ros_type(dds_type: str) -> str | None:
    """``std_msgs::msg::dds_::String_`` -> ``std_msgs/msg/String``; services drop their
    ``_Request_`` / ``_Response_`` part; None for a type that is not a ROS 2 one."""
    match = _DDS_TYPE.match(dds_type)
    if match is None:
        return None
    return f"{match['pkg']}/{match['kind']}/{match['name']}"


def ros_name(topic: str) -> tuple[str, str] | None:
    """The graph kind and ROS name of a DDS topic: ``rt/x`` -> ``("topic", "/x")``,
    ``rq/xRequest`` -> ``("request", "/x")``, ``rr/xReply`` -> ``("reply", "/x")``; else None."""
    if topic.startswith("rt/"):
        return "topic", "/" + topic[3:]
    if topic.startswith("rq/") and topic.endswith("Request"):
        return "request", "/" + topic[3 : -len("Request")]
    if topic.startswith("rr/") and topic.endswith("Reply"):
        return "reply", "/" + topic[3 : -len("Reply")]
    return None


def _kind(endpoint: DiscoveredEndpoint) -> tuple[str, EndpointInfo] | None:
    """The ``NodeInfo`` list an endpoint belongs in, and its info; None if it is not a ROS one."""
    named = ros_name(endpoint.topic)
    type_name = ros_type(endpoint.type_name)
    if named is None or type_name is None:
        return None
    what, name = named
    info = EndpointInfo(name, type_name, endpoint.type_hash, endpoint.qos)
    if what == "topic":
        return ("publishers" if endpoint.writer else "subscriptions"), info
    if what == "request":
        return ("clients" if endpoint.writer else "services"), info
    return None  # the reply half of a service: counted with its request half


def nodes_of(
    claims: dict[bytes, list[tuple[str, str, list[bytes]]]],
    endpoints: Iterable[DiscoveredEndpoint],
) -> dict[bytes, list[NodeInfo]]:
    """Participant GUID -> its nodes with their endpoints.

    ``claims`` is what each participant announced on ``ros_discovery_info``:
    ``(namespace, name, reader and writer GUIDs)`` per node. Endpoints nobody claims go to
    the placeholder node of their participant.
    """
    owner: dict[bytes, NodeInfo] = {}
    out: dict[bytes, list[NodeInfo]] = {}
    for participant, nodes in claims.items():
        for namespace, name, gids in nodes:
            node = NodeInfo(name=name, namespace=namespace or "/")
            out.setdefault(participant, []).append(node)
            for gid in gids:
                owner[gid] = node
    unknown: dict[bytes, NodeInfo] = {}
    for endpoint in endpoints:
        found = _kind(endpoint)
        if found is None:
            continue
        kind, info = found
        holder = owner.get(endpoint.guid) or unknown.get(endpoint.participant)
        if holder is None:
            holder = unknown[endpoint.participant] = NodeInfo(UNKNOWN_NODE, UNKNOWN_NAMESPACE)
            out.setdefault(endpoint.participant, []).append(holder)
        getattr(holder, kind).append(info)
    return out


def _qos(qos: Qos) -> QoSProfile:
    """The ROS 2 profile of a discovered endpoint's DDS QoS (the policies the graph shows)."""
    reliability = Reliability.RELIABLE
    durability = Durability.VOLATILE
    history, depth = History.KEEP_LAST, 1
    for policy in qos:
        if policy == Policy.Reliability.BestEffort:
            reliability = Reliability.BEST_EFFORT
        elif policy == Policy.Durability.TransientLocal:
            durability = Durability.TRANSIENT_LOCAL
        elif policy == Policy.History.KeepAll:
            history = History.KEEP_ALL
        elif isinstance(policy, Policy.History.KeepLast):
            depth = max(1, int(policy.depth))
    return QoSProfile(history=history, depth=depth, reliability=reliability, durability=durability)


def _type_hash(qos: Qos) -> str:
    with contextlib.suppress(Exception):
        match = _TYPEHASH.search(bytes(qos[Policy.Userdata].data))
        if match is not None:
            return match.group(1).decode()
    return ""


class RosGraph:
    """Reads ``ros_discovery_info`` and DDS discovery of one participant (see the module doc)."""

    def __init__(self, dp: DomainParticipant, info_topic: Topic[Any]) -> None:
        self._dp = dp
        self._decode = cdr_codec_of(default_registry().get_class(_PARTICIPANT_INFO)).decode
        qos = Qos(
            Policy.Reliability.Reliable(0),
            Policy.Durability.TransientLocal,
            Policy.History.KeepLast(256),  # keyless: every writer's samples share one history
            Policy.DataRepresentation(use_cdrv0_representation=True),
        )
        self._info_reader: DataReader[Any] = DataReader(dp, info_topic, qos)
        self._claims: dict[bytes, list[tuple[str, str, list[bytes]]]] = {}
        self._readers = {
            kind: BuiltinDataReader(dp, topic)
            for kind, topic in (
                ("participants", BuiltinTopicDcpsParticipant),
                ("writers", BuiltinTopicDcpsPublication),
                ("readers", BuiltinTopicDcpsSubscription),
            )
        }
        self._alive = {kind: ReadCondition(reader, _ALIVE) for kind, reader in self._readers.items()}

    def close(self) -> None:
        """Delete the readers (idempotent)."""
        for entity in (*self._alive.values(), *self._readers.values(), self._info_reader):
            with contextlib.suppress(Exception):
                entity.__del__()
        self._alive.clear()
        self._readers.clear()

    def _take_claims(self) -> None:
        raw = ddspy_take(self._info_reader._ref, _ALL, 1024)
        if isinstance(raw, int):
            return
        for data, info in raw:
            if not info.valid_data:
                continue
            try:
                msg = self._decode(data)
            except DecodeError as exc:
                log.warning("malformed %s sample dropped: %s", _PARTICIPANT_INFO, exc)
                continue
            self._claims[bytes(msg.gid.data)] = [
                (
                    node.node_namespace,
                    node.node_name,
                    [bytes(g.data) for g in (*node.reader_gid_seq, *node.writer_gid_seq)],
                )
                for node in msg.node_entities_info_seq
            ]

    def _read(self, kind: str) -> list[Any]:
        condition = self._alive.get(kind)
        if condition is None:
            return []
        return list(self._readers[kind].read(N=65536, condition=condition))

    def participants(self, exclude: set[str]) -> list[ParticipantInfo]:
        """The participants on the domain (but those whose GUID hex is in ``exclude``) with
        their ROS 2 nodes: none yet for one whose endpoints have not been discovered."""
        self._take_claims()
        alive = {sample.key.bytes for sample in self._read("participants")}
        alive -= {uuid.UUID(hex=gid).bytes for gid in exclude if gid}
        for gone in set(self._claims) - alive:
            del self._claims[gone]
        endpoints = [
            DiscoveredEndpoint(
                guid=sample.key.bytes,
                participant=sample.participant_key.bytes,
                writer=kind == "writers",
                topic=sample.topic_name,
                type_name=sample.type_name,
                qos=_qos(sample.qos),
                type_hash=_type_hash(sample.qos),
            )
            for kind in ("writers", "readers")
            for sample in self._read(kind)
            if sample.participant_key.bytes in alive
        ]
        claims = {gid: nodes for gid, nodes in self._claims.items() if gid in alive}
        found = nodes_of(claims, endpoints)
        return [
            ParticipantInfo(gid=uuid.UUID(bytes=gid).hex, host="", pid=0, nodes=found.get(gid, []))
            for gid in sorted(alive)
        ]


def is_fastdds(gid: str) -> bool:
    """Whether a participant GUID (hex) is a Fast DDS one (vendor id 1.15)."""
    return gid.lower().startswith(FASTDDS_VENDOR.hex())
