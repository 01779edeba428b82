"""The one YAML loader (``robotfleet_nodes._yaml``) behind config, parameter and launch files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from robotfleet_nodes import _yaml
from robotfleet_nodes._yaml import LineDict, LineList, YamlError, load_yaml
from robotfleet_nodes.errors import RobotFleetError

PACKAGE = Path(_yaml.__file__).resolve().parent


def test_plain_values() -> None:
    assert load_yaml("a: 1\nb: [x, 2.5, true]\nc: null\n", "t") == {"a": 1, "b": ["x", 2.5, True], "c": None}
    assert load_yaml("", "t") is None


def test_dates_stay_strings() -> None:
    assert load_yaml("day: 2026-01-01\nstamp: 2026-01-01T10:00:00Z\n", "t") == {
        "day": "2026-01-01",
        "stamp": "2026-01-01T10:00:00Z",
    }


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "key 'a' given twice (first on line 1)"),
        ("outer:\n  x: 1\n  y: 2\n  x: 3\n", 4, "key 'x' given twice (first on line 2)"),
        ("- {k: 1, k: 2}\n", 1, "key 'k' given twice (first on line 1)"),
        ("1: a\n1: b\n", 2, "key 1 given twice (first on line 1)"),
    ],
)
def test_a_key_given_twice_is_refused_with_file_line_and_key(text: str, line: int, problem: str) -> None:
    with pytest.raises(YamlError) as info:
        load_yaml(text, "conf/x.yaml")
    assert (info.value.source, info.value.line, info.value.problem) == ("conf/x.yaml", line, problem)
    assert str(info.value) == f"conf/x.yaml:{line}: invalid YAML: {problem}"


def test_merged_keys_may_be_overridden() -> None:
    text = "base: &base {rate: 1.0, name: a}\nnode:\n  <<: *base\n  rate: 2.0\n"
    assert load_yaml(text, "t")["node"] == {"rate": 2.0, "name": "a"}


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a: [1, 2\nb: 3\n", 2, "expected ',' or ']'"),
        ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
        ("? [1, 2]\n: x\n", 1, "found unhashable key"),
        ("a: !!python/name:os.system\n", 1, "could not determine a constructor"),
    ],
)
def test_bad_yaml_names_the_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(YamlError) as info:
        load_yaml(text, "f.yaml")
    assert info.value.line == line
    assert problem in info.value.problem
    assert isinstance(info.value, RobotFleetError) and isinstance(info.value, ValueError)


def test_lines_are_remembered_on_request() -> None:
    data = load_yaml("top: 1\nlaunch:\n  - node:\n      name: a\n", "t", lines=True)
    assert isinstance(data, LineDict) and data.line == 1
    assert isinstance(data["launch"], LineList) and data["launch"].line == 3
    assert data["launch"][0]["node"].line == 4
    assert type(load_yaml("a: {b: [1]}\n", "t")["a"]["b"]) is list


def test_every_file_kind_uses_this_loader() -> None:
    users = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "robotfleet_nodes._yaml" in path.read_text(encoding="utf-8")
    }
    assert {"config/_load.py", "node/param_files.py", "launch/yaml_loader.py"} <= users
    loaders = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(call in path.read_text(encoding="utf-8") for call in ("yaml.load(", "yaml.safe_load("))
    }
    assert loaders == {"_yaml.py"}


def test_imports_nothing_from_the_subpackages() -> None:
    tree = ast.parse((PACKAGE / "_yaml.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert {name for name in imported if name.startswith("robotfleet_nodes")} == {"robotfleet_nodes.errors"}


def test_dump_reads_back_as_the_same_data() -> None:
    data = {"b": [1, 2.5, "yes", "", None, True], "a": {"x": {}, "y": []}, "long": "z" * 300, "u": "Zürich"}
    text = _yaml.dump_yaml(data)
    assert text.startswith("b:\n- 1\n- 2.5\n- 'yes'\n- ''\n- null\n- true\na:\n  x: {}\n  y: []\n")
    assert load_yaml(text, "t") == data
    assert _yaml.dump_yaml(data, sort_keys=True).startswith("a:\n")
    assert _yaml.dump_yaml(3) == "3\n"
