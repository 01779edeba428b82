"""ROS names <-> NATS subjects."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from robotfleet_nodes.errors import ConfigError, NameValidationError
from robotfleet_nodes.node.names import validate_full_topic_name
from robotfleet_nodes.transport.nats._subjects import (
    ACTION_PARTS,
    KINDS,
    ParsedSubject,
    SubjectMapper,
    robot_namespace,
)

MAPPER = SubjectMapper(root="rfos", domain="0")

_token = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True)
ros_names = st.lists(_token, min_size=1, max_size=6).map(lambda tokens: "/" + "/".join(tokens))


def test_examples_from_the_design() -> None:
    assert MAPPER.topic("/robots/robot-1/status") == "rfos.0.t.robots.robot-1.status"
    assert MAPPER.service("/zone-1/assign") == "rfos.0.s.zone-1.assign"
    assert (
        MAPPER.action("/robots/robot-1/execute", "send_goal")
        == "rfos.0.a.robots.robot-1.execute._action.send_goal"
    )
    assert MAPPER.graph("query") == "rfos.0.g.query"
    assert MAPPER.graph("nodes", "robots", "robot-1") == "rfos.0.g.nodes.robots.robot-1"
    assert (
        MAPPER.parameters("/robots/robot-1/driver", "set") == "rfos.0.p.robots.robot-1.driver._parameters.set"
    )
    assert MAPPER.work("orders", "wo-1") == "rfos.0.w.orders.wo-1"
    assert MAPPER.wildcard("w") == "rfos.0.w.>"
    assert MAPPER.work_wildcard("orders") == "rfos.0.w.orders.>"
    assert MAPPER.to_name("rfos.0.w.orders.wo-1") == ("w", "/orders/wo-1", None)
    assert MAPPER.wildcard("t") == "rfos.0.t.>"
    assert MAPPER.wildcard() == "rfos.0.>"


@pytest.mark.parametrize("part", ACTION_PARTS)
def test_action_parts_round_trip(part: str) -> None:
    subject = MAPPER.action("/robots/robot-1/execute", part)
    assert subject.endswith(f"._action.{part}")
    assert MAPPER.to_name(subject) == ParsedSubject("a", "/robots/robot-1/execute", part)


def test_unknown_action_part_and_kind() -> None:
    with pytest.raises(ValueError, match="send_goal"):
        MAPPER.action("/x", "goal")
    with pytest.raises(ValueError, match="unknown subject kind"):
        MAPPER.wildcard("x")


def test_reverse_mapping() -> None:
    assert MAPPER.to_name("rfos.0.t.robots.robot-1.status") == ("t", "/robots/robot-1/status", None)
    assert MAPPER.to_name("rfos.0.s.zone-1.assign") == ParsedSubject("s", "/zone-1/assign")
    assert MAPPER.to_name("rfos.0.g.nodes.robots") == ParsedSubject("g", "/nodes/robots")
    assert MAPPER.to_name("rfos.0.p.robots.robot-1.driver._parameters.get.all") == ParsedSubject(
        "p", "/robots/robot-1/driver", "get.all"
    )
    # A namespace token may itself be "_parameters": the last marker separates.
    subject = MAPPER.parameters("/_parameters/n", "get")
    assert MAPPER.to_name(subject) == ParsedSubject("p", "/_parameters/n", "get")


@pytest.mark.parametrize(
    ("subject", "match"),
    [
        ("other.0.t.a", "does not start with 'rfos.0.'"),
        ("rfos.1.t.a", "does not start with"),
        ("rfos.0.x.a", "unknown kind 'x'"),
        ("rfos.0.t", "no name tokens"),
        ("rfos.0.t.a..b", "invalid token"),
        ("rfos.0.t.a.*", "invalid token"),
        ("rfos.0.t.>", "invalid token"),
        ("rfos.0.a.x.send_goal", "_action"),
        ("rfos.0.a.x._action.nope", "_action"),
        ("rfos.0.p.node.get", "_parameters"),
        ("rfos.0.p._parameters.get", "_parameters"),
        ("rfos.0.p.node._parameters", "_parameters"),
    ],
)
def test_reverse_mapping_refuses_foreign_subjects(subject: str, match: str) -> None:
    with pytest.raises(NameValidationError, match=match):
        MAPPER.to_name(subject)


@pytest.mark.parametrize(
    ("name", "index"),
    [("relative", 0), ("/", 0), ("/a.b", 2), ("/a*", 2), ("/a/>", 3), ("/a b", 2), ("/a//b", 3), ("/a/", 2)],
)
def test_tokens_nats_cannot_carry_are_refused(name: str, index: int) -> None:
    with pytest.raises(NameValidationError) as err:
        MAPPER.topic(name)
    assert str(err.value).split("\n")[2].index("^") - 2 == index


@pytest.mark.parametrize("tokens", [(), ("",), ("a.b",), ("*",), (">",), ("a b",)])
def test_graph_work_and_parameter_tokens_are_checked(tokens: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - NameValidationError or ValueError
        MAPPER.graph(*tokens)
    with pytest.raises(ValueError):  # noqa: PT011
        MAPPER.work(*tokens)
    with pytest.raises(ValueError):  # noqa: PT011
        MAPPER.work_wildcard(*tokens)
    with pytest.raises(ValueError):  # noqa: PT011
        MAPPER.parameters("/n", *tokens)


def test_parameter_tokens_must_not_hold_the_marker() -> None:
    with pytest.raises(ValueError, match="_parameters"):
        MAPPER.parameters("/n", "_parameters")


@given(ros_names)
def test_topic_round_trip(name: str) -> None:
    validate_full_topic_name(name)  # the strategy yields valid ROS names (with hyphens)
    assert MAPPER.to_name(MAPPER.topic(name)) == ("t", name, None)
    assert MAPPER.to_name(MAPPER.service(name)) == ("s", name, None)


@given(ros_names, st.sampled_from(ACTION_PARTS))
def test_action_round_trip(name: str, part: str) -> None:
    assert MAPPER.to_name(MAPPER.action(name, part)) == ("a", name, part)


@given(ros_names, st.lists(_token, min_size=1, max_size=3))
def test_parameters_round_trip(node_fqn: str, tokens: list[str]) -> None:
    assert MAPPER.to_name(MAPPER.parameters(node_fqn, *tokens)) == ("p", node_fqn, ".".join(tokens))


def test_robot_scope() -> None:
    scope = MAPPER.robot_scope("robot-1")
    assert scope == "rfos.0.*.robots.robot-1.>"
    assert robot_namespace("robot-1") == "/robots/robot-1"
    assert (
        SubjectMapper(root="site-a.rfos", domain=7).robot_scope("robot-42")
        == "site-a.rfos.7.*.robots.robot-42.>"
    )


def _nats_match(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one or more."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def test_robot_scope_covers_the_robots_subjects_only() -> None:
    scope = MAPPER.robot_scope("robot-1")
    own = [
        MAPPER.topic("/robots/robot-1/status"),
        MAPPER.service("/robots/robot-1/driver/get_state"),
        MAPPER.action("/robots/robot-1/execute", "feedback"),
        MAPPER.parameters("/robots/robot-1/driver", "set"),
    ]
    foreign = [
        MAPPER.topic("/robots/robot-10/status"),
        MAPPER.topic("/robots/robot-2/status"),
        MAPPER.topic("/zone-1/robots/robot-1/status"),
        MAPPER.topic("/robots/robot-1"),
        SubjectMapper(root="rfos", domain="1").topic("/robots/robot-1/status"),
    ]
    assert all(_nats_match(scope, s) for s in own)
    assert not any(_nats_match(scope, s) for s in foreign)


@pytest.mark.parametrize(("robot_id", "index"), [("", 0), ("robot.1", 5), ("*", 0), ("1robot", 0), ("-r", 0)])
def test_bad_robot_ids(robot_id: str, index: int) -> None:
    with pytest.raises(NameValidationError, match="invalid robot id") as err:
        MAPPER.robot_scope(robot_id)
    assert str(err.value).split("\n")[2].index("^") - 2 == index


def test_environment_defaults() -> None:
    mapper = SubjectMapper(environ={})
    assert (mapper.root, mapper.domain, mapper.prefix) == ("rfos", "0", "rfos.0")
    mapper = SubjectMapper(environ={"RFOS_SUBJECT_ROOT": "t1abc.rfos", "ROS_DOMAIN_ID": "42"})
    assert mapper.topic("/a") == "t1abc.rfos.42.t.a"
    assert mapper.to_name("t1abc.rfos.42.t.a") == ("t", "/a", None)
    # Explicit arguments win over the environment.
    assert SubjectMapper("x", "3", environ={"RFOS_SUBJECT_ROOT": "y"}).prefix == "x.3"


def test_environment_is_read_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", "envroot")
    monkeypatch.setenv("ROS_DOMAIN_ID", "5")
    assert SubjectMapper().prefix == "envroot.5"


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"RFOS_SUBJECT_ROOT": "a..b"}, "RFOS_SUBJECT_ROOT"),
        ({"RFOS_SUBJECT_ROOT": "rf*s"}, "RFOS_SUBJECT_ROOT"),
        ({"RFOS_SUBJECT_ROOT": "a b"}, "RFOS_SUBJECT_ROOT"),
        ({"ROS_DOMAIN_ID": "x"}, "ROS_DOMAIN_ID"),
        ({"ROS_DOMAIN_ID": "-1"}, "ROS_DOMAIN_ID"),
    ],
)
def test_bad_environment(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SubjectMapper(environ=env)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="root"):
        SubjectMapper(root="")
    with pytest.raises(ConfigError, match="domain"):
        SubjectMapper(domain="zero")
    assert SubjectMapper(domain="007").domain == "7"


def test_kinds_and_repr() -> None:
    assert KINDS == ("t", "s", "a", "g", "p", "w")
    assert repr(MAPPER) == "SubjectMapper(root='rfos', domain='0')"


def test_action_topics_and_services_get_the_action_kind() -> None:
    mapper = SubjectMapper(root="rfos", domain="0")
    assert mapper.service("/robots/robot-1/execute/_action/send_goal") == (
        "rfos.0.a.robots.robot-1.execute._action.send_goal"
    )
    assert mapper.topic("/fib/_action/feedback") == "rfos.0.a.fib._action.feedback"
    assert mapper.to_name("rfos.0.a.fib._action.status") == ("a", "/fib", "status")
    # Only ROS 2's action parts: anything else stays a plain topic.
    assert mapper.topic("/fib/_action/other") == "rfos.0.t.fib._action.other"
