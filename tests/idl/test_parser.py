"""The .msg / .srv / .action grammar: what a valid file parses into."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from robotfleet_nodes.errors import InterfaceError, MsgSyntaxError
from robotfleet_nodes.idl import (
    INTEGER_RANGES,
    ActionSpec,
    ArrayKind,
    FieldType,
    MessageSpec,
    ServiceSpec,
    parse_action,
    parse_interface,
    parse_message,
    parse_service,
)
from robotfleet_nodes.idl._parser import parse_interface_with_lines

PACKAGE = Path(__file__).parent / "data" / "rfos_test_msgs"
EVERYTHING = PACKAGE / "msg" / "Everything.msg"


@pytest.fixture(scope="module")
def everything() -> MessageSpec:
    return parse_message(EVERYTHING.read_text(), "rfos_test_msgs/msg/Everything", source=str(EVERYTHING))


def test_everything_keeps_name_text_and_source(everything: MessageSpec) -> None:
    assert everything.full_name == "rfos_test_msgs/msg/Everything"
    assert everything.text == EVERYTHING.read_text()
    assert everything.source == str(EVERYTHING)
    assert len(everything.fields) >= 40


def test_every_primitive_parses(everything: MessageSpec) -> None:
    types = {f.name: f.type for f in everything.fields}
    for name, base in [
        ("b", "bool"), ("by", "byte"), ("ch", "char"), ("f32", "float32"), ("f64", "float64"),
        ("i8", "int8"), ("u8", "uint8"), ("i16", "int16"), ("u16", "uint16"), ("i32", "int32"),
        ("u32", "uint32"), ("i64", "int64"), ("u64", "uint64"), ("s", "string"), ("ws", "wstring"),
    ]:  # fmt: skip
        assert types[name] == FieldType(base)


def test_arrays_and_bounds(everything: MessageSpec) -> None:
    types = {f.name: f.type for f in everything.fields}
    assert types["fixed_ints"] == FieldType("int32", None, ArrayKind.FIXED, 3)
    assert types["bounded_floats"] == FieldType("float64", None, ArrayKind.BOUNDED, 4)
    assert types["flags"] == FieldType("bool", None, ArrayKind.UNBOUNDED)
    assert types["short_name"] == FieldType("string", 5)
    assert types["short_wide"] == FieldType("wstring", 10)
    assert types["tags"] == FieldType("string", 5, ArrayKind.BOUNDED, 3)
    assert str(types["tags"]) == "string<=5[<=3]"
    assert types["pair"] == FieldType("string", None, ArrayKind.FIXED, 2)


def test_nested_names_are_normalised(everything: MessageSpec) -> None:
    types = {f.name: f.type for f in everything.fields}
    assert types["inner"].base == "rfos_test_msgs/msg/Inner"
    assert types["inner_pair"] == FieldType("rfos_test_msgs/msg/Inner", None, ArrayKind.FIXED, 2)
    assert types["inner_list"].base == "rfos_test_msgs/msg/Inner"
    assert types["inner_bounded"] == FieldType("rfos_test_msgs/msg/Inner", None, ArrayKind.BOUNDED, 2)
    assert types["pose"].base == "geometry_msgs/msg/Pose"
    assert types["stamp"].base == "builtin_interfaces/msg/Time"
    assert types["header"].base == "std_msgs/msg/Header"


def test_constants_of_every_kind(everything: MessageSpec) -> None:
    values = {c.name: c.value for c in everything.constants}
    assert values == {
        "FLAG_ON": True,
        "BYTE_MAX": 255,
        "CHAR_A": 65,
        "INT8_MIN": -128,
        "UINT8_MAX": 255,
        "INT16_MIN": -32768,
        "UINT16_MAX": 65535,
        "INT32_MIN": -(2**31),
        "UINT32_MAX": 2**32 - 1,
        "INT64_MIN": -(2**63),
        "UINT64_MAX": 2**64 - 1,
        "HALF": 0.5,
        "PI": 3.14159265358979,
        "GREETING": "hello world",
        "QUOTED": "a # not a comment",
        "WIDE": "wide",
    }
    greeting = next(c for c in everything.constants if c.name == "GREETING")
    assert greeting.comment.startswith("unquoted")


def test_defaults(everything: MessageSpec) -> None:
    fields = {f.name: f for f in everything.fields}
    assert not fields["i32"].has_default
    defaults = {f.name: f.default for f in everything.fields if f.has_default}
    assert defaults == {
        "with_default": 42,
        "ratio": 0.25,
        "enabled": True,
        "motto": "keep # going",
        "code": "ab",
        "weights": [1.0, 2.5],
        "labels": ["a", "b,c"],
        "offsets": [-1, 1],
    }


def test_trailing_comments_are_kept(everything: MessageSpec) -> None:
    fields = {f.name: f for f in everything.fields}
    assert fields["blob"].comment == "bytes"
    assert fields["header"].comment == "ROS 1 style, means std_msgs/Header"
    assert fields["i32"].comment == ""


def test_line_numbers_are_recorded() -> None:
    spec, lines = parse_interface_with_lines("# c\n\nint32 a\nstring b\n", "p/msg/T")
    assert isinstance(spec, MessageSpec)
    assert lines == {"p/msg/T": {"a": 3, "b": 4}}


def test_service_parts() -> None:
    path = PACKAGE / "srv" / "Compute.srv"
    spec = parse_service(path.read_text(), "rfos_test_msgs/srv/Compute", source=str(path))
    assert isinstance(spec, ServiceSpec)
    assert spec.request.full_name == "rfos_test_msgs/srv/Compute_Request"
    assert spec.response.full_name == "rfos_test_msgs/srv/Compute_Response"
    assert [f.name for f in spec.request.fields] == ["a", "b", "hint"]
    assert spec.request.fields[2].type.base == "rfos_test_msgs/msg/Inner"
    assert spec.response.fields[1].default is True
    assert spec.source == str(path)


def test_action_parts() -> None:
    path = PACKAGE / "action" / "Move.action"
    spec = parse_action(path.read_text(), "rfos_test_msgs/action/Move", source=str(path))
    assert isinstance(spec, ActionSpec)
    assert [p.full_name.rsplit("/", 1)[1] for p in (spec.goal, spec.result, spec.feedback)] == [
        "Move_Goal",
        "Move_Result",
        "Move_Feedback",
    ]
    assert [c.name for c in spec.result.constants] == ["CODE_OK", "CODE_BLOCKED"]
    assert spec.feedback.fields[0].name == "progress"


def test_short_names_and_kind_dispatch() -> None:
    assert parse_message("int32 a", "p/T").full_name == "p/msg/T"
    assert isinstance(parse_interface("int32 a\n---\n", "p/srv/S"), ServiceSpec)
    with pytest.raises(InterfaceError, match="pkg/msg/Name"):
        parse_message("int32 a", "T")


def test_empty_message_and_empty_service_halves() -> None:
    assert parse_message("# only a comment\n", "p/msg/Empty").fields == ()
    spec = parse_service("---\n", "p/srv/Trigger")
    assert spec.request.fields == ()
    assert spec.response.fields == ()


def test_bool_spellings_and_hex() -> None:
    spec = parse_message(
        "bool A=true\nbool B=False\nbool C=1\nbool D=0\nuint8 E=0xFF\nbool[] f [True, false, 1]", "p/T"
    )
    assert [c.value for c in spec.constants] == [True, False, True, False, 255]
    assert spec.fields[0].default == [True, False, True]


def test_escapes_in_string_literals() -> None:
    spec = parse_message('string s "say \\"hi\\"\\n"\nstring[] l [\'x\', "y"]', "p/T")
    assert spec.fields[0].default == 'say "hi"\n'
    assert spec.fields[1].default == ["x", "y"]


@given(st.sampled_from(sorted(INTEGER_RANGES)), st.data())
def test_integer_constants_accept_exactly_their_range(base: str, data: st.DataObject) -> None:
    low, high = INTEGER_RANGES[base]
    value = data.draw(st.integers(low, high))
    assert parse_message(f"{base} C={value}", "p/T").constants[0].value == value
    outside = data.draw(st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1)))
    with pytest.raises(MsgSyntaxError, match="out of range"):
        parse_message(f"{base} C={outside}", "p/T")
