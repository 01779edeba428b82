"""``rfos interface`` and the top-level ``rfos --help``."""

from __future__ import annotations

import os
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


def test_stubs_of_a_user_package_let_mypy_check_its_fields(tmp_path: Path) -> None:
    package = tmp_path / "wheel_test_msgs"
    (package / "msg").mkdir(parents=True)
    (package / "srv").mkdir()
    (package / "msg" / "Wheel.msg").write_text("builtin_interfaces/Time stamp\nfloat64 speed\nuint8[] raw\n")
    (package / "srv" / "SetSpeed.srv").write_text("Wheel wheel\n---\nbool ok\n")
    out = tmp_path / "typings"
    run = subprocess.run(
        [str(RFOS), "interface", "stubs", str(package), "--with-deps", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"wrote {out / 'wheel_test_msgs' / 'msg' / '__init__.pyi'}" in run.stdout
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.pyi"))
    assert written == [  # service_msgs: the ServiceEventInfo of SetSpeed_Event
        "builtin_interfaces/__init__.pyi",
        "builtin_interfaces/msg/__init__.pyi",
        "service_msgs/__init__.pyi",
        "service_msgs/msg/__init__.pyi",
        "wheel_test_msgs/__init__.pyi",
        "wheel_test_msgs/msg/__init__.pyi",
        "wheel_test_msgs/srv/__init__.pyi",
    ]
    user = tmp_path / "user.py"
    user.write_text(
        "from wheel_test_msgs.msg import Wheel\n"
        "from wheel_test_msgs.srv import SetSpeed\n\n\n"
        "def on_call(request: SetSpeed.Request) -> SetSpeed.Response:\n"
        "    wheel: Wheel = request.wheel\n"
        "    return SetSpeed.Response(ok=wheel.sped > 0 and wheel.raw == b'')\n"
    )
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "/dev/null", "--strict", str(user)],
        cwd=Path(__file__).resolve().parents[2],  # where robotfleet_nodes is importable
        env={**os.environ, "MYPYPATH": str(out), "MYPY_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert mypy.returncode == 1, mypy.stdout + mypy.stderr
    assert 'user.py:7: error: "Wheel" has no attribute "sped"; maybe "speed"?' in mypy.stdout
    assert "Found 1 error in 1 file" in mypy.stdout


def test_stubs_of_an_unknown_package_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["interface", "stubs", "no_such_msgs", "--out", str(tmp_path)]) == 1
    assert "'no_such_msgs' is neither a known interface package nor a directory" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
