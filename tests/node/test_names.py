"""ROS 2 name rules (plus the hyphen extension), expansion and remapping."""

from __future__ import annotations

import pytest

from robotfleet_nodes.errors import NameValidationError
from robotfleet_nodes.node.names import (
    MAX_TOPIC_NAME_LENGTH,
    Remapping,
    apply_node_remaps,
    expand_name,
    fully_qualified_node_name,
    normalize_namespace,
    remap_name,
    remap_namespace,
    remap_node_name,
    validate_full_topic_name,
    validate_namespace,
    validate_node_name,
    validate_topic_name,
)


def caret_index(error: pytest.ExceptionInfo[NameValidationError]) -> int:
    """The name index the caret line points at (both lines are indented by two spaces)."""
    _reason, name_line, caret_line = str(error.value).split("\n")
    assert name_line.startswith("  ")
    assert caret_line.strip() == "^"
    return caret_line.index("^") - 2


def test_message_format_matches_the_documented_example() -> None:
    with pytest.raises(NameValidationError) as err:
        validate_topic_name("/robots//status")
    assert str(err.value) == "invalid topic name: must not contain '//'\n  /robots//status\n         ^"


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="topic name"):
        validate_topic_name("")


@pytest.mark.parametrize(
    "name",
    [
        "/chatter",
        "chatter",
        "/robots/robot-1/status",
        "zone-1/assign",
        "~",
        "~/private",
        "{node}/x",
        "/{ns}/x",
        "{namespace}",
        "/a_b/_c/D9",
        "/robots/robot-1-/x",
        "a/{node}-status",
    ],
)
def test_valid_topic_names(name: str) -> None:
    validate_topic_name(name)


@pytest.mark.parametrize(
    ("name", "index", "reason"),
    [
        ("", 0, "must not be empty"),
        ("/robots//status", 7, "'//'"),
        ("/a/", 2, "must not end with '/'"),
        ("/", 0, "must not end with '/'"),
        ("/a b", 2, "' '"),
        ("/a.b", 2, "'.'"),
        ("/a/9b", 3, "must not start with a number"),
        ("9b", 0, "must not start with a number"),
        ("/robots/-1", 8, "must not start with '-'"),
        ("-a", 0, "must not start with '-'"),
        ("a~", 1, "'~' is allowed only as the first character"),
        ("~a", 1, "'~' must be followed by '/'"),
        ("/a/{node", 3, "unmatched '{'"),
        ("/a}", 2, "unmatched '}'"),
        ("/{a{b}}", 3, "nested"),
        ("/{}", 2, "must not be empty"),
        ("/{no-de}", 4, "only letters, digits and '_'"),
        ("/{1x}", 2, "must not start with a number"),
        ("/ok/ümlaut", 4, "'ü'"),
    ],
)
def test_invalid_topic_names_point_at_the_first_bad_character(name: str, index: int, reason: str) -> None:
    with pytest.raises(NameValidationError, match="invalid topic name") as err:
        validate_topic_name(name)
    assert reason in str(err.value).split("\n")[0]
    assert caret_index(err) == index


def test_service_names_say_service() -> None:
    with pytest.raises(NameValidationError, match="invalid service name"):
        validate_topic_name("/a//b", is_service=True)


@pytest.mark.parametrize(
    ("name", "index"),
    [("a/b", 0), ("/a/~", 3), ("/{node}", 1), ("/a//b", 2), ("/a/", 2), ("/x" * 124, MAX_TOPIC_NAME_LENGTH)],
)
def test_invalid_full_topic_names(name: str, index: int) -> None:
    with pytest.raises(NameValidationError) as err:
        validate_full_topic_name(name)
    assert caret_index(err) == index


@pytest.mark.parametrize("ns", ["/", "/robots", "/robots/robot-1", "/zone-1", "/_a/b_2"])
def test_valid_namespaces(ns: str) -> None:
    validate_namespace(ns)


@pytest.mark.parametrize(
    ("ns", "index", "reason"),
    [
        ("", 0, "must not be empty"),
        ("robots", 0, "must be absolute"),
        ("/robots/", 7, "must not end with '/'"),
        ("/a//b", 2, "'//'"),
        ("/a/1b", 3, "must not start with a number"),
        ("/a/~", 3, "'~'"),
        ("/a/{ns}", 3, "'{'"),
        ("/-a", 1, "must not start with '-'"),
    ],
)
def test_invalid_namespaces(ns: str, index: int, reason: str) -> None:
    with pytest.raises(NameValidationError, match="invalid namespace") as err:
        validate_namespace(ns)
    assert reason in str(err.value).split("\n")[0]
    assert caret_index(err) == index


@pytest.mark.parametrize("name", ["talker", "robot-1", "_private", "a1", "Driver_2-b"])
def test_valid_node_names(name: str) -> None:
    validate_node_name(name)


@pytest.mark.parametrize(
    ("name", "index", "reason"),
    [
        ("", 0, "must not be empty"),
        ("1robot", 0, "must not start with a number"),
        ("-robot", 0, "must not start with '-'"),
        ("ns/talker", 2, "'/'"),
        ("talk er", 4, "' '"),
        ("~", 0, "'~'"),
        ("a" * 256, 255, "longer than 255"),
    ],
)
def test_invalid_node_names(name: str, index: int, reason: str) -> None:
    with pytest.raises(NameValidationError, match="invalid node name") as err:
        validate_node_name(name)
    assert reason in str(err.value).split("\n")[0]
    assert caret_index(err) == index


def test_normalize_namespace() -> None:
    assert normalize_namespace("") == "/"
    assert normalize_namespace("robots/robot-1") == "/robots/robot-1"
    assert normalize_namespace("/x") == "/x"
    with pytest.raises(NameValidationError):
        normalize_namespace("/x/")


def test_fully_qualified_node_name() -> None:
    assert fully_qualified_node_name("talker", "/") == "/talker"
    assert fully_qualified_node_name("driver", "/robots/robot-1") == "/robots/robot-1/driver"
    with pytest.raises(NameValidationError, match="namespace"):
        fully_qualified_node_name("driver", "robots")


@pytest.mark.parametrize(
    ("name", "node", "ns", "expected"),
    [
        ("/chatter", "n", "/robots/robot-1", "/chatter"),
        ("chatter", "n", "/", "/chatter"),
        ("status", "driver", "/robots/robot-1", "/robots/robot-1/status"),
        ("a/b", "n", "/ns", "/ns/a/b"),
        ("~", "driver", "/robots/robot-1", "/robots/robot-1/driver"),
        ("~", "talker", "/", "/talker"),
        ("~/cmd", "driver", "/robots/robot-1", "/robots/robot-1/driver/cmd"),
        ("~/cmd", "talker", "/", "/talker/cmd"),
        ("{node}/state", "driver", "/r", "/r/driver/state"),
        ("/{node}", "driver", "/r", "/driver"),
        ("{ns}/x", "n", "/robots/robot-1", "/robots/robot-1/x"),
        ("{ns}/x", "n", "/", "/x"),
        ("{namespace}/x", "n", "/a", "/a/x"),
        ("{ns}", "n", "/a/b", "/a/b"),
        ("out/{node}-status", "robot-1", "/fleet", "/fleet/out/robot-1-status"),
        ("~/{node}", "driver", "/r", "/r/driver/driver"),
        ("~/{ns}/x", "driver", "/r", "/r/driver/r/x"),
        ("~/{ns}/x", "driver", "/", "/driver/x"),
    ],
)
def test_expand_name(name: str, node: str, ns: str, expected: str) -> None:
    assert expand_name(name, node_name=node, namespace=ns) == expected


def test_expand_rejects_unknown_substitution_with_caret() -> None:
    with pytest.raises(NameValidationError, match="unknown substitution") as err:
        expand_name("a/{robot}", node_name="n", namespace="/")
    assert caret_index(err) == 2


def test_expand_validates_inputs_and_result() -> None:
    with pytest.raises(NameValidationError, match="invalid topic name"):
        expand_name("a//b", node_name="n", namespace="/")
    with pytest.raises(NameValidationError, match="invalid node name"):
        expand_name("a", node_name="1n", namespace="/")
    with pytest.raises(NameValidationError, match="invalid namespace"):
        expand_name("a", node_name="n", namespace="/ns/")
    with pytest.raises(NameValidationError, match="longer than"):
        expand_name("x" * 250, node_name="n", namespace="/")


# -- remapping ---------------------------------------------------------------------------


def test_parse_remapping_forms() -> None:
    assert Remapping.parse("chatter:=talk") == Remapping("chatter", "talk", None)
    assert Remapping.parse("driver:cmd:=/robots/robot-1/cmd") == Remapping(
        "cmd", "/robots/robot-1/cmd", "driver"
    )
    assert Remapping.parse("__ns:=/robots/robot-1") == Remapping("__ns", "/robots/robot-1", None)
    assert Remapping.parse("__node:=planner") == Remapping("__node", "planner", None)
    assert Remapping.parse("__name:=planner") == Remapping("__node", "planner", None)
    assert Remapping.parse("talker:__node:=talker-2").node == "talker"
    assert str(Remapping.parse("driver:cmd:=x")) == "driver:cmd:=x"


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        ("chatter", "expected 'from:=to'"),
        ("a//b:=c", "invalid topic name"),
        ("a:=b//c", "invalid topic name"),
        ("__ns:=/a/", "invalid namespace"),
        ("__ns:=", "invalid namespace"),
        ("__node:=a/b", "invalid node name"),
        ("1node:a:=b", "invalid node name"),
    ],
)
def test_bad_remapping(rule: str, match: str) -> None:
    with pytest.raises(NameValidationError, match=match):
        Remapping.parse(rule)


def test_remap_name_global_relative_and_absolute() -> None:
    rules = [Remapping.parse("chatter:=talk"), Remapping.parse("/abs:=/other/abs")]
    assert remap_name("/ns/chatter", rules, "n", namespace="/ns") == "/ns/talk"
    assert remap_name("/chatter", rules, "n") == "/talk"
    assert remap_name("/abs", rules, "n", namespace="/ns") == "/other/abs"
    assert remap_name("/ns/unrelated", rules, "n", namespace="/ns") == "/ns/unrelated"


def test_remap_name_private_and_substitution_rules() -> None:
    rules = [Remapping.parse("~/cmd:=/fleet/{node}/cmd")]
    assert (
        remap_name("/robots/robot-1/driver/cmd", rules, "driver", namespace="/robots/robot-1")
        == "/fleet/driver/cmd"
    )


def test_remap_name_node_specific_and_first_match_wins() -> None:
    rules = [
        Remapping.parse("other:chatter:=nope"),
        Remapping.parse("talker:chatter:=first"),
        Remapping.parse("chatter:=second"),
    ]
    assert remap_name("/chatter", rules, "talker") == "/first"
    assert remap_name("/chatter", rules, "listener") == "/second"


def test_remap_node_name_and_namespace() -> None:
    rules = [
        Remapping.parse("talker:__node:=speaker"),
        Remapping.parse("__ns:=/robots/robot-7"),
        Remapping.parse("__node:=everyone"),
    ]
    assert remap_node_name("talker", rules) == "speaker"
    assert remap_node_name("listener", rules) == "everyone"
    assert remap_namespace("/", rules, "talker") == "/robots/robot-7"
    assert remap_node_name("x", []) == "x"
    assert remap_namespace("/a", [], "x") == "/a"
    assert apply_node_remaps("talker", "", rules) == ("speaker", "/robots/robot-7")
    assert apply_node_remaps("n", "ns", []) == ("n", "/ns")


def test_special_rules_are_ignored_by_remap_name() -> None:
    rules = [Remapping.parse("__ns:=/x"), Remapping.parse("__node:=y")]
    assert remap_name("/a", rules, "n") == "/a"
