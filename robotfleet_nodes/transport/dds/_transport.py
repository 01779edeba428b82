"""The DDS transport: ROS 2 wire conventions on Eclipse Cyclone DDS.

One :class:`DdsTransport` is one DDS domain participant. Names map as rmw_cyclonedds maps
them: topic ``/chatter`` is DDS topic ``rt/chatter``, service ``/add`` is ``rq/addRequest``
(requests) and ``rr/addReply`` (replies); types are ``pkg::msg::dds_::Type_`` with XCDR1
payloads. Samples travel as the bytes of our CDR codec (``_types`` only describes the type
to DDS), so an unmodified ROS 2 node using rmw_cyclonedds interoperates.

Reception: readers are attached to the participant's waitset thread (``_waitset``: no
Python listeners, which can deadlock against the GIL); on data it only schedules a drain
on the event loop, which takes samples in batches, decodes them and runs the callbacks.
Plain-function callbacks run inline, coroutine callbacks get one task per subscription
(so a slow one delays only itself).

Services follow rmw_cyclonedds: every sample starts with ``{uint64 guid; int64 seq}``
(``guid`` = instance handle of the client's request writer); every server answers every
request it receives and the client keeps the first reply of each sequence number.

ROS 2's graph: like every rmw participant, ours has ``enclave=/;`` in its USER_DATA and
publishes ``rmw_dds_common/msg/ParticipantEntitiesInfo`` on ``ros_discovery_info``
(reliable, transient-local, depth 1) whenever its nodes change: each node's namespace and
name with the GUIDs of its readers and writers, so ``ros2 node list`` / ``ros2 node info``
on the robot see our nodes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any, ClassVar

from cyclonedds._clayer import ddspy_read, ddspy_write
from cyclonedds.core import DDSException, DDSStatus, InstanceState, Policy, Qos, SampleState, ViewState
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader

from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import cdr_codec_of, type_hash_of
from robotfleet_nodes.qos import QOS_SERVICES, Durability, QoSProfile, Reliability
from robotfleet_nodes.transport._base import (
    ClientHandle,
    EndpointInfo,
    MessageCallback,
    NodeInfo,
    ParticipantInfo,
    PublisherHandle,
    RequestHandler,
    ServiceHandle,
    SubscriptionHandle,
    Transport,
)
from robotfleet_nodes.transport._connection import (
    ConnectionEvents,
    ConnectionListener,
    ConnectionListenerHandle,
    ConnectionState,
)
from robotfleet_nodes.transport._encoding import EncodingOption
from robotfleet_nodes.transport.dds._domain import ensure_domain
from robotfleet_nodes.transport.dds._entities import (
    _ENCLAVE,
    _GRAPH_TOPIC,
    _PARTICIPANT_INFO,
    _SUBSCRIPTION_EVENTS,
    ROS_DISCOVERY_TOPIC,
    _Announcement,
    _Client,
    _dds_entities,
    _delete,
    _guid,
    _handle,
    _Inbox,
    _node_from_json,
    _node_to_json,
    _pad,
    _Participant,
    _Publisher,
    _Service,
    _Subscription,
    reply_topic,
    request_topic,
    topic_name,
)
from robotfleet_nodes.transport.dds._qos import reader_qos, writer_qos
from robotfleet_nodes.transport.dds._rosgraph import RosGraph
from robotfleet_nodes.transport.dds._types import idl_struct_for, request_struct_for
from robotfleet_nodes.transport.dds._waitset import WaitsetThread

__all__ = ["ROS_DISCOVERY_TOPIC", "DdsTransport", "reply_topic", "request_topic", "topic_name"]

log = logging.getLogger(__name__)


class DdsTransport(Transport):
    """Nodes on a DDS domain, wire-compatible with ROS 2 nodes using rmw_cyclonedds.

    ``domain_id`` defaults to ``ROS_DOMAIN_ID`` (else 0). The network setup comes from
    Cyclone's ``CYCLONEDDS_URI`` (see :data:`LOOPBACK_CONFIG` for a loopback-only one).
    The graph (:meth:`announce` / :meth:`graph`) travels on the transient-local DDS topic
    ``rfos_graph``, keyed by participant; ROS 2 tools do not see it.
    """

    kind: ClassVar[str] = "dds"

    def __init__(self, domain_id: int | None = None) -> None:
        if domain_id is None:
            domain_id = int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)
        self.domain_id = domain_id
        self.started_at = time.time()
        self._participant: _Participant | None = None
        self._entities: set[Any] = set()
        self._writer_handles: set[int] = set()  #: instance handles of our ``rt/`` writers
        self._connection = ConnectionEvents()
        self._graph_writer: DataWriter[Any] | None = None
        self._graph_reader: DataReader[Any] | None = None
        self._announced: Any = None
        self._ros_graph_writer: DataWriter[Any] | None = None
        self._ros_graph: RosGraph | None = None
        self._waitset: WaitsetThread | None = None
        self._closed = False

    def _attach(self, inbox: _Inbox, reader: DataReader[Any], mask: int) -> None:
        """Dispatch ``reader``'s events to ``inbox``; drain what is already there."""
        assert self._waitset is not None
        inbox.reader = reader
        inbox.key = self._waitset.attach(reader._ref, mask, inbox.on_status)
        inbox.notify()  # transient-local history may have arrived before the attach

    def _release(self, entity: Any, inbox: _Inbox) -> None:
        """``entity`` (closing) gets no more events: its inbox drops late ones, the waitset stops."""
        inbox.closed = True
        if inbox.key is not None and self._waitset is not None:
            self._waitset.detach(inbox.key)
            inbox.key = None
        self._entities.discard(entity)

    @property
    def gid(self) -> str:
        """This participant's DDS GUID (hex)."""
        return self._dp().dp.get_guid().hex if self._participant is not None else ""

    def _dp(self) -> _Participant:
        if self._participant is None:
            raise TransportError("DdsTransport is not connected: await transport.connect() first")
        return self._participant

    async def connect(self) -> None:
        """Join the DDS domain; idempotent."""
        if self._participant is not None:
            return
        if self._closed:
            raise TransportError("DdsTransport is closed")
        try:
            ensure_domain(self.domain_id)
            participant = _Participant(DomainParticipant(self.domain_id, qos=Qos(Policy.Userdata(_ENCLAVE))))
        except DDSException as exc:
            raise TransportError(
                f"cannot join DDS domain {self.domain_id}: {exc} (check CYCLONEDDS_URI)"
            ) from exc
        self._participant = participant
        self._waitset = WaitsetThread(participant.dp._ref)
        graph_topic = participant.topic(_GRAPH_TOPIC, _Announcement)
        graph_qos = Qos(
            Policy.Reliability.Reliable(0),
            Policy.Durability.TransientLocal,
            Policy.History.KeepLast(1),
        )
        self._graph_writer = DataWriter(participant.dp, graph_topic, graph_qos)
        self._graph_reader = DataReader(participant.dp, graph_topic, graph_qos)
        info_spec = default_registry().get_class(_PARTICIPANT_INFO).__ros_spec__
        info_topic = participant.topic(ROS_DISCOVERY_TOPIC, idl_struct_for(info_spec))
        self._ros_graph_writer = DataWriter(participant.dp, info_topic, graph_qos)
        self._ros_graph = RosGraph(participant.dp, info_topic)
        log.debug("joined DDS domain %d as %s", self.domain_id, self.gid)
        self._connection.set(ConnectionState.CONNECTED)

    async def close(self) -> None:
        """Delete every entity and the participant; idempotent."""
        if self._closed:
            return
        self._closed = True
        for entity in list(self._entities):
            await entity.close()
        if self._waitset is not None:
            self._waitset.close()
            self._waitset = None
        participant = self._participant
        if self._ros_graph is not None:
            self._ros_graph.close()
            self._ros_graph = None
        if participant is not None:
            if self._graph_writer is not None and self._announced is not None:
                with contextlib.suppress(Exception):
                    self._graph_writer.dispose(self._announced)
            for entity in (
                self._graph_writer,
                self._graph_reader,
                self._ros_graph_writer,
                *participant.topics.values(),
                participant.dp,
            ):
                if entity is not None:
                    _delete(entity)
            self._participant = None
        self._connection.set(ConnectionState.CLOSED)

    async def create_publisher(
        self, endpoint: EndpointInfo, msg_type: type[Any], *, encoding: EncodingOption | None = None
    ) -> PublisherHandle:
        """A DDS writer on ``rt/<name>`` with the endpoint's QoS (always CDR: ``encoding`` is ignored)."""
        participant = self._dp()
        spec = msg_type.__ros_spec__
        topic = participant.topic(topic_name(endpoint.name), idl_struct_for(spec))
        writer = DataWriter(participant.dp, topic, writer_qos(endpoint.qos, type_hash_of(msg_type)))
        publisher = _Publisher(self, endpoint, writer, cdr_codec_of(msg_type).encode)
        self._writer_handles.add(_handle(writer))
        self._entities.add(publisher)
        return publisher

    async def create_subscription(
        self,
        endpoint: EndpointInfo,
        msg_type: type[Any],
        callback: MessageCallback,
        *,
        ignore_local: bool = False,
    ) -> SubscriptionHandle:
        """A DDS reader on ``rt/<name>``; ``ignore_local`` skips this participant's writers."""
        return self._subscribe(endpoint, msg_type, cdr_codec_of(msg_type).decode, callback, ignore_local)

    async def create_raw_subscription(
        self, endpoint: EndpointInfo, msg_type: type[Any], callback: Callable[[bytes], None]
    ) -> SubscriptionHandle:
        """A DDS reader on ``rt/<name>`` handing ``callback`` each sample's CDR bytes undecoded
        (tools: ``rfos topic echo|hz|bw``); writers of another type hash are dropped as by
        :meth:`create_subscription`."""
        return self._subscribe(endpoint, msg_type, bytes, callback, False)

    def _subscribe(
        self,
        endpoint: EndpointInfo,
        msg_type: type[Any],
        decode: Callable[[Any], Any],
        callback: MessageCallback,
        ignore_local: bool,
    ) -> SubscriptionHandle:
        participant = self._dp()
        topic = participant.topic(topic_name(endpoint.name), idl_struct_for(msg_type.__ros_spec__))
        subscription = _Subscription(self, endpoint, decode, callback)
        subscription.type_hash = endpoint.type_hash or type_hash_of(msg_type)
        if ignore_local:
            # Dropped by writer handle, not with Cyclone's IgnoreLocal QoS: local writers
            # stay matched, so their liveliness still counts (as on NATS).
            subscription._ignore = self._writer_handles
        qos = reader_qos(endpoint.qos, type_hash_of(msg_type))
        reader = DataReader(participant.dp, topic, qos)
        subscription.reader = reader
        subscription.inbox.on_other_status = subscription._on_status
        self._attach(subscription.inbox, reader, _SUBSCRIPTION_EVENTS)
        self._entities.add(subscription)
        return subscription

    def _request_reply(
        self, endpoint: EndpointInfo, srv_type: Any, *, server: bool
    ) -> tuple[DataWriter[Any], DataReader[Any]]:
        """The writer and reader of one side of a service: ``rq/<name>Request`` and ``rr/<name>Reply``.

        A server reads requests and writes replies; a client the other way round.
        """
        participant = self._dp()
        spec = srv_type.__ros_spec__
        qos = self._service_qos(endpoint)
        requests = (
            participant.topic(request_topic(endpoint.name), request_struct_for(spec.request)),
            type_hash_of(srv_type.Request),
        )
        replies = (
            participant.topic(reply_topic(endpoint.name), request_struct_for(spec.response)),
            type_hash_of(srv_type.Response),
        )
        (out_topic, out_hash), (in_topic, in_hash) = (replies, requests) if server else (requests, replies)
        writer = DataWriter(participant.dp, out_topic, writer_qos(qos, out_hash))
        reader = DataReader(participant.dp, in_topic, reader_qos(qos, in_hash))
        return writer, reader

    def _service_qos(self, endpoint: EndpointInfo) -> QoSProfile:
        qos = endpoint.qos
        if qos.durability is Durability.TRANSIENT_LOCAL or qos.reliability is Reliability.BEST_EFFORT:
            return QOS_SERVICES
        return qos

    async def create_service(
        self, endpoint: EndpointInfo, srv_type: type[Any], handler: RequestHandler
    ) -> ServiceHandle:
        """Read ``rq/<name>Request``, answer on ``rr/<name>Reply`` (rmw_cyclonedds layout)."""
        service = _Service(self, endpoint, srv_type, handler)
        service.writer, service.reader = self._request_reply(endpoint, srv_type, server=True)
        self._attach(service.inbox, service.reader, DDSStatus.DataAvailable)
        self._entities.add(service)
        return service

    async def create_client(self, endpoint: EndpointInfo, srv_type: type[Any]) -> ClientHandle:
        """Write ``rq/<name>Request``, read ``rr/<name>Reply``."""
        client = _Client(self, endpoint, srv_type)
        client.writer, client.reader = self._request_reply(endpoint, srv_type, server=False)
        client.guid = _handle(client.writer)
        self._attach(client.inbox, client.reader, DDSStatus.DataAvailable)
        self._entities.add(client)
        return client

    async def announce(self, nodes: list[NodeInfo]) -> None:
        """Publish this participant's nodes on the ``rfos_graph`` topic (latest wins)."""
        self._dp()
        assert self._graph_writer is not None
        sample = _Announcement(
            gid=self.gid,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.started_at,
            nodes=json.dumps([_node_to_json(node) for node in nodes]),
        )
        self._graph_writer.write(sample)
        self._announced = sample
        self._announce_to_ros(nodes)

    def _announce_to_ros(self, nodes: list[NodeInfo]) -> None:
        """Write ``ros_discovery_info``: every node with the GUIDs of its readers and writers."""
        if self._ros_graph_writer is None:
            return
        registry = default_registry()
        info_cls = registry.get_class(_PARTICIPANT_INFO)
        gid_cls = registry.get_class("rmw_dds_common/msg/Gid")
        node_cls = registry.get_class("rmw_dds_common/msg/NodeEntitiesInfo")
        readers: dict[tuple[str, EndpointInfo], list[bytes]] = {}
        writers: dict[tuple[str, EndpointInfo], list[bytes]] = {}
        for entity in list(self._entities):
            kind, reader, writer = _dds_entities(entity)
            key = (kind, entity.endpoint)
            if reader is not None:
                readers.setdefault(key, []).append(_guid(reader))
            if writer is not None:
                writers.setdefault(key, []).append(_guid(writer))

        def gids(found: dict[tuple[str, EndpointInfo], list[bytes]], node: NodeInfo) -> list[Any]:
            out: list[Any] = []
            for kind in ("publishers", "subscriptions", "services", "clients"):
                for endpoint in getattr(node, kind):
                    out.extend(gid_cls(data=list(gid)) for gid in found.get((kind, endpoint), ()))
            return out

        info = info_cls(
            gid=gid_cls(data=list(_guid(self._dp().dp))),
            node_entities_info_seq=[
                node_cls(
                    node_namespace=node.namespace,
                    node_name=node.name,
                    reader_gid_seq=gids(readers, node),
                    writer_gid_seq=gids(writers, node),
                )
                for node in nodes
            ],
        )
        ret = ddspy_write(self._ros_graph_writer._ref, _pad(cdr_codec_of(info_cls).encode(info)))
        if ret < 0:
            log.warning("%s: DDS write failed (%s)", ROS_DISCOVERY_TOPIC, DDSException(ret))

    async def graph(self, *, timeout: float = 0.5) -> list[ParticipantInfo]:
        """Participants whose announcement is alive (their writer exists) on the domain, then
        every other participant with ROS 2 nodes (real ROS 2: from ``ros_discovery_info`` and
        DDS discovery, see ``_rosgraph``; their ``host`` is empty and ``pid`` 0).

        Announcements are transient-local, so a fresh participant learns them at discovery;
        ``timeout`` is not waited out: what is known now is returned.
        """
        if self._closed or self._graph_reader is None:
            return []
        mask = SampleState.Any | ViewState.Any | InstanceState.Alive
        raw = ddspy_read(self._graph_reader._ref, mask, 4096)
        result = []
        for data, info in [] if isinstance(raw, int) else raw:
            if not info.valid_data:
                continue
            try:
                sample = _Announcement.deserialize(data)
                nodes = [_node_from_json(node) for node in json.loads(sample.nodes)]
            except Exception as exc:
                log.warning("malformed graph announcement dropped: %s", exc)
                continue
            result.append(
                ParticipantInfo(
                    gid=sample.gid,
                    host=sample.host,
                    pid=sample.pid,
                    nodes=nodes,
                    started_at=sample.started_at,
                )
            )
        if self._ros_graph is not None:
            result.extend(self._ros_graph.participants({p.gid for p in result}))
        return result

    @property
    def connection_state(self) -> ConnectionState:
        """DDS has no connection to lose: ``CONNECTED`` from connect() to close()."""
        return self._connection.state

    def add_connection_listener(self, listener: ConnectionListener) -> ConnectionListenerHandle:
        """DDS has no connection to lose: ``CONNECTED`` on connect, ``CLOSED`` on close."""
        return self._connection.add(listener)
