"""Every malformed interface fails with ``path:line: reason``."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotfleet_nodes.errors import MsgSyntaxError
from robotfleet_nodes.idl import TypeRegistry

BAD = Path(__file__).parent / "data" / "bad"

CASES = [
    ("unknown_type.msg", 3, "unknown type 'flot64' (did you mean 'float64'?)"),
    ("unknown_nested.msg", 2, "unknown type 'geometry_msgs/msg/Pos' of field 'pose' (did you mean"),
    ("bad_array_bound.msg", 3, "array bound must be a positive integer, got '-1'"),
    ("bad_string_bound.msg", 1, "string bound must be a positive integer, got 'abc'"),
    ("duplicate_field.msg", 5, "duplicate field 'x' (first defined on line 3)"),
    ("bad_constant_value.msg", 1, "constant value 'abc' is not a valid int32"),
    ("constant_out_of_range.msg", 2, "constant value 300 out of range for uint8 (0..255)"),
    ("bad_default.msg", 1, "default value 'abc' is not a valid int32"),
    ("default_array_too_long.msg", 2, "default array has 4 elements but the type allows at most 3"),
    ("fixed_default_wrong_size.msg", 1, "default array has 2 elements but the type requires exactly 3"),
    ("string_default_too_long.msg", 1, "string default longer than bound 5"),
    ("bad_field_name.msg", 2, "field name 'Bad' must be lower_snake_case"),
    ("trailing_underscore.msg", 1, "field name 'x_' must be lower_snake_case"),
    ("array_constant.msg", 1, "constants cannot be arrays"),
    ("bad_constant_name.msg", 1, "constant name 'lower' must be UPPER_CASE"),
    ("nested_default.msg", 1, "default values are only allowed for primitive types"),
    ("bad_bool_default.msg", 1, "default value 'yes' is not a valid bool"),
    ("separator_in_msg.msg", 2, "'---' separators are only allowed in .srv and .action files"),
    ("no_separator.srv", 3, ".srv needs exactly one '---' separator"),
    ("wrong_separators.action", 3, ".action needs exactly two '---' separators"),
]


@pytest.mark.parametrize(("filename", "line", "reason"), CASES, ids=[c[0] for c in CASES])
def test_malformed_file(filename: str, line: int, reason: str) -> None:
    path = BAD / filename
    kind = {".msg": "msg", ".srv": "srv", ".action": "action"}[path.suffix]
    registry = TypeRegistry()
    with pytest.raises(MsgSyntaxError) as info:
        registry.add_text(f"bad_msgs/{kind}/Bad", path.read_text(), source=str(path))
    error = info.value
    assert (error.path, error.line) == (str(path), line)
    assert reason in error.reason
    assert str(error) == f"{path}:{line}: {error.reason}"
    assert "bad_msgs/msg/Bad" not in registry  # nothing half-registered


def test_circular_include_across_two_files() -> None:
    registry = TypeRegistry()
    directory = BAD / "circular_msgs"
    with pytest.raises(MsgSyntaxError) as info:
        registry.load_package("circular_msgs", directory)
    error = info.value
    assert error.path == str(directory / "msg" / "A.msg")
    assert error.line == 2
    assert "circular_msgs/msg/A -> circular_msgs/msg/B -> circular_msgs/msg/A" in error.reason
    assert "circular_msgs/msg/A" not in registry
    assert "circular_msgs/msg/B" not in registry


def test_self_reference_is_circular() -> None:
    with pytest.raises(MsgSyntaxError, match=r"p/msg/Node -> p/msg/Node"):
        TypeRegistry().add_text("p/msg/Node", "int32 v\nNode[] children", source="Node.msg")


def test_unknown_same_package_type_points_at_its_line() -> None:
    with pytest.raises(MsgSyntaxError) as info:
        TypeRegistry().add_text("p/msg/T", "int32 a\n\nMissing m", source="T.msg")
    assert (info.value.line, info.value.path) == (3, "T.msg")
    assert "unknown type 'p/msg/Missing'" in info.value.reason


def test_error_in_service_response_has_file_line() -> None:
    with pytest.raises(MsgSyntaxError) as info:
        TypeRegistry().add_text("p/srv/S", "int32 a\n---\nint32 b\nfloat64 b\n", source="S.srv")
    assert str(info.value) == "S.srv:4: duplicate field 'b' (first defined on line 3)"
