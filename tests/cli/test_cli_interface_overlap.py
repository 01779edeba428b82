"""A user interface package that overlaps a built-in one (``RFOS_INTERFACE_PATH``), with the
``rfos`` command in a subprocess as a user runs it.

ROS 2's own ``sensor_msgs`` (the copy the ``ros-sensor-msgs`` wheel installs, as a checkout of
common_interfaces holds it) is accepted; a package that changes a built-in definition is left
out with ONE line saying what conflicts and what to do, and every command keeps working.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.ros2_oracle import oracle

RFOS = Path(sys.executable).parent / "rfos"
BATTERY_HASH_LINE = "# type hash: RIHS01_"


def _rfos(package: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RFOS_INTERFACE_PATH": str(package)}
    return subprocess.run(
        [str(RFOS), *argv], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _ros2_sensor_msgs(tmp_path: Path) -> Path:
    """ROS 2's sensor_msgs package directory (msg/, srv/ with .msg/.srv/.idl/.json), plus one
    message of the user's own."""
    package = tmp_path / "sensor_msgs"
    shutil.copytree(oracle().share / "sensor_msgs", package)
    (package / "msg" / "WheelTick.msg").write_text("std_msgs/Header header\nint64 ticks\n")
    return package


def test_identical_overlap_is_accepted(tmp_path: Path) -> None:
    package = _ros2_sensor_msgs(tmp_path)
    listed = _rfos(package, "interface", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    names = listed.stdout.split()
    assert "sensor_msgs/msg/WheelTick" in names  # the package was loaded, not skipped
    assert "sensor_msgs/msg/BatteryState" in names
    assert "sensor_msgs/srv/SetCameraInfo" in names
    shown = _rfos(package, "interface", "show", "sensor_msgs/msg/WheelTick")
    assert shown.returncode == 0 and shown.stderr == ""
    assert "int64 ticks" in shown.stdout


def test_conflicting_overlap_is_one_line_and_commands_keep_working(tmp_path: Path, nats_url: str) -> None:
    package = _ros2_sensor_msgs(tmp_path)
    battery = package / "msg" / "BatteryState.msg"
    text = battery.read_text()
    assert "\nfloat32 voltage" in text
    battery.write_text(text.replace("\nfloat32 voltage", "\nfloat64 voltage"))

    listed = _rfos(package, "interface", "list")
    assert listed.returncode == 0
    lines = listed.stderr.splitlines()
    assert len(lines) == 1, listed.stderr
    (line,) = lines
    assert "Traceback" not in line
    assert str(battery) in line
    assert "sensor_msgs/msg/BatteryState" in line
    assert "'float32 voltage' there, 'float64 voltage' here" in line
    assert "give your package another name" in line
    names = listed.stdout.split()
    assert "sensor_msgs/msg/BatteryState" in names  # the built-in one
    assert "sensor_msgs/msg/WheelTick" not in names  # the package is left out whole
    assert "std_srvs/srv/Trigger" in names

    shown = _rfos(package, "interface", "show", "sensor_msgs/msg/BatteryState")
    assert shown.returncode == 0
    assert "float32 voltage" in shown.stdout and BATTERY_HASH_LINE in shown.stdout
    assert len(shown.stderr.splitlines()) == 1

    # Commands that use types: publishing a built-in sensor_msgs type, listing topics.
    published = _rfos(
        package,
        "topic",
        "pub",
        "--url",
        nats_url,
        "-1",
        "/battery",
        "sensor_msgs/msg/BatteryState",
        "{voltage: 12}",
    )
    assert published.returncode == 0, published.stderr
    assert len(published.stderr.splitlines()) == 1 and "Traceback" not in published.stderr
    topics = _rfos(package, "topic", "list", "--url", nats_url, "--graph-wait", "0.2")
    assert topics.returncode == 0, topics.stderr
    assert "Traceback" not in topics.stderr
