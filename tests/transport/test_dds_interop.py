"""Interop proof: DdsTransport against a plain cyclonedds program using ROS 2 conventions.

``dds_peer.py`` (a subprocess that does not import robotfleet_nodes) stands in for an
unmodified ROS 2 node on rmw_cyclonedds: ``rt/chatter`` with ``std_msgs::msg::dds_::String_``
both ways, and AddTwoInts services both ways with rmw_cyclonedds' request header.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import JsonLinesPeer, json_lines_peer

cyclonedds = pytest.importorskip("cyclonedds")

from robotfleet_nodes.idl import default_registry  # noqa: E402
from robotfleet_nodes.idl.codec import cdr_codec_of, serialize, type_hash_of  # noqa: E402
from robotfleet_nodes.transport import EndpointInfo  # noqa: E402
from robotfleet_nodes.transport.dds import DdsTransport, reply_topic, request_topic, topic_name  # noqa: E402
from robotfleet_nodes.transport.dds._entities import _HEADER  # noqa: E402
from robotfleet_nodes.transport.dds._types import idl_struct_for, request_struct_for  # noqa: E402

PEER = Path(__file__).with_name("dds_peer.py")
String: Any = default_registry().get_class("std_msgs/msg/String")
AddTwoInts: Any = default_registry().get_interface("example_interfaces/srv/AddTwoInts")
WAIT = 15.0


def ep(name: str, cls: Any) -> EndpointInfo:
    type_hash = type_hash_of(cls) if hasattr(cls, "model_fields") else type_hash_of(cls.Request)
    return EndpointInfo(name=name, type_name=cls.__ros_type__, type_hash=type_hash)


@pytest.fixture
def domain_id() -> int:
    return random.randint(1, 200)


@pytest.fixture
async def peer(domain_id: int) -> AsyncIterator[JsonLinesPeer]:
    async with json_lines_peer(PEER, str(domain_id)) as made:
        yield made


@pytest.fixture
async def ours(domain_id: int) -> AsyncIterator[DdsTransport]:
    transport = DdsTransport(domain_id)
    await transport.connect()
    yield transport
    await transport.close()


def test_ros2_names() -> None:
    assert topic_name("/chatter") == "rt/chatter"
    assert topic_name("/robots/robot-1/status") == "rt/robots/robot-1/status"
    assert request_topic("/add_two_ints") == "rq/add_two_intsRequest"
    assert reply_topic("/add_two_ints") == "rr/add_two_intsReply"
    assert idl_struct_for(String.__ros_spec__).__idl_typename__ == "std_msgs::msg::dds_::String_"
    request = request_struct_for(AddTwoInts.__ros_spec__.request)
    assert request.__idl_typename__ == "example_interfaces::srv::dds_::AddTwoInts_Request_"
    assert list(request.__annotations__) == ["guid", "seq", "a", "b"]


def test_payload_bytes_are_what_cyclonedds_writes() -> None:
    """Our CDR bytes equal a hand-written cyclonedds struct's (header included)."""
    import dds_peer

    for text in ("", "hello", "héllo wörld", "x" * 1001):
        ours = serialize(String(data=text), "cdr")
        theirs = dds_peer.String_(data=text).serialize(use_version_2=False)
        assert ours == theirs[: len(ours)]
        assert set(theirs[len(ours) :]) <= {0}  # cyclonedds pads to 4
    encoded = cdr_codec_of(AddTwoInts.Request).encode(AddTwoInts.Request(a=-5, b=2**40))
    guid, seq = 0xFEDCBA9876543210, 7
    wire = encoded[:4] + _HEADER.pack(guid, seq) + encoded[4:]
    theirs = dds_peer.AddTwoInts_Request_(guid=guid, seq=seq, a=-5, b=2**40).serialize(use_version_2=False)
    assert wire == theirs[: len(wire)]
    assert wire[:4] == b"\x00\x01\x00\x00"  # CDR little endian encapsulation


async def test_pubsub_both_ways(ours: DdsTransport, peer: JsonLinesPeer) -> None:
    got: asyncio.Queue[str] = asyncio.Queue()
    await ours.create_subscription(ep("/chatter", String), String, lambda m: got.put_nowait(m.data))
    pub = await ours.create_publisher(ep("/chatter", String), String)
    first = await asyncio.wait_for(got.get(), WAIT)
    assert first.startswith("peer ")

    async def keep_publishing() -> None:
        n = 0
        while True:
            await pub.publish(String(data=f"rfos {n}"))
            n += 1
            await asyncio.sleep(0.05)

    task = asyncio.create_task(keep_publishing())
    try:
        event = await peer.wait_for(lambda e: e["event"] == "chatter")
        assert event["data"].startswith("rfos ")
    finally:
        task.cancel()


async def test_services_both_ways(ours: DdsTransport, peer: JsonLinesPeer) -> None:
    # Its client -> our server.
    await ours.create_service(
        ep("/rfos_add", AddTwoInts), AddTwoInts, lambda r: AddTwoInts.Response(sum=r.a + r.b)
    )
    reply = await peer.wait_for(lambda e: e["event"] == "reply")
    assert reply == {"event": "reply", "guid_ok": True, "seq": 1, "sum": 42}
    # Our client -> its server.
    client = await ours.create_client(ep("/peer_add", AddTwoInts), AddTwoInts)
    assert await client.wait_for_service(timeout=WAIT)
    for a, b in ((2, 3), (-7, 100)):
        response = await client.call(AddTwoInts.Request(a=a, b=b), timeout=WAIT)
        assert response.sum == a + b
    requests = [e for e in peer.events if e["event"] == "request"]
    request = requests[-1] if requests else await peer.wait_for(lambda e: e["event"] == "request")
    assert request["guid"] == client.guid  # type: ignore[attr-defined]
    assert request["a"] in (2, -7)


async def test_ros_discovery_info_lists_our_nodes_with_their_entity_gids(domain_id: int) -> None:
    """What ``ros2 node list`` / ``ros2 node info`` read: ParticipantEntitiesInfo on ros_discovery_info."""
    import dds_peer
    from cyclonedds.builtin import (
        BuiltinDataReader,
        BuiltinTopicDcpsParticipant,
        BuiltinTopicDcpsPublication,
        BuiltinTopicDcpsSubscription,
    )
    from cyclonedds.core import Policy, Qos
    from cyclonedds.domain import DomainParticipant
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic

    from robotfleet_nodes.transport import NodeInfo

    ours = DdsTransport(domain_id)
    await ours.connect()
    try:
        chatter, news = ep("/demo/chatter", String), ep("/news", String)
        adder = ep("/demo/add", AddTwoInts)
        await ours.create_publisher(chatter, String)
        await ours.create_subscription(news, String, lambda m: None)
        await ours.create_service(adder, AddTwoInts, lambda r: AddTwoInts.Response(sum=r.a + r.b))
        node = NodeInfo("talker", "/demo", publishers=[chatter], subscriptions=[news], services=[adder])
        await ours.announce([node, NodeInfo("idle", "/")])

        theirs = DomainParticipant(domain_id)
        qos = Qos(
            Policy.Reliability.Reliable(0), Policy.Durability.TransientLocal, Policy.History.KeepLast(1)
        )
        reader = DataReader(
            theirs, Topic(theirs, "ros_discovery_info", dds_peer.ParticipantEntitiesInfo_), qos=qos
        )
        publications = BuiltinDataReader(theirs, BuiltinTopicDcpsPublication)
        subscriptions = BuiltinDataReader(theirs, BuiltinTopicDcpsSubscription)
        deadline = time.monotonic() + WAIT
        info: Any = None
        while info is None:
            assert time.monotonic() < deadline, "no ParticipantEntitiesInfo from our participant"
            for sample in reader.take(10):
                if bytes(sample.gid.data) == bytes.fromhex(ours.gid):
                    info = sample
            await asyncio.sleep(0.05)

        nodes = {(n.node_namespace, n.node_name): n for n in info.node_entities_info_seq}
        assert set(nodes) == {("/demo", "talker"), ("/", "idle")}
        assert nodes[("/", "idle")].reader_gid_seq == nodes[("/", "idle")].writer_gid_seq == []

        def discovered(builtin: Any, topic: str) -> bytes:
            while True:
                for sample in builtin.read(100):
                    if sample.topic_name == topic:
                        return bytes(sample.key.bytes)
                assert time.monotonic() < deadline, f"{topic} not discovered"
                time.sleep(0.05)

        talker = nodes[("/demo", "talker")]
        writers = {bytes(g.data) for g in talker.writer_gid_seq}
        readers = {bytes(g.data) for g in talker.reader_gid_seq}
        # The gids are the GUIDs the ROS graph sees in DDS discovery for those topics.
        assert writers == {
            discovered(publications, "rt/demo/chatter"),
            discovered(publications, "rr/demo/addReply"),
        }
        assert readers == {
            discovered(subscriptions, "rt/news"),
            discovered(subscriptions, "rq/demo/addRequest"),
        }
        assert {gid[:12] for gid in writers | readers} == {bytes.fromhex(ours.gid)[:12]}  # our participant's
        participants = BuiltinDataReader(theirs, BuiltinTopicDcpsParticipant)
        ours_seen = [p for p in participants.read(100) if bytes(p.key.bytes) == bytes.fromhex(ours.gid)]
        assert ours_seen and ours_seen[0].qos[Policy.Userdata].data == b"enclave=/;"
        theirs.__del__()
    finally:
        await ours.close()
