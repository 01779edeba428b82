"""Transient-local (latched) topics when only the fleet may manage JetStream streams.

The fleet has the latched stream cover the robots' action status subjects with a wildcard
at start (``NatsTransport.cover_latched``); a robot publishing or a zone subscribing on a
covered subject then never touches the stream's configuration. A subject the stream does
not cover, for an identity that may not extend it, behaves as volatile with one warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from _creds_broker import SecureBroker
from _transport_helpers import endpoint
from std_msgs.msg import String

from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.qos import Durability, QoSProfile
from robotfleet_nodes.transport.nats import NatsTransport
from robotfleet_nodes.transport.nats._latched import fleet_latched_patterns, stream_name, subject_matches
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

TIMEOUT = 10.0
LATCHED = QoSProfile(depth=1, durability=Durability.TRANSIENT_LOCAL)
STATUS = "/robots/robot-7/execute/_action/status"
#: A latched topic the fleet's set-up covers (fleet_latched_patterns).
DESCRIPTION = "/robots/robot-7/robot_description"


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.b.c", "a.b.c", True),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.d", False),
        ("a.*", "a.b.c", False),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("a.b.c.d", "a.b.c", False),
        ("r.0.a.robots.*.*._action.status", "r.0.a.robots.robot-7.execute._action.status", True),
        ("r.0.a.robots.*.*._action.status", "r.0.a.robots.robot-7.execute._action.feedback", False),
        ("r.0.a.robots.*.*._action.status", "r.0.a.robots.robot-7.x.y._action.status", False),
    ],
)
def test_subject_matches(pattern: str, subject: str, expected: bool) -> None:
    assert subject_matches(pattern, subject) is expected


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    broker = SecureBroker(tmp_path_factory.mktemp("secure-latched"))  # no TLS: tested elsewhere
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(autouse=True)
def _no_security_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MESSAGING_CREDS", "MESSAGING_TLS_CA", "RFOS_INSECURE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
async def made() -> AsyncIterator[list[NatsTransport]]:
    transports: list[NatsTransport] = []
    yield transports
    for transport in transports:
        await transport.close()


def _reader_rights(stream: str) -> list[str]:
    """What a robot or zone may do on JetStream: read the latched stream, never change it."""
    return [
        "$JS.API.INFO",
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DELETE.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


async def _connect(secure: SecureBroker, name: str, unique: str, made: list[NatsTransport]) -> NatsTransport:
    transport = NatsTransport(
        secure.url, mapper=SubjectMapper(root=unique), name=name, credentials=secure.creds_path(name)
    )
    made.append(transport)
    await transport.connect()
    return transport


async def test_a_covered_subject_needs_no_stream_update_and_is_stored(
    secure: SecureBroker, unique: str, made: list[NatsTransport]
) -> None:
    stream = stream_name(unique, "0")
    secure.issue(f"fleet-{unique}", pub=[f"{unique}.>", "$JS.API.>"], sub=[f"{unique}.>"])
    for who in ("robot", "zone"):
        secure.issue(f"{who}-{unique}", pub=[f"{unique}.>", *_reader_rights(stream)], sub=[f"{unique}.>"])
    fleet = await _connect(secure, f"fleet-{unique}", unique, made)
    await fleet.cover_latched()  # what the fleet does at start
    before = (await fleet.jetstream().stream_info(stream)).config
    assert before.subjects == fleet_latched_patterns(f"{unique}.0")

    robot = await _connect(secure, f"robot-{unique}", unique, made)
    publisher = await robot.create_publisher(endpoint(DESCRIPTION, String, LATCHED), String)
    await publisher.publish(String(data="<robot name='robot-7'/>"))
    zone = await _connect(secure, f"zone-{unique}", unique, made)
    got: asyncio.Queue[str] = asyncio.Queue()
    await zone.create_subscription(
        endpoint(DESCRIPTION, String, LATCHED), String, lambda m: got.put_nowait(m.data)
    )
    assert (
        await asyncio.wait_for(got.get(), TIMEOUT) == "<robot name='robot-7'/>"
    )  # stored: a late joiner has it
    after = (await fleet.jetstream().stream_info(stream)).config
    assert after.subjects == before.subjects
    assert robot.permission_violations == zone.permission_violations == 0


async def test_an_uncovered_subject_behaves_as_volatile_with_one_warning(
    secure: SecureBroker, unique: str, made: list[NatsTransport], caplog: pytest.LogCaptureFixture
) -> None:
    stream = stream_name(unique, "0")
    secure.issue(f"fleet-{unique}", pub=[f"{unique}.>", "$JS.API.>"], sub=[f"{unique}.>"])
    secure.issue(f"robot-{unique}", pub=[f"{unique}.>", *_reader_rights(stream)], sub=[f"{unique}.>"])
    fleet = await _connect(secure, f"fleet-{unique}", unique, made)
    await fleet.cover_latched()
    robot = await _connect(secure, f"robot-{unique}", unique, made)
    got: asyncio.Queue[str] = asyncio.Queue()
    with caplog.at_level(logging.WARNING):
        live = await robot.create_subscription(
            endpoint("/site_plan", String, LATCHED), String, lambda m: got.put_nowait(m.data)
        )
        publisher = await robot.create_publisher(endpoint("/site_plan", String, LATCHED), String)
        other = await robot.create_publisher(endpoint("/robot_description", String, LATCHED), String)
        await publisher.publish(String(data="live map"))  # the node keeps working
        assert await asyncio.wait_for(got.get(), TIMEOUT) == "live map"
        await other.publish(String(data="urdf"))
    assert live is not None
    info = await fleet.jetstream().stream_info(stream)
    assert info.config.subjects == fleet_latched_patterns(f"{unique}.0")  # unchanged
    lines = [r.getMessage() for r in caplog.records if "behaves as volatile" in r.getMessage()]
    assert len([line for line in lines if f"{unique}.0.t.site_plan:" in line]) == 1, lines
    assert any("robot_description" in line for line in lines), lines
    assert all("cover the subject" in line for line in lines)
    assert robot.connected


async def test_without_stream_rights_cover_latched_is_refused(
    secure: SecureBroker, unique: str, made: list[NatsTransport]
) -> None:
    secure.issue(f"robot-{unique}", pub=[f"{unique}.>"], sub=[f"{unique}.>"])
    robot = await _connect(secure, f"robot-{unique}", unique, made)
    with pytest.raises(TransportError, match="must be allowed to manage streams"):
        await robot.cover_latched()


async def test_cover_latched_replaces_the_exact_subjects_a_pattern_covers(
    nats_url: str, unique: str, made: list[NatsTransport]
) -> None:
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    made.append(transport)
    await transport.connect()
    await transport.create_publisher(endpoint(STATUS, String, LATCHED), String)  # open mode: adds it
    await transport.create_publisher(endpoint("/map", String, LATCHED), String)
    await transport.cover_latched(depth=2)
    info: Any = await transport.jetstream().stream_info(stream_name(unique, "0"))
    assert sorted(info.config.subjects) == sorted(
        [f"{unique}.0.a.robots.robot-7.execute._action.status", *fleet_latched_patterns(f"{unique}.0")]
    )
    assert info.config.max_msgs_per_subject == 2
