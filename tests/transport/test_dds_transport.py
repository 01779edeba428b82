"""DDS transport specifics beyond the contract suite: install hint, factory, QoS on the wire."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("cyclonedds")

from cyclonedds.core import Policy

from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import type_hash_of
from robotfleet_nodes.node.qos import Durability, QoSProfile, Reliability
from robotfleet_nodes.transport import EndpointInfo, NatsTransport
from robotfleet_nodes.transport.dds import DdsTransport, transport_from_env
from robotfleet_nodes.transport.dds._qos import reader_qos, writer_qos

String = default_registry().get_class("std_msgs/msg/String")


def test_without_cyclonedds_the_error_says_how_to_install() -> None:
    code = (
        "import sys; sys.modules['cyclonedds'] = None\n"
        "try:\n"
        "    import robotfleet_nodes.transport.dds\n"
        "except ImportError as exc:\n"
        "    from robotfleet_nodes.errors import RobotFleetError\n"
        "    assert isinstance(exc, RobotFleetError), type(exc)\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert "pip install 'robotfleet_nodes[dds]'" in out.stdout


def test_transport_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    dds = transport_from_env({"RFOS_TRANSPORT": "dds", "ROS_DOMAIN_ID": "42"})
    assert isinstance(dds, DdsTransport)
    assert dds.domain_id == 42
    assert isinstance(transport_from_env({}), NatsTransport)
    with pytest.raises(TransportError, match="RFOS_TRANSPORT"):
        transport_from_env({"RFOS_TRANSPORT": "zenoh"})
    monkeypatch.setenv("ROS_DOMAIN_ID", "17")
    assert DdsTransport().domain_id == 17


def test_qos_mapping() -> None:
    type_hash = type_hash_of(String)
    qos = QoSProfile(
        depth=3,
        reliability=Reliability.BEST_EFFORT,
        durability=Durability.TRANSIENT_LOCAL,
        deadline=0.5,
        liveliness_lease_duration=2.0,
    )
    text = repr(writer_qos(qos, type_hash))
    assert "BestEffort" in text
    assert "TransientLocal" in text
    assert "KeepLast(depth=3)" in text
    assert "Deadline(deadline=500000000)" in text
    assert "Automatic(lease_duration=2000000000)" in text
    assert f"Userdata(data=b'typehash={type_hash};')" in text
    assert "use_cdrv0_representation=True" in text
    assert "KeepLast(depth=65536)" in repr(reader_qos(QoSProfile(depth=3), type_hash))


async def test_user_data_carries_the_type_hash_on_the_wire() -> None:
    """A remote reader sees ROS 2's ``typehash=RIHS01_...;`` in our writer's USER_DATA."""
    domain = 150 + os.getpid() % 50
    a, b = DdsTransport(domain), DdsTransport(domain)
    await a.connect()
    await b.connect()
    try:
        ep = EndpointInfo(name="/hashed", type_name=String.__ros_type__, type_hash=type_hash_of(String))
        await b.create_subscription(ep, String, lambda m: None)
        pub = await a.create_publisher(ep, String)
        writer = pub._writer  # type: ignore[attr-defined]
        matched = writer.get_matched_subscriptions()
        assert matched
        data = writer.get_matched_subscription_data(matched[0])
        assert data.topic_name == "rt/hashed"
        assert data.type_name == "std_msgs::msg::dds_::String_"
        assert data.qos[Policy.Userdata].data == f"typehash={type_hash_of(String)};".encode()
    finally:
        await a.close()
        await b.close()


async def test_publisher_with_another_type_hash_is_dropped_and_counted() -> None:
    """Same DDS type name, another definition (USER_DATA ``typehash``): counted, not delivered."""
    import asyncio

    from cyclonedds.core import Qos
    from cyclonedds.domain import DomainParticipant
    from cyclonedds.pub import DataWriter
    from cyclonedds.topic import Topic
    from dds_peer import String_

    domain = 100 + os.getpid() % 50
    ours = DdsTransport(domain)
    await ours.connect()
    dp = DomainParticipant(domain)
    try:
        got: asyncio.Queue[str] = asyncio.Queue()
        ep = EndpointInfo(name="/versions", type_name=String.__ros_type__, type_hash=type_hash_of(String))
        sub = await ours.create_subscription(ep, String, lambda m: got.put_nowait(m.data))
        topic = Topic(dp, "rt/versions", String_)
        other = "RIHS01_" + "0" * 64
        stale = DataWriter(
            dp, topic, Qos(Policy.Reliability.Reliable(0), Policy.Userdata(f"typehash={other};".encode()))
        )
        legacy = DataWriter(dp, topic, Qos(Policy.Reliability.Reliable(0)))  # pre-Iron: no hash
        for _ in range(100):
            if len(sub.reader.get_matched_publications()) == 2:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.02)
        stale.write(String_(data="stale"))
        legacy.write(String_(data="legacy"))
        assert await asyncio.wait_for(got.get(), 5) == "legacy"
        assert sub.stats.type_mismatch == 1
        assert got.empty()
    finally:
        for entity in (dp,):
            entity.__del__()
        await ours.close()
