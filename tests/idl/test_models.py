"""Generated pydantic classes: construction, defaults, constants, validation, imports."""

from __future__ import annotations

import array
import json
from pathlib import Path

import numpy as np
import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from robotfleet_nodes.idl import (
    INTEGER_RANGES,
    Action,
    Message,
    Service,
    TypeRegistry,
    get_interface,
    get_message_class,
)

PACKAGE = Path(__file__).parent / "data" / "rfos_test_msgs"


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    registry = TypeRegistry()
    registry.load_package("rfos_test_msgs", PACKAGE)
    return registry


@pytest.fixture(scope="module")
def everything(registry: TypeRegistry) -> type[Message]:
    return registry.get_class("rfos_test_msgs/msg/Everything")


def test_own_message_imports_like_ros() -> None:
    from robotfleet_nodes.msg import Heartbeat

    assert Heartbeat.__ros_type__ == "robotfleet_nodes/msg/Heartbeat"
    assert Heartbeat.__name__ == "Heartbeat"
    assert (Heartbeat.STATE_OK, Heartbeat.STATE_DEGRADED, Heartbeat.STATE_ERROR) == (0, 1, 2)
    beat = Heartbeat(id="robot_0001", seq=7, state=Heartbeat.STATE_OK, load=0.25)
    assert beat.stamp.sec == 0
    import robotfleet_nodes.msg as module

    assert "Heartbeat" in dir(module)


def test_standard_messages_import_through_the_hook() -> None:
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import String

    assert String(data="hi").data == "hi"
    assert String.__ros_type__ == "std_msgs/msg/String"
    pose = PoseStamped()
    assert pose.header.stamp.nanosec == 0
    assert pose.pose.orientation.w == 1.0
    assert PoseStamped.__module__ == "geometry_msgs.msg"
    with pytest.raises(ImportError):
        from std_msgs.msg import NoSuchType  # noqa: F401


def test_battery_state_constants() -> None:
    from sensor_msgs.msg import BatteryState

    assert BatteryState.POWER_SUPPLY_STATUS_CHARGING == 1
    assert BatteryState.POWER_SUPPLY_TECHNOLOGY_LION == 2
    assert BatteryState(percentage=0.5).cell_voltage == array.array("f")


def test_zero_values_and_declared_defaults(everything: type[Message]) -> None:
    msg = everything()
    assert (msg.b, msg.by, msg.ch, msg.f64, msg.u64, msg.s, msg.ws) == (False, 0, 0, 0.0, 0, "", "")
    assert msg.fixed_ints == [0, 0, 0]
    assert msg.bounded_floats == array.array("d")
    assert msg.flags == []
    assert msg.blob == b""
    assert msg.magic == b"\0\0\0\0"
    assert msg.small_blob == b""
    assert msg.pair == ["", ""]
    assert (msg.with_default, msg.ratio, msg.enabled, msg.motto, msg.code) == (
        42,
        0.25,
        True,
        "keep # going",
        "ab",
    )
    assert msg.weights == array.array("d", [1.0, 2.5])
    assert msg.labels == ["a", "b,c"]
    assert msg.offsets == [-1, 1]
    assert msg.inner.label == "inner"
    assert len(msg.inner_pair) == 2
    assert msg.inner_pair[0] is not msg.inner_pair[1]
    assert msg.inner_list == []


def test_defaults_are_not_shared(everything: type[Message]) -> None:
    first, second = everything(), everything()
    first.weights.append(9.0)
    first.inner.value = 5
    assert second.weights == array.array("d", [1.0, 2.5])
    assert second.inner.value == 0


def test_constants_and_class_metadata(everything: type[Message]) -> None:
    assert everything.UINT64_MAX == 2**64 - 1
    assert everything.GREETING == "hello world"
    assert everything.__ros_type__ == "rfos_test_msgs/msg/Everything"
    assert everything.__ros_spec__.full_name == everything.__ros_type__
    assert everything.__name__ == "Everything"
    assert "UINT64_MAX" not in everything.model_fields


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("u8", 256, "less than or equal to 255"),
        ("i8", -129, "greater than or equal to -128"),
        ("u64", -1, "greater than or equal to 0"),
        ("i32", True, "valid integer"),
        ("i32", 1.5, "valid integer"),
        ("i32", "3", "valid integer"),
        ("f64", "1.0", "valid number"),
        ("b", 1, "valid boolean"),
        ("s", b"x", "valid string"),
        ("short_name", "abcdef", "at most 5 characters"),
        ("tags", ["a", "b", "c", "d"], "at most 3 items"),
        ("tags", ["abcdefg"], "at most 5 characters"),
        ("fixed_ints", [1, 2], "at least 3 items"),
        ("fixed_ints", [1, 2, 3, 4], "at most 3 items"),
        ("magic", b"abc", "at least 4 items"),
        ("small_blob", bytes(17), "at most 16 items"),
        ("blob", [256], "range"),
        ("inner", 5, "Inner"),
    ],
)
def test_validation_errors_name_type_and_field(
    everything: type[Message], field: str, value: object, error: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        everything(**{field: value})
    text = str(info.value)
    assert "Everything" in text
    assert field in text
    assert error in text
    assert isinstance(info.value, ValueError)


def test_unknown_field_is_rejected(everything: type[Message]) -> None:
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        everything(no_such_field=1)


def test_coercions(everything: type[Message]) -> None:
    msg = everything(
        f32=1,
        blob=[1, 2, 255],
        magic=bytearray(b"RFOS"),
        small_blob=np.arange(3, dtype=np.uint8),
        bounded_floats=(1.0, 2),
        flags=np.array([True, False]),
        weights=np.linspace(0.0, 1.0, 3),
        inner={"value": 3},
    )
    assert msg.f32 == 1.0
    assert isinstance(msg.f32, float)
    assert msg.blob == b"\x01\x02\xff"
    assert msg.magic == b"RFOS"
    assert msg.small_blob == b"\x00\x01\x02"
    assert msg.bounded_floats == array.array("d", [1.0, 2.0])
    assert msg.flags == [True, False]
    assert msg.weights == array.array("d", [0.0, 0.5, 1.0])
    assert msg.inner.value == 3


def test_json_round_trip_uses_ros_names(registry: TypeRegistry) -> None:
    registry.add_text("p/msg/Keywords", "int32 from\nstring json\nuint8[] data\nfloat64 x")
    cls = registry.get_class("p/msg/Keywords")
    msg = cls(from_=3, json_="j", data=b"\x00\x01", x=float("inf"))
    raw = msg.model_dump_json()
    assert json.loads(raw) == {"from": 3, "json": "j", "data": "AAE=", "x": float("inf")}
    assert '"x":Infinity' in raw
    assert cls.model_validate_json(msg.model_dump_json()) == msg
    assert cls(**{"from": 4}).from_ == 4


def test_service_and_action_namespaces(registry: TypeRegistry) -> None:
    compute = registry.get_interface("rfos_test_msgs/srv/Compute")
    assert issubclass(compute, Service)
    assert compute.__ros_type__ == "rfos_test_msgs/srv/Compute"
    assert compute.Request(a=1, b=2).hint.label == "inner"
    assert compute.Response().ok is True
    assert compute.Request.__ros_type__ == "rfos_test_msgs/srv/Compute_Request"
    move = registry.get_interface("rfos_test_msgs/action/Move")
    assert issubclass(move, Action)
    assert move.Goal().speed == 0.5
    assert move.Result.CODE_BLOCKED == 1
    assert move.Feedback(progress=0.5).progress == 0.5


def test_facade_helpers() -> None:
    from std_msgs.msg import Header

    assert get_message_class("std_msgs/Header") is Header
    assert get_interface("std_msgs/msg/Header") is Header


@given(st.sampled_from(sorted(INTEGER_RANGES)), st.integers(-(2**65), 2**65))
def test_integer_ranges_enforced(base: str, value: int) -> None:
    registry = _integer_registry()
    cls = registry.get_class(f"ints/msg/{base.capitalize()}")
    low, high = INTEGER_RANGES[base]
    if low <= value <= high:
        assert cls(v=value).v == value
    else:
        with pytest.raises(pydantic.ValidationError):
            cls(v=value)


_INTS: list[TypeRegistry] = []


def _integer_registry() -> TypeRegistry:
    if not _INTS:
        registry = TypeRegistry(standard=False)
        for base in INTEGER_RANGES:
            registry.add_text(f"ints/msg/{base.capitalize()}", f"{base} v")
        _INTS.append(registry)
    return _INTS[0]
