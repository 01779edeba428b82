"""The executor counts of issue 15, ours against real rclpy.

``tests/compat/programs/executor_counts.py`` (a 1 s blocking callback on a 0.5 s timer beside
a 10 Hz timer, spun for 3 s) runs in three configurations: single-threaded, multi-threaded
with the node's default group, multi-threaded with two mutually exclusive groups. Real rclpy
(``.venv-ros2``, Fast DDS, loopback) measured 5 / 4 / 29 fast ticks when the issue was filed.
The tick counts depend on timing, so a loaded machine moves them: that is why they are
compared here, not in the tests (``tests/compat/test_rclpy_programs.py`` checks the
behaviour: no fast tick while the blocking callback sleeps, except with two groups).

Our side runs without ``MESSAGING_URL`` (a private embedded broker, ``RFOS_LOCAL_PORT=0``).
Prints one JSON line: the counts per interpreter and whether ours are within +-1 of real
rclpy's. ``python benchmarks/rclpy_executors.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from _common import emit, progress

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "tests" / "compat" / "programs" / "executor_counts.py"
MODES = ("single", "multi", "multi-groups")
ISSUE_COUNTS = {"single": 5, "multi": 4, "multi-groups": 29}


def _ticks(python: str, mode: str) -> int:
    env = {**os.environ, "RFOS_LOCAL_PORT": "0", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    env.pop("MESSAGING_URL", None)
    out = subprocess.run(
        [python, str(PROGRAM), mode], env=env, check=True, capture_output=True, text=True, timeout=120
    ).stdout
    return int(json.loads(out.strip().splitlines()[-1])["ticks"])


def main() -> None:
    real = ROOT / ".venv-ros2" / "bin" / "python"
    ours = {mode: _ticks(sys.executable, mode) for mode in MODES}
    progress(f"ours: {ours}")
    result: dict[str, object] = {"ours": ours, "issue": ISSUE_COUNTS}
    reference = ISSUE_COUNTS
    if real.exists():
        reference = {mode: _ticks(str(real), mode) for mode in MODES}
        result["real_rclpy"] = reference
    result["within_one"] = all(abs(ours[mode] - reference[mode]) <= 1 for mode in MODES)
    emit(result)


if __name__ == "__main__":
    main()
