"""``encoding="auto"``: CDR for bulk numeric data, JSON otherwise; overrides; readers follow headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _transport_helpers import endpoint

from robotfleet_nodes.config import load_config
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import Encoding
from robotfleet_nodes.transport._encoding import auto_encoding, parse_encoding, resolve_encoding
from robotfleet_nodes.transport.nats import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

TIMEOUT = 5.0
_REGISTRY = default_registry()
_REGISTRY.add_text("rfos_enc_test/msg/Deep", "sensor_msgs/Image[] frames\n")
_REGISTRY.add_text("rfos_enc_test/msg/SmallFixed", "uint8[16] uuid\nfloat64[9] covariance\n")
_REGISTRY.add_text("rfos_enc_test/msg/BoundedFloats", "float32[<=8] values\n")
_REGISTRY.add_text("rfos_enc_test/msg/Strings", "string[] names\n")


def cls(name: str) -> Any:
    return _REGISTRY.get_class(name)


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [
        ("sensor_msgs/msg/Image", Encoding.CDR),
        ("sensor_msgs/msg/CompressedImage", Encoding.CDR),
        ("sensor_msgs/msg/PointCloud2", Encoding.CDR),
        ("sensor_msgs/msg/LaserScan", Encoding.CDR),
        ("nav_msgs/msg/OccupancyGrid", Encoding.CDR),
        ("std_msgs/msg/UInt8MultiArray", Encoding.CDR),
        ("std_msgs/msg/Float64MultiArray", Encoding.CDR),
        ("sensor_msgs/msg/JointState", Encoding.CDR),
        ("rfos_enc_test/msg/Deep", Encoding.CDR),  # nested in a sequence of messages
        ("rfos_enc_test/msg/BoundedFloats", Encoding.CDR),  # a bounded sequence
        ("std_msgs/msg/String", Encoding.JSON),
        ("geometry_msgs/msg/Twist", Encoding.JSON),
        ("sensor_msgs/msg/Imu", Encoding.JSON),  # float64[9] covariances: fixed and small
        ("nav_msgs/msg/Odometry", Encoding.JSON),
        ("action_msgs/msg/GoalStatusArray", Encoding.JSON),  # a 16-byte UUID per goal
        ("rfos_enc_test/msg/SmallFixed", Encoding.JSON),
        ("rfos_enc_test/msg/Strings", Encoding.JSON),  # strings are not numeric
    ],
)
def test_auto_encoding_per_type(type_name: str, expected: Encoding) -> None:
    assert auto_encoding(cls(type_name)) is expected


def test_explicit_encoding_wins_over_auto() -> None:
    image = cls("sensor_msgs/msg/Image")
    assert resolve_encoding("json", image) is Encoding.JSON
    assert resolve_encoding(Encoding.CDR, cls("std_msgs/msg/String")) is Encoding.CDR
    assert resolve_encoding("auto", image) is Encoding.CDR
    with pytest.raises(ConfigError, match="auto, json or cdr"):
        parse_encoding("xml")


@pytest.fixture
async def pair(nats_url: str, unique: str) -> AsyncIterator[tuple[NatsTransport, NatsTransport]]:
    a = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    b = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    await a.connect()
    await b.connect()
    yield a, b
    await a.close()
    await b.close()


async def _headers_of(
    sender: NatsTransport, receiver: NatsTransport, msg: Any, *, encoding: Any = None
) -> tuple[dict[str, str], Any]:
    """(raw headers, decoded message) of ``msg`` published by ``sender``."""
    msg_type = type(msg)
    raw: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    typed: asyncio.Queue[Any] = asyncio.Queue()
    name = f"/enc_{msg_type.__name__.lower()}_{encoding}"

    async def on_raw(m: Any) -> None:
        raw.put_nowait(dict(m.headers or {}))

    sub = await receiver.subscribe_raw(receiver.mapper.topic(name), on_raw)
    await receiver.create_subscription(endpoint(name, msg_type), msg_type, typed.put_nowait)
    pub = await sender.create_publisher(endpoint(name, msg_type), msg_type, encoding=encoding)
    await pub.publish(msg)
    headers = await asyncio.wait_for(raw.get(), TIMEOUT)
    decoded = await asyncio.wait_for(typed.get(), TIMEOUT)
    await sub.unsubscribe()
    return headers, decoded


async def test_auto_sends_images_as_cdr_and_strings_as_json(
    pair: tuple[NatsTransport, NatsTransport],
) -> None:
    a, b = pair
    image = cls("sensor_msgs/msg/Image")(
        height=2, width=2, encoding="mono8", step=2, data=b"\x01\x02\x03\x04"
    )
    headers, got = await _headers_of(a, b, image)
    assert headers["rfos-enc"] == "cdr"
    assert bytes(got.data) == b"\x01\x02\x03\x04"
    headers, got = await _headers_of(a, b, cls("std_msgs/msg/String")(data="hi"))
    assert headers["rfos-enc"] == "json"
    assert got.data == "hi"


async def test_a_publisher_overrides_the_transport_encoding(
    pair: tuple[NatsTransport, NatsTransport],
) -> None:
    a, b = pair
    image = cls("sensor_msgs/msg/Image")(height=1, width=1, encoding="mono8", step=1, data=b"\x07")
    headers, got = await _headers_of(a, b, image, encoding=Encoding.JSON)
    assert headers["rfos-enc"] == "json"
    assert bytes(got.data) == b"\x07"
    headers, got = await _headers_of(a, b, cls("std_msgs/msg/String")(data="x"), encoding="cdr")
    assert headers["rfos-enc"] == "cdr"
    assert got.data == "x"


async def test_an_explicit_transport_encoding_forces_every_type(nats_url: str, unique: str) -> None:
    a = NatsTransport(nats_url, mapper=SubjectMapper(root=unique), encoding="json")
    b = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    await a.connect()
    await b.connect()
    try:
        image = cls("sensor_msgs/msg/Image")(height=1, width=1, encoding="mono8", step=1, data=b"\x09")
        headers, got = await _headers_of(a, b, image)
        assert headers["rfos-enc"] == "json"
        assert bytes(got.data) == b"\x09"
    finally:
        await a.close()
        await b.close()


async def test_service_requests_and_replies_choose_per_type(
    pair: tuple[NatsTransport, NatsTransport],
) -> None:
    """nav_msgs/srv/GetMap: an empty request (JSON) and a map reply (CDR); both sides decode by header."""
    a, b = pair
    get_map: Any = _REGISTRY.get_interface("nav_msgs/srv/GetMap")
    grid = cls("nav_msgs/msg/OccupancyGrid")(data=[1, -1, 100, 0])
    grid.info.width, grid.info.height = 2, 2
    await a.create_service(endpoint("/map_server", get_map), get_map, lambda _req: get_map.Response(map=grid))
    replies: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    inbox = b.client.new_inbox()

    async def on_reply(m: Any) -> None:
        replies.put_nowait(dict(m.headers or {}))

    sub = await b.subscribe_raw(inbox, on_reply)
    client = await b.create_client(endpoint("/map_server", get_map), get_map)
    response = await client.call(get_map.Request(), timeout=TIMEOUT)
    assert list(response.map.data) == [1, -1, 100, 0]
    # what the reply looks like on the wire
    await b.client.publish(a.mapper.service("/map_server"), b"{}", reply=inbox)
    headers = await asyncio.wait_for(replies.get(), TIMEOUT)
    assert headers["rfos-enc"] == "cdr"
    await sub.unsubscribe()


def test_messaging_config_encoding_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "zone.yaml"
    path.write_text("zone_id: zone-1\nmessaging:\n  encoding: json\n")
    assert load_config("zone", path, environ={}).messaging.encoding == "json"
    assert load_config("zone", path, environ={"MESSAGING_ENCODING": "cdr"}).messaging.encoding == "cdr"
    assert load_config("zone", None, environ={}).messaging.encoding == "auto"
    with pytest.raises(ConfigError, match=r"MESSAGING_ENCODING.*messaging\.encoding"):
        load_config("zone", None, environ={"MESSAGING_ENCODING": "xml"})
