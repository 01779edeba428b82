"""RIHS01 type hashes equal the ones ROS 2 publishes (and rosbags computes)."""

from __future__ import annotations

import pytest
import rosbags.typesys.store as rosbags_store
from _rosbags_helpers import SimpleRegistry, spec_from_rosbags, typestore

from robotfleet_nodes.errors import InterfaceError
from robotfleet_nodes.idl._hash import action_type_hash, service_type_hash, type_description, type_hash
from robotfleet_nodes.idl._spec import ActionSpec, ArrayKind, Field, FieldType, MessageSpec, ServiceSpec

# Published by ROS 2 (rosidl_generator_c ``*__description.c`` of the named packages).
PUBLISHED = {
    "std_msgs/msg/String": "df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18",
    "std_msgs/msg/Char": "3ad2d04dd29ba19d04b16659afa3ccaedd691914b02a64e82e252f2fa6a586a9",
    "builtin_interfaces/msg/Time": "b106235e25a4c5ed35098aa0a61a3ee9c9b18d197f398b0e4206cea9acf9c197",
    "service_msgs/msg/ServiceEventInfo": "41bcbbe07a75c9b52bc96bfd5c24d7f0fc0a08c0cb7921b3373c5732345a6f45",
}


def _resolve(name: str) -> MessageSpec:
    try:
        return spec_from_rosbags(name)
    except KeyError:
        raise LookupError(name) from None


def _uses_char(name: str) -> bool:
    """Whether ``name`` or any type it references has a ``char`` field."""
    description = type_description(name, _resolve)
    types = [description["type_description"], *description["referenced_type_descriptions"]]
    return any("'char'" in repr(typestore().fielddefs[t["type_name"]][1]) for t in types)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_hashes(name: str) -> None:
    assert type_hash(name, _resolve) == "RIHS01_" + PUBLISHED[name]


def test_every_typestore_message_matches_rosbags(monkeypatch: pytest.MonkeyPatch) -> None:
    ts = typestore()
    names = sorted(ts.fielddefs)
    assert len(names) > 100
    # rosbags gives ``char`` the IDL CHAR id (13); ROS 2 turns ``.msg`` char into uint8 (3),
    # as the published hashes of std_msgs/Char and service_msgs/ServiceEventInfo show.
    plain = [n for n in names if not _uses_char(n)]
    for name in plain:
        assert type_hash(name, _resolve) == ts.hash_rihs01(name), name
    monkeypatch.setitem(rosbags_store.TIDMAP, "char", 3)
    for name in names:
        assert type_hash(name, _resolve) == ts.hash_rihs01(name), name


def test_nested_and_bounded_custom_type() -> None:
    reg = SimpleRegistry(
        MessageSpec(
            "fleet_msgs/msg/Inner",
            (
                Field("name", FieldType("string", 10)),
                Field("v", FieldType("float64", None, ArrayKind.FIXED, 3)),
            ),
        ),
        MessageSpec(
            "fleet_msgs/msg/Outer",
            (
                Field("header", FieldType("std_msgs/msg/Header")),
                Field("items", FieldType("fleet_msgs/msg/Inner", None, ArrayKind.BOUNDED, 4)),
                Field("tags", FieldType("string", 8, ArrayKind.UNBOUNDED)),
                Field("w", FieldType("wstring", 5)),
            ),
        ),
    )
    got = type_hash("fleet_msgs/msg/Outer", reg.message_spec)
    assert got.startswith("RIHS01_")
    assert len(got) == 7 + 64
    # rosbags cannot express bounded wstrings; compare the rest with it.
    assert got != type_hash("fleet_msgs/msg/Inner", reg.message_spec)
    without_w = MessageSpec("fleet_msgs/msg/Outer", reg.specs["fleet_msgs/msg/Outer"].fields[:3])
    reg.add(without_w)
    ts = typestore()
    ts.register(
        {
            "fleet_msgs/msg/Inner": (
                [],
                [("name", (1, ("string", 10))), ("v", (3, ((1, ("float64", 0)), 3)))],
            ),
            "fleet_msgs/msg/Outer": (
                [],
                [
                    ("header", (2, "std_msgs/msg/Header")),
                    ("items", (4, ((2, "fleet_msgs/msg/Inner"), 4))),
                    ("tags", (4, ((1, ("string", 8)), 0))),
                ],
            ),
        }
    )
    assert type_hash("fleet_msgs/msg/Outer", reg.message_spec) == ts.hash_rihs01("fleet_msgs/msg/Outer")


def test_unknown_reference_raises() -> None:
    reg = SimpleRegistry(MessageSpec("a/msg/A", (Field("b", FieldType("a/msg/Missing")),)))
    with pytest.raises(InterfaceError, match="a/msg/Missing"):
        type_hash("a/msg/A", reg.message_spec)


def test_service_hash_matches_published_turtlesim_spawn() -> None:
    request = MessageSpec(
        "turtlesim/srv/Spawn_Request",
        (
            Field("x", FieldType("float32")),
            Field("y", FieldType("float32")),
            Field("theta", FieldType("float32")),
            Field("name", FieldType("string")),
        ),
    )
    response = MessageSpec("turtlesim/srv/Spawn_Response", (Field("name", FieldType("string")),))
    spec = ServiceSpec("turtlesim/srv/Spawn", request, response)
    assert service_type_hash(spec, _resolve) == (
        "RIHS01_a71be24836f772debd6187dc8618cc47700d2602c7a3e2228bad67a8f5fd27b4"
    )
    reg = SimpleRegistry(request, response)
    assert type_hash("turtlesim/srv/Spawn_Request", reg.message_spec) == (
        "RIHS01_1e6ade2639543952ce3471ce7df5a75ec62040cebe60fca7c49be96cab87e47c"
    )


def test_action_hash_is_stable() -> None:
    def msg(name: str, field: str) -> MessageSpec:
        return MessageSpec(f"turtlesim/action/RotateAbsolute_{name}", (Field(field, FieldType("float32")),))

    spec = ActionSpec(
        "turtlesim/action/RotateAbsolute",
        msg("Goal", "theta"),
        msg("Result", "delta"),
        msg("Feedback", "remaining"),
    )
    got = action_type_hash(spec, _resolve)
    assert got == action_type_hash(spec, _resolve)
    assert got.startswith("RIHS01_")


def test_type_hash_of_class_is_cached() -> None:
    from robotfleet_nodes.idl._registry import default_registry
    from robotfleet_nodes.idl.codec import type_hash_of

    reg = default_registry()
    string = reg.get_class("std_msgs/msg/String")
    assert type_hash_of(string) == "RIHS01_" + PUBLISHED["std_msgs/msg/String"]
    assert type_hash_of(string) is type_hash_of(string)
    battery = reg.get_class("sensor_msgs/msg/BatteryState")
    assert type_hash_of(battery) == typestore().hash_rihs01("sensor_msgs/msg/BatteryState")


def test_type_hash_of_rejects_non_messages() -> None:
    from robotfleet_nodes.idl.codec import type_hash_of

    with pytest.raises(InterfaceError, match="not a message class"):
        type_hash_of(int)
