"""A plain cyclonedds program speaking ROS 2 (rmw_cyclonedds) conventions: the interop peer.

It does NOT import robotfleet_nodes: the types below are written by hand the way rosidl
and rmw_cyclonedds define them, so it stands in for an unmodified ROS 2 node.

    python dds_peer.py <domain_id>

- reads ``rt/chatter`` (``std_msgs::msg::dds_::String_``) and prints each sample;
- publishes ``peer <n>`` on ``rt/chatter`` every 50 ms;
- serves ``/peer_add`` (``example_interfaces/srv/AddTwoInts``) on ``rq/peer_addRequest`` /
  ``rr/peer_addReply``, echoing rmw_cyclonedds' request header ``{uint64 guid; int64 seq}``;
- calls ``/rfos_add`` once a server is matched (a=20, b=22) and prints the reply.

Events are JSON lines on stdout. It exits when stdin closes or after 30 s.
"""

import json
import select
import sys
import time
from dataclasses import dataclass

from cyclonedds.core import Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as t
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic


@dataclass
class String_(IdlStruct, typename="std_msgs::msg::dds_::String_"):
    data: str


@dataclass
class AddTwoInts_Request_(IdlStruct, typename="example_interfaces::srv::dds_::AddTwoInts_Request_"):
    guid: t.uint64  # rmw_cyclonedds cdds_request_header_t
    seq: t.int64
    a: t.int64
    b: t.int64


@dataclass
class AddTwoInts_Response_(IdlStruct, typename="example_interfaces::srv::dds_::AddTwoInts_Response_"):
    guid: t.uint64
    seq: t.int64
    sum: t.int64


@dataclass
class Gid_(IdlStruct, typename="rmw_dds_common::msg::dds_::Gid_"):
    data: t.array[t.uint8, 16]  # Iron and later: 16 bytes (Humble had char[24])


@dataclass
class NodeEntitiesInfo_(IdlStruct, typename="rmw_dds_common::msg::dds_::NodeEntitiesInfo_"):
    node_namespace: t.bounded_str[256]
    node_name: t.bounded_str[256]
    reader_gid_seq: t.sequence[Gid_]
    writer_gid_seq: t.sequence[Gid_]


@dataclass
class ParticipantEntitiesInfo_(IdlStruct, typename="rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"):
    """What every ROS 2 participant publishes on ``ros_discovery_info`` (the ROS graph)."""

    gid: Gid_
    node_entities_info_seq: t.sequence[NodeEntitiesInfo_]


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


def main() -> None:
    dp = DomainParticipant(int(sys.argv[1]))
    policies = (
        Policy.Reliability.Reliable(100_000_000),  # max blocking time, ns
        Policy.Durability.Volatile,
        Policy.History.KeepLast(10),
        Policy.DataRepresentation(use_cdrv0_representation=True),  # XCDR1, as ROS 2
    )
    qos = Qos(*policies)
    chatter = Topic(dp, "rt/chatter", String_)
    chatter_reader = DataReader(dp, chatter, Qos(*policies, Policy.IgnoreLocal.Participant))
    chatter_writer = DataWriter(dp, chatter, qos)

    # Server of /peer_add.
    srv_req = DataReader(dp, Topic(dp, "rq/peer_addRequest", AddTwoInts_Request_), qos)
    srv_rep = DataWriter(dp, Topic(dp, "rr/peer_addReply", AddTwoInts_Response_), qos)
    # Client of /rfos_add.
    cli_req = DataWriter(dp, Topic(dp, "rq/rfos_addRequest", AddTwoInts_Request_), qos)
    cli_rep = DataReader(dp, Topic(dp, "rr/rfos_addReply", AddTwoInts_Response_), qos)
    my_guid = cli_req.get_instance_handle() & 0xFFFF_FFFF_FFFF_FFFF  # as uint64
    sent = False
    emit(event="ready", client_guid=my_guid)

    n = 0
    end = time.monotonic() + 30
    next_pub = 0.0
    while time.monotonic() < end:
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
            break  # stdin closed: the test is done
        now = time.monotonic()
        if now >= next_pub:
            chatter_writer.write(String_(data=f"peer {n}"))
            n += 1
            next_pub = now + 0.05
        for sample in chatter_reader.take(32):
            emit(event="chatter", data=sample.data)
        for request in srv_req.take(32):
            emit(event="request", guid=request.guid, seq=request.seq, a=request.a, b=request.b)
            srv_rep.write(AddTwoInts_Response_(guid=request.guid, seq=request.seq, sum=request.a + request.b))
        if not sent and cli_req.get_matched_subscriptions() and cli_rep.get_matched_publications():
            cli_req.write(AddTwoInts_Request_(guid=my_guid, seq=1, a=20, b=22))
            sent = True
        for reply in cli_rep.take(32):
            emit(event="reply", guid_ok=reply.guid == my_guid, seq=reply.seq, sum=reply.sum)
        time.sleep(0.005)


if __name__ == "__main__":
    main()
