"""TypeRegistry: loading packages, lookups, standard interfaces, the default registry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robotfleet_nodes.errors import InterfaceError, UnknownInterfaceError
from robotfleet_nodes.idl import (
    ActionSpec,
    ArrayKind,
    FieldType,
    MessageSpec,
    ServiceSpec,
    TypeRegistry,
    default_registry,
)
from robotfleet_nodes.idl import _registry as registry_module

PACKAGE = Path(__file__).parent / "data" / "rfos_test_msgs"


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    registry = TypeRegistry()
    registry.load_package("rfos_test_msgs", PACKAGE)
    return registry


def test_load_package_returns_names() -> None:
    names = TypeRegistry().load_package("rfos_test_msgs", PACKAGE)
    assert names == [
        "rfos_test_msgs/action/Move",
        "rfos_test_msgs/msg/Everything",
        "rfos_test_msgs/msg/Inner",
        "rfos_test_msgs/srv/Compute",
    ]


def test_get_spec_name_forms(registry: TypeRegistry) -> None:
    spec = registry.get_spec("rfos_test_msgs/msg/Inner")
    assert registry.get_spec("rfos_test_msgs/Inner") is spec
    assert isinstance(spec, MessageSpec)
    assert spec.source == str(PACKAGE / "msg" / "Inner.msg")
    assert isinstance(registry.get_spec("rfos_test_msgs/srv/Compute"), ServiceSpec)
    assert isinstance(registry.get_spec("rfos_test_msgs/action/Move"), ActionSpec)
    assert registry.message_spec("rfos_test_msgs/srv/Compute_Request").fields[0].name == "a"
    assert registry.message_spec("rfos_test_msgs/action/Move_Feedback").name == "Move_Feedback"


def test_unknown_name_lists_close_matches(registry: TypeRegistry) -> None:
    with pytest.raises(UnknownInterfaceError, match="did you mean 'rfos_test_msgs/msg/Inner'"):
        registry.get_spec("rfos_test_msgs/msg/Iner")
    with pytest.raises(LookupError, match="geometry_msgs/msg/PoseStamped"):
        registry.get_spec("geometry_msgs/PoseStampd")


def test_message_spec_refuses_a_service(registry: TypeRegistry) -> None:
    with pytest.raises(UnknownInterfaceError, match="Compute_Request"):
        registry.message_spec("rfos_test_msgs/srv/Compute")


def test_names_by_kind(registry: TypeRegistry) -> None:
    assert registry.names("srv") == ["rfos_test_msgs/srv/Compute"]
    assert registry.names("action") == ["rfos_test_msgs/action/Move"]
    messages = registry.names("msg")
    assert "rfos_test_msgs/msg/Everything" in messages
    assert "sensor_msgs/msg/BatteryState" in messages
    assert messages == sorted(messages)
    assert "std_msgs" in registry.packages()
    with pytest.raises(ValueError, match="kind"):
        registry.names("topic")


def test_resolve_nested_field(registry: TypeRegistry) -> None:
    everything = registry.message_spec("rfos_test_msgs/msg/Everything")
    pose = next(f for f in everything.fields if f.name == "pose")
    assert registry.resolve(pose.type).full_name == "geometry_msgs/msg/Pose"
    assert registry.resolve("rfos_test_msgs/Inner").name == "Inner"


def test_standard_types_convert_from_rosbags() -> None:
    registry = TypeRegistry()
    battery = registry.message_spec("sensor_msgs/msg/BatteryState")
    constants = {c.name: c.value for c in battery.constants}
    assert constants["POWER_SUPPLY_STATUS_CHARGING"] == 1
    types = {f.name: f.type for f in battery.fields}
    assert types["header"] == FieldType("std_msgs/msg/Header")
    assert types["cell_voltage"] == FieldType("float32", None, ArrayKind.UNBOUNDED)
    assert battery.text.startswith("uint8 POWER_SUPPLY_STATUS_UNKNOWN=0")
    assert "====" not in battery.text
    assert "MSG:" not in battery.text
    camera = {f.name: f.type for f in registry.message_spec("sensor_msgs/CameraInfo").fields}
    assert camera["k"] == FieldType("float64", None, ArrayKind.FIXED, 9)
    # rosbags loses defaults and adds rosidl's empty-message placeholder: both corrected
    quaternion = registry.message_spec("geometry_msgs/msg/Quaternion")
    assert [(f.name, f.default) for f in quaternion.fields if f.has_default] == [("w", 1.0)]
    assert registry.message_spec("rcl_interfaces/msg/ParameterType").fields == ()


def test_standard_packages_load_lazily() -> None:
    registry = TypeRegistry()
    assert not registry._messages
    registry.get_spec("std_msgs/msg/String")
    assert {name.split("/")[0] for name in registry._messages} == {"std_msgs"}


def test_without_standard_types() -> None:
    registry = TypeRegistry(standard=False)
    assert registry.names() == []
    with pytest.raises(InterfaceError, match="unknown type 'std_msgs/msg/Header'"):
        registry.add_text("p/msg/T", "std_msgs/Header header")


def test_duplicates_are_refused_identical_readd_is_a_no_op() -> None:
    registry = TypeRegistry()
    registry.add_text("p/msg/T", "int32 a", source="T.msg")
    registry.add_text("p/msg/T", "int32 a", source="T.msg")
    with pytest.raises(InterfaceError, match="already registered"):
        registry.add_text("p/msg/T", "int64 a", source="other/T.msg")
    with pytest.raises(InterfaceError, match="already registered"):
        registry.add_text("std_msgs/msg/String", "string text")
    assert registry.load_package("rfos_test_msgs", PACKAGE) == registry.load_package(
        "rfos_test_msgs", PACKAGE
    )


def test_standard_packages_can_gain_services() -> None:
    registry = TypeRegistry()
    registry.add_text("std_srvs/srv/Trigger", "---\nbool success\nstring message")
    registry.add_text("action_msgs/srv/CancelGoal", "action_msgs/GoalInfo goal_info\n---\nint8 return_code")
    assert registry.names("srv") == ["action_msgs/srv/CancelGoal", "std_srvs/srv/Trigger"]
    assert "action_msgs/msg/GoalStatus" in registry


def test_deferred_validation_across_interfaces() -> None:
    registry = TypeRegistry()
    registry.add_text("p/msg/A", "B b", validate=False)
    registry.add_text("p/msg/B", "int32 x", validate=False)
    registry.validate()
    assert registry.get_class("p/msg/A")().b.x == 0


def test_classes_are_cached(registry: TypeRegistry) -> None:
    inner = registry.get_class("rfos_test_msgs/msg/Inner")
    assert registry.get_class("rfos_test_msgs/Inner") is inner
    everything = registry.get_class("rfos_test_msgs/msg/Everything")
    assert everything.model_fields["inner"].annotation is inner


def test_default_registry_knows_own_and_env_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "robotfleet_nodes/msg/Heartbeat" in default_registry().names("msg")
    previous = list(registry_module._default)
    monkeypatch.setenv("RFOS_INTERFACE_PATH", str(PACKAGE))
    registry_module._reset_default_registry()
    try:
        fresh = default_registry()
        assert fresh is default_registry()
        assert "rfos_test_msgs/srv/Compute" in fresh.names("srv")
        assert "robotfleet_nodes/msg/Heartbeat" in fresh
    finally:
        registry_module._default[:] = previous


def test_default_registry_leaves_out_a_bad_user_package_with_one_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    good, bad, other = tmp_path / "good_msgs", tmp_path / "bad_msgs", tmp_path / "other_msgs"
    for package in (good, bad, other):
        (package / "msg").mkdir(parents=True)
    (good / "msg" / "Uses.msg").write_text("bad_msgs/Fine fine\n")  # refers to the bad package
    (good / "msg" / "Own.msg").write_text("int32 x\n")
    (other / "msg" / "Other.msg").write_text("int32 z\n")
    (bad / "msg" / "Fine.msg").write_text("int32 y\n")
    (bad / "msg" / "Broken.msg").write_text("nowhere_msgs/Thing thing\n")
    previous = list(registry_module._default)
    monkeypatch.setenv("RFOS_INTERFACE_PATH", os.pathsep.join(map(str, (good, bad, other))))
    registry_module._reset_default_registry()
    try:
        fresh = default_registry()
        assert "other_msgs/msg/Other" in fresh
        assert "bad_msgs/msg/Fine" not in fresh and "bad_msgs/msg/Broken" not in fresh
        assert "good_msgs/msg/Own" not in fresh  # whole: its Uses refers to the left-out package
        assert len(fresh.load_errors) == 2, fresh.load_errors  # bad_msgs, then good_msgs
        assert fresh.load_errors[0].startswith(f"interface package bad_msgs ({bad}) left out: ")
        assert "unknown type 'nowhere_msgs/msg/Thing'" in fresh.load_errors[0]
        assert "unknown type 'bad_msgs/msg/Fine'" in fresh.load_errors[1]
        assert "std_msgs/msg/String" in fresh
    finally:
        registry_module._default[:] = previous


def test_add_texts_registers_types_that_refer_to_each_other_all_or_nothing() -> None:
    registry = TypeRegistry()
    added = registry.add_texts(
        {
            "bag_msgs/msg/Outer": "bag_msgs/Inner inner\ngeometry_msgs/Point where\n",
            "bag_msgs/msg/Inner": "string name\n",
            "std_msgs/msg/String": "string data\n",  # identical to the known one: adds nothing
        },
        source="a.mcap",
    )
    assert sorted(added) == ["bag_msgs/msg/Inner", "bag_msgs/msg/Outer"]
    assert registry.get_class("bag_msgs/msg/Outer")(inner={"name": "x"}).inner.name == "x"

    with pytest.raises(InterfaceError, match="std_msgs/msg/Bool is already registered"):
        registry.add_texts({"bag_msgs/msg/New": "int32 a\n", "std_msgs/msg/Bool": "int32 data\n"})
    assert "bag_msgs/msg/New" not in registry  # rolled back with the conflicting one
    with pytest.raises(InterfaceError, match="unknown type"):
        registry.add_texts({"bag_msgs/msg/Dangling": "bag_msgs/Missing m\n"})
    assert "bag_msgs/msg/Dangling" not in registry
