"""``rfos interface`` and the top-level ``rfos --help``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from robotfleet_nodes.cli.main import main

STRING_HASH = "RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18"
RFOS = Path(sys.executable).parent / "rfos"


def test_help_lists_verbs() -> None:
    out = subprocess.run([str(RFOS), "--help"], capture_output=True, text=True, check=True).stdout
    assert "interface" in out
    assert "broker" in out


def test_show_std_msgs_string_prints_definition_and_ros_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["interface", "show", "std_msgs/msg/String"]) == 0
    out = capsys.readouterr().out
    assert "string data" in out
    assert STRING_HASH in out


def test_show_accepts_short_form_and_expands_nested(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["interface", "show", "geometry_msgs/PoseStamped", "--all"]) == 0
    out = capsys.readouterr().out
    assert "std_msgs/Header header" in out or "std_msgs/msg/Header header" in out
    assert "MSG: builtin_interfaces/msg/Time" in out


def test_list_includes_standard_and_own_types(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["interface", "list", "-m"]) == 0
    out = capsys.readouterr().out
    assert "    std_msgs/msg/String" in out
    assert "    robotfleet_nodes/msg/Heartbeat" in out
    assert "Services:" not in out


def test_unknown_type_is_a_clear_error_with_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["interface", "show", "std_msgs/msg/Strin"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rfos: ")
    assert "std_msgs/msg/String" in err


def test_proto_prints_yaml_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["interface", "proto", "geometry_msgs/msg/Pose"]) == 0
    out = capsys.readouterr().out
    assert "position:" in out and "orientation:" in out
