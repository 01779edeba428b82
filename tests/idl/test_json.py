"""JSON codec: lossless round trips with ROS field names, clean errors on bad input."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from robotfleet_nodes.errors import DecodeError
from robotfleet_nodes.idl._json import decode_json, encode_json
from robotfleet_nodes.idl._registry import TypeRegistry
from robotfleet_nodes.idl.codec import Encoding, deserialize, serialize

DEFINITION = """\
uint64 big
int64 small
float64 ratio
float32 level
float64[] samples
uint8[] blob
byte[4] magic
string name
string<=4 code
bool ok
int32 from
geometry_msgs/Pose2D pose
builtin_interfaces/Time[] stamps
"""


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    reg = TypeRegistry()
    reg.add_text("rfos_test/msg/JsonKinds", DEFINITION)
    return reg


@pytest.fixture(scope="module")
def cls(registry: TypeRegistry) -> Any:
    return registry.get_class("rfos_test/msg/JsonKinds")


def _sample(registry: TypeRegistry, cls: Any) -> Any:
    pose = registry.get_class("geometry_msgs/msg/Pose2D")
    time = registry.get_class("builtin_interfaces/msg/Time")
    return cls(
        big=2**64 - 1,
        small=-(2**63),
        ratio=0.1,
        level=-math.inf,
        samples=[math.inf, -0.0, 1e-310, 1.7976931348623157e308],
        blob=bytes(range(256)),
        magic=b"\x00\xff\x10\x80",
        name='robot \u00e9\u00e8 \U0001f916 "quoted" \\ \n',
        code="ab",
        ok=True,
        from_=-5,
        pose=pose(x=1.5, y=-2.25, theta=3.0),
        stamps=[time(sec=1, nanosec=2), time(sec=-3, nanosec=999_999_999)],
    )


def test_round_trip_is_lossless(registry: TypeRegistry, cls: Any) -> None:
    msg = _sample(registry, cls)
    data = encode_json(msg)
    assert isinstance(data, bytes)
    back = decode_json(cls, data)
    assert back == msg
    assert back.big == 2**64 - 1
    assert back.blob == bytes(range(256))


def test_keys_are_ros_names_and_integers_exact(registry: TypeRegistry, cls: Any) -> None:
    text = encode_json(_sample(registry, cls)).decode()
    assert '"from":-5' in text
    assert '"big":18446744073709551615' in text
    assert '"level":-Infinity' in text
    parsed = json.loads(text)  # Python's json reads the NaN/Infinity constants too
    assert parsed["from"] == -5
    assert parsed["pose"] == {"x": 1.5, "y": -2.25, "theta": 3.0}


def test_nan_round_trips(cls: Any) -> None:
    msg = cls(ratio=math.nan, samples=[math.nan, 1.0])
    data = encode_json(msg)
    assert b'"ratio":NaN' in data
    back = decode_json(cls, data)
    assert math.isnan(back.ratio)
    assert math.isnan(back.samples[0])
    assert back.samples[1] == 1.0


def test_accepts_str_bytearray_and_memoryview(registry: TypeRegistry, cls: Any) -> None:
    msg = _sample(registry, cls)
    data = encode_json(msg)
    assert decode_json(cls, data.decode()) == msg
    assert decode_json(cls, bytearray(data)) == msg
    assert decode_json(cls, memoryview(data)) == msg


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "Invalid JSON"),
        (b"{", "Invalid JSON"),
        (b"[1, 2]", "JsonKinds"),
        (b'{"big": -1}', "big"),
        (b'{"big": 18446744073709551616}', "big"),
        (b'{"code": "too long"}', "code"),
        (b'{"ok": "yes"}', "ok"),
        (b'{"unknown_field": 1}', "unknown_field"),
        (b'{"pose": {"x": "a"}}', "pose.x"),
        (b"\xff\xfe", "JsonKinds"),
    ],
)
def test_bad_input_raises_decode_error(cls: Any, data: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match) as info:
        decode_json(cls, data)
    assert "rfos_test/msg/JsonKinds" in str(info.value)


def test_facade_json_is_the_default(registry: TypeRegistry, cls: Any) -> None:
    msg = _sample(registry, cls)
    assert serialize(msg) == encode_json(msg)
    assert serialize(msg, Encoding.JSON) == serialize(msg, "json")
    assert deserialize(cls, serialize(msg)) == msg
    assert Encoding("json") is Encoding.JSON
    assert Encoding.CDR == "cdr"


def test_unvalidated_assignments_are_checked_when_encoding() -> None:
    """Assignments skip validation (hot path); the encoder converts or refuses, naming the field."""
    from robotfleet_nodes.errors import EncodeError
    from robotfleet_nodes.idl import default_registry
    from robotfleet_nodes.idl._json import encode_json

    types_srv = default_registry().get_interface("rcl_interfaces/srv/GetParameterTypes")
    response = types_srv.Response()
    response.types = [9, 2]  # a list for a uint8[] (bytes) field
    assert encode_json(response) == b'{"types":"CQI="}'
    int32 = default_registry().get_class("std_msgs/msg/Int32")
    msg = int32()
    msg.data = "seven"
    with pytest.raises(EncodeError, match=r"std_msgs/msg/Int32: data: Input should be a valid integer"):
        encode_json(msg)
