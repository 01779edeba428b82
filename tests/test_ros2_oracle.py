"""The ROS 2 oracle venv (`make ros2-oracle`): real rclpy runs there, and a missing venv
fails under CI instead of skipping."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.ros2_oracle import oracle


def test_oracle_runs_real_rclpy() -> None:
    """The venv holds real rclpy (not ours) with the Fast DDS RMW and the standard services."""
    ros2 = oracle()
    script = (
        "import rclpy, std_srvs.srv\n"
        "from rclpy.utilities import get_rmw_implementation_identifier as rmw\n"
        "rclpy.init()\n"
        "node = rclpy.create_node('oracle_check')\n"
        "print(rclpy.__file__, rmw(), std_srvs.srv.Trigger.Request.__module__)\n"
        "node.destroy_node(); rclpy.shutdown()\n"
    )
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    out = subprocess.run(
        [str(ros2.python), "-c", script], capture_output=True, text=True, timeout=60, env=env, check=True
    ).stdout.split()
    assert Path(out[0]).is_relative_to(ros2.venv)
    assert out[1] == "rmw_fastrtps_cpp"
    assert out[2].startswith("std_srvs.srv")
    assert len(ros2.types(("srv",))) >= 20


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_oracle_fails_under_ci_and_skips_otherwise(
    ci: str, outcome: type[BaseException], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("RFOS_ROS2_VENV", str(tmp_path / "nowhere"))
    with pytest.raises(outcome, match="make ros2-oracle"):
        oracle()
