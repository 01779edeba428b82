"""``--ros-args`` command-line parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotfleet_nodes.errors import ConfigError, NameValidationError, ParameterError
from robotfleet_nodes.node.arguments import ParameterOverride, RosArgs, parse_ros_args
from robotfleet_nodes.node.names import Remapping


def test_no_ros_args_leaves_everything() -> None:
    argv = ["prog", "--verbose", "-r", "x"]
    args = parse_ros_args(argv)
    assert args == RosArgs(non_ros_args=argv)


def test_full_section(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("/**:\n  ros__parameters: {a: 1}\n", encoding="utf-8")
    argv = [
        "prog",
        "--user-flag",
        "--ros-args",
        "-r",
        "chatter:=talk",
        "--remap",
        "talker:__node:=speaker",
        "-r",
        "__ns:=/robots/robot-1",
        "-p",
        "rate:=10",
        "--param",
        "talker:gains:=[1.0, 2.0]",
        "--params-file",
        str(params),
        "--log-level",
        "debug",
        "--log-level",
        "rfos.driver:=warning",
        "-e",
        "/enclave",
        "--disable-rosout-logs",
        "--log-config-file",
        "log.conf",
        "--",
        "after",
    ]
    args = parse_ros_args(argv)
    assert args.non_ros_args == ["prog", "--user-flag", "after"]
    assert args.remappings == [
        Remapping("chatter", "talk"),
        Remapping("__node", "speaker", "talker"),
        Remapping("__ns", "/robots/robot-1"),
    ]
    assert args.parameters == [
        ParameterOverride("rate", 10),
        ParameterOverride("gains", [1.0, 2.0], "talker"),
    ]
    assert args.params_files == [params]
    assert args.log_levels == {"": "DEBUG", "rfos.driver": "WARN"}
    assert args.enclave == "/enclave"
    assert args.node_name("talker") == "speaker"
    assert args.node_name("listener") == "listener"
    assert args.namespace("/", "talker") == "/robots/robot-1"


def test_several_sections_and_section_to_the_end() -> None:
    args = parse_ros_args(["a", "--ros-args", "-p", "x:=1", "--", "b", "--ros-args", "-p", "y:=two"])
    assert args.non_ros_args == ["a", "b"]
    assert [(p.name, p.value) for p in args.parameters] == [("x", 1), ("y", "two")]


def test_parameter_names_may_hold_slashes_as_qos_overrides_do() -> None:
    """rcl accepts '/' between tokens: ``qos_overrides./chatter.publisher.depth``."""
    args = parse_ros_args(["--ros-args", "-p", "qos_overrides./ns/chatter.publisher.depth:=5"])
    assert [(p.name, p.value) for p in args.parameters] == [("qos_overrides./ns/chatter.publisher.depth", 5)]
    with pytest.raises(ParameterError, match="invalid parameter name"):
        parse_ros_args(["--ros-args", "-p", "a.//b:=1"])


def test_double_dash_outside_a_section_is_kept() -> None:
    assert parse_ros_args(["--", "x"]).non_ros_args == ["--", "x"]


def test_parameters_for_files_then_overrides(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(
        "/**:\n  ros__parameters: {a: 1, b: 1, c: 1}\n/robots/robot-1/driver:\n  ros__parameters: {b: 2}\n",
        encoding="utf-8",
    )
    args = parse_ros_args(
        [
            "--ros-args",
            "--params-file",
            str(params),
            "-p",
            "c:=3",
            "-p",
            "driver:d:=4",
            "-p",
            "other:e:=5",
            "-p",
            "/robots/*/driver:f:=6",
        ]
    )
    assert args.parameters_for("/robots/robot-1/driver") == {"a": 1, "b": 2, "c": 3, "d": 4, "f": 6}
    assert args.parameters_for("/other") == {"a": 1, "b": 1, "c": 3, "e": 5}


@pytest.mark.parametrize(
    ("argv", "error", "match"),
    [
        (["--ros-args", "--bogus"], ConfigError, "unknown ROS argument '--bogus'"),
        (["--ros-args", "-r"], ConfigError, "'-r' needs a value"),
        (["--ros-args", "-p", "--"], ConfigError, "'-p' needs a value"),
        (["--ros-args", "--log-level", "loud"], ConfigError, "unknown log level"),
        (["--ros-args", "--log-level", ":=INFO"], ConfigError, "empty logger"),
        (["--ros-args", "-r", "a:b"], NameValidationError, "from:=to"),
        (["--ros-args", "-r", "a:=b//c"], NameValidationError, "invalid topic name"),
        (["--ros-args", "-p", "rate=10"], ParameterError, "'rate=10'.*name:=value"),
        (["--ros-args", "-p", "9rate:=10"], ParameterError, "invalid parameter name '9rate'"),
        (["--ros-args", "-p", ":x:=10"], ParameterError, "empty node name"),
        (["--ros-args", "-p", "x:={a: 1}"], ParameterError, "-p x:=\\{a: 1\\}.*mapping"),
        (["--ros-args", "-p", "x:=[1, a]"], ParameterError, "one type"),
        (
            ["--ros-args", "--params-file", "/nonexistent/p.yaml"],
            ParameterError,
            "p.yaml: parameter file not found",
        ),
    ],
)
def test_errors_name_the_argument(argv: list[str], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_ros_args(argv)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="--bogus"):
        parse_ros_args(["--ros-args", "--bogus"])
