"""ROS 2 parameter YAML files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from robotfleet_nodes.errors import ParameterError
from robotfleet_nodes.node.param_files import (
    ParameterValue,
    dump_parameters,
    load_parameter_file,
    load_parameter_files,
    node_pattern_matches,
    parameter_file_entries,
    parse_parameter_value,
)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    counter = iter(range(1000))

    def _write(text: str) -> Path:
        path = tmp_path / f"params{next(counter)}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


def test_node_entry_and_flattening(write: Callable[[str], Path]) -> None:
    path = write(
        """
        talker:
          ros__parameters:
            rate: 10
            ratio: 0.5
            enabled: true
            label: hello
            when: 2024-01-01
            wheel:
              radius: 0.1
              pid: {p: 1.0, i: 0.0}
            ids: [1, 2, 3]
            names: [a, b]
            flags: [true, false]
            gains: [1.5, 2.0]
            empty: []
            blob: !!binary aGk=
        """
    )
    assert load_parameter_file(path, "/talker") == {
        "rate": 10,
        "ratio": 0.5,
        "enabled": True,
        "label": "hello",
        "when": "2024-01-01",
        "wheel.radius": 0.1,
        "wheel.pid.p": 1.0,
        "wheel.pid.i": 0.0,
        "ids": [1, 2, 3],
        "names": ["a", "b"],
        "flags": [True, False],
        "gains": [1.5, 2.0],
        "empty": [],
        "blob": b"hi",
    }
    # A key without a leading '/' is in the root namespace, as in ROS 2.
    assert load_parameter_file(path, "/ns/talker") == {}


def test_wildcards_namespaces_and_precedence(write: Callable[[str], Path]) -> None:
    path = write(
        """
        /robots/robot-1/driver:
          ros__parameters: {speed: 3.0, source: exact}
        /**:
          ros__parameters: {speed: 1.0, use_sim_time: false, source: all}
        /**/driver:
          ros__parameters: {speed: 2.0, source: any-driver}
        /robots:
          robot-2:
            driver:
              ros__parameters: {source: nested}
        /robots/*/driver:
          ros__parameters: {tier: edge}
        """
    )
    assert load_parameter_file(path, "/robots/robot-1/driver") == {
        "speed": 3.0,
        "use_sim_time": False,
        "source": "exact",
        "tier": "edge",
    }
    assert load_parameter_file(path, "/robots/robot-2/driver") == {
        "speed": 2.0,
        "use_sim_time": False,
        "source": "nested",
        "tier": "edge",
    }
    assert load_parameter_file(path, "/driver")["source"] == "any-driver"
    assert load_parameter_file(path, "/planner") == {"speed": 1.0, "use_sim_time": False, "source": "all"}
    assert [p for p, _ in parameter_file_entries(path)] == [
        "/robots/robot-1/driver",
        "/**",
        "/**/driver",
        "/robots/robot-2/driver",
        "/robots/*/driver",
    ]


@pytest.mark.parametrize(
    ("pattern", "fqn", "expected"),
    [
        ("/**", "/a", True),
        ("/**", "/a/b/c", True),
        ("/**/n", "/n", True),
        ("/**/n", "/a/b/n", True),
        ("/**/n", "/a/b/m", False),
        ("/*/n", "/a/n", True),
        ("/*/n", "/n", False),
        ("/robot-*/n", "/robot-7/n", True),
        ("/n", "/n", True),
        ("/n", "/a/n", False),
        ("/a.b", "/aXb", False),
    ],
)
def test_node_pattern_matches(pattern: str, fqn: str, expected: bool) -> None:
    assert node_pattern_matches(pattern, fqn) is expected


def test_later_files_override_earlier(write: Callable[[str], Path]) -> None:
    first = write("n:\n  ros__parameters: {a: 1, b: 1}\n")
    second = write("/**:\n  ros__parameters: {b: 2}\n")
    assert load_parameter_files([first, second], "/n") == {"a": 1, "b": 2}
    assert load_parameter_files([second, first], "/n") == {"a": 1, "b": 1}


def test_empty_file_and_empty_parameters(write: Callable[[str], Path]) -> None:
    assert load_parameter_file(write(""), "/n") == {}
    assert load_parameter_file(write("n:\n  ros__parameters:\n"), "/n") == {}


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ParameterError, match=r"nope\.yaml: parameter file not found"):
        load_parameter_file(missing, "/n")


def test_invalid_yaml_names_file_and_line(write: Callable[[str], Path]) -> None:
    path = write("n:\n  ros__parameters:\n    a: [1, 2\n    b: 3\n")
    with pytest.raises(ParameterError, match=rf"{path.name}:\d+: invalid YAML"):
        load_parameter_file(path, "/n")


def test_a_parameter_given_twice_names_file_line_and_key(write: Callable[[str], Path]) -> None:
    path = write("/robots/r:\n  ros__parameters:\n    rate: 1.0\n    rate: 2.0\n")
    expected = rf"{path.name}:4: invalid YAML: key 'rate' given twice \(first on line 3\)$"
    with pytest.raises(ParameterError, match=expected):
        load_parameter_file(path, "/robots/r")


def test_a_node_given_twice_names_file_line_and_key(write: Callable[[str], Path]) -> None:
    path = write("n:\n  ros__parameters: {a: 1}\nn:\n  ros__parameters: {b: 2}\n")
    with pytest.raises(ParameterError, match=rf"{path.name}:3: invalid YAML: key 'n' given twice"):
        load_parameter_file(path, "/n")


def test_heterogeneous_list_names_file_and_key(write: Callable[[str], Path]) -> None:
    path = write("/robots/r:\n  ros__parameters:\n    grp:\n      mixed: [1, a]\n")
    with pytest.raises(ParameterError) as err:
        load_parameter_file(path, "/robots/r")
    message = str(err.value)
    assert str(path) in message
    assert "'grp.mixed'" in message
    assert "/robots/r" in message
    assert "int, str" in message


def test_int_float_mix_gets_a_hint(write: Callable[[str], Path]) -> None:
    path = write("n:\n  ros__parameters: {xs: [1, 2.5]}\n")
    with pytest.raises(ParameterError, match="decimal point"):
        load_parameter_file(path, "/n")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("- a\n- b\n", "top level must map"),
        ("ros__parameters: {a: 1}\n", "at the top level"),
        ("n: 3\n", "expected a node"),
        ("n:\n  ros__parameters: [1]\n", "must be a mapping"),
        ("n:\n  ros__parameters: {a: }\n", "'a'.*has no value"),
        ("n:\n  ros__parameters: {a: [[1]]}\n", "got list"),
        ("n:\n  ros__parameters: {a: [{b: 1}]}\n", "got dict"),
        ("n:\n  ros__parameters: {a: !!set {x}}\n", "unsupported value"),
    ],
)
def test_bad_files(write: Callable[[str], Path], text: str, match: str) -> None:
    path = write(text)
    with pytest.raises(ParameterError, match=match):
        load_parameter_file(path, "/n")


def test_other_nodes_bad_values_still_fail(write: Callable[[str], Path]) -> None:
    # The whole file is checked, as rcl parses it before any node sees it.
    path = write("a:\n  ros__parameters: {x: 1}\nb:\n  ros__parameters: {y: [1, x]}\n")
    with pytest.raises(ParameterError, match="'y'"):
        load_parameter_file(path, "/a")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-3", -3),
        ("1.5", 1.5),
        ("true", True),
        ("False", False),
        ("hello", "hello"),
        ("'1'", "1"),
        ("", ""),
        ("[1, 2]", [1, 2]),
        ("[a, b]", ["a", "b"]),
        ("2024-01-01", "2024-01-01"),
    ],
)
def test_parse_parameter_value(text: str, value: object) -> None:
    parsed = parse_parameter_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("text", "match"), [("{a: 1}", "mapping"), ("[1, a]", "one type"), ("[1", "not a YAML")]
)
def test_parse_parameter_value_errors(text: str, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        parse_parameter_value(text, where="-p x:=" + text)


def test_dump_matches_ros2_param_dump_layout(write: Callable[[str], Path]) -> None:
    params: dict[str, ParameterValue] = {
        "use_sim_time": False,
        "wheel.radius": 0.1,
        "wheel.pid.p": 1.0,
        "ids": [1, 2],
        "label": "1",
        "blob": b"hi",
    }
    text = dump_parameters("/robots/robot-1/driver", params)
    assert text.startswith("/robots/robot-1/driver:\n  ros__parameters:\n")
    assert yaml.safe_load(text)["/robots/robot-1/driver"]["ros__parameters"]["wheel"] == {
        "radius": 0.1,
        "pid": {"p": 1.0},
    }
    # Round trip through the loader.
    assert load_parameter_file(write(text), "/robots/robot-1/driver") == params


def test_dump_refuses_value_and_group_with_the_same_name() -> None:
    with pytest.raises(ParameterError, match=r"'a\.b'"):
        dump_parameters("/n", {"a": 1, "a.b": 2})
