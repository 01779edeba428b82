"""When a second definition of an interface name is the same interface (accepted) or a
conflict (refused, with what differs): one row per rule."""

from __future__ import annotations

import pytest

from robotfleet_nodes.errors import InterfaceError
from robotfleet_nodes.idl import TypeRegistry, parse_interface
from robotfleet_nodes.idl._compare import definition_difference

BASE = "# a comment\nint32 a  # the a\nstring<=8 b\nint8 K=1\n"

CASES = [
    # (second definition, difference or None)
    ("int32 a\nstring<=8 b\nint8 K=1", None),  # comments and layout only
    ("\n\nint32   a\n\n string<=8 b # x\nint8 K = 1\n", None),
    ("int64 a\nstring<=8 b\nint8 K=1", "field 1 is 'int32 a' there, 'int64 a' here"),
    ("int32 a\nstring<=9 b\nint8 K=1", "field 2 is 'string<=8 b' there, 'string<=9 b' here"),
    ("int32 a\nstring b\nint8 K=1", "field 2 is 'string<=8 b' there, 'string b' here"),
    ("int32 a\nint8 K=1", "field 2 is 'string<=8 b' there, 'nothing' here"),
    ("int32 x\nstring<=8 b\nint8 K=1", "field 1 is 'int32 a' there, 'int32 x' here"),
    ("int32 a\nstring<=8 b\nint8 K=2", "constants differ"),
    ("int32 a\nstring<=8 b", "constants differ"),
    ("int32 a 5\nstring<=8 b\nint8 K=1", "field 1 is 'int32 a' there, 'int32 a 5' here"),
]


@pytest.mark.parametrize(("text", "difference"), CASES)
def test_definition_difference(text: str, difference: str | None) -> None:
    first = parse_interface(BASE, "p/msg/T")
    second = parse_interface(text, "p/msg/T")
    found = definition_difference(first, second)
    if difference is None:
        assert found is None
    else:
        assert found is not None and difference in found


def test_services_compare_both_parts_and_kinds() -> None:
    service = parse_interface("int32 a\n---\nbool ok", "p/srv/S")
    assert definition_difference(service, parse_interface("int32 a # c\n---\nbool ok", "p/srv/S")) is None
    found = definition_difference(service, parse_interface("int32 a\n---\nbool done", "p/srv/S"))
    assert found == "S_Response field 1 is 'bool ok' there, 'bool done' here"
    message = parse_interface("int32 a", "p/msg/S")
    assert definition_difference(service, message) == "a service there, a message here"


def test_registry_accepts_a_built_in_type_again_and_names_the_conflict() -> None:
    registry = TypeRegistry()
    # rosbags lost the defaults of the standard messages: ROS 2's file with them is accepted.
    registry.add_text("geometry_msgs/msg/Quaternion", "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n")
    registry.add_text("std_msgs/msg/String", "# ROS 2's String\nstring data\n", source="String.msg")
    with pytest.raises(InterfaceError) as caught:
        registry.add_text("std_msgs/msg/String", "wstring data\n", source="my/String.msg")
    assert str(caught.value) == (
        "my/String.msg: std_msgs/msg/String is already registered with another definition "
        "(the built-in ROS 2 interfaces): String field 1 is 'string data' there, 'wstring data' here; "
        "use the registered definition unchanged or give your package another name"
    )
