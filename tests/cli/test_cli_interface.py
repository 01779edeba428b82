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


# From the ros-std-srvs 5.5.1 / ros-test-msgs 2.3.0 wheels' share/*/*.json (rosidl's own hashes).
TRIGGER_HASHES = {
    "type hash": "RIHS01_eeff2cd6fa5ad9d27cdf4dec64818317839b62f212a91e6b5304b634b2062c5f",
    "Trigger_Request": "RIHS01_d010825374ce8918e72bfd826c82603e60f45419e932ea976f807b74a863a199",
    "Trigger_Response": "RIHS01_2d946c21e2fc3f1e9ca6986a8191d85fcc70097a8bb7771a053564bc47009cdf",
    "Trigger_Event": "RIHS01_ec4a1d26b0575e61906890342aba9523a2360e9845857c5590fa6e23bc39e1c2",
}
FIBONACCI_HASHES = {
    "type hash": "RIHS01_be9273e3557225044b4a040811112491f7079326e3a573f83258b0b4c30bd069",
    "Fibonacci_Goal": "RIHS01_e58ef5a8f4f039ab522a740823547c460b1d5aed8031c8b7825d33d345d90df8",
    "Fibonacci_FeedbackMessage": "RIHS01_37487bae8cea358366b97003c1ef1ca7ce7c08df36f9e8cca496624226aee64e",
    "Fibonacci_SendGoal_Event": "RIHS01_a20e708c6aae7a99d1eb0e930a0916f596bb5bae93a342a61752e13135be2c44",
    "Fibonacci_GetResult_Response": "RIHS01_ef88159d47a3d21d9bf4bec690cf668939d9542db28a9cfd77dbcd97eaf1add2",
}


@pytest.mark.parametrize(
    ("name", "expected", "parts"),
    [("std_srvs/srv/Trigger", TRIGGER_HASHES, 3), ("test_msgs/action/Fibonacci", FIBONACCI_HASHES, 12)],
)
def test_show_service_and_action_print_rihs01_hash_of_each_part(
    name: str, expected: dict[str, str], parts: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["interface", "show", name]) == 0
    header = [line for line in capsys.readouterr().out.splitlines() if "RIHS01_" in line]
    printed = dict(line.lstrip("# ").split(": ") for line in header)
    assert len(printed) == 1 + parts
    assert {key: printed[key] for key in expected} == expected
