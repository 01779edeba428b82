"""rclpy actions, ours against real rclpy: the round trip of a blocking ``send_goal``.

``benchmarks/_rclpy_action_roundtrip.py`` (a server node and a client node in one process,
a multi-threaded executor, goals of order 2 with one feedback) runs under our rclpy (NATS,
a private embedded broker: ``RFOS_LOCAL_PORT=0``) and, when ``.venv-ros2`` exists, under real
rclpy (Fast DDS, loopback). Each round trip is send_goal -> accepted -> get_result ->
result, through the executors on both sides. Prints one JSON line: p50/p99 per
interpreter and goals per second. ``python benchmarks/rclpy_actions.py [GOALS]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import emit, percentiles_us, progress

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = Path(__file__).resolve().parent / "_rclpy_action_roundtrip.py"


def _run(python: str, goals: int) -> dict[str, Any]:
    env = {**os.environ, "RFOS_LOCAL_PORT": "0", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    env.pop("MESSAGING_URL", None)
    out = subprocess.run(
        [python, str(PROGRAM), str(goals)], env=env, check=True, capture_output=True, text=True, timeout=600
    ).stdout
    times: list[float] = json.loads(out.strip().splitlines()[-1])["round_trips_s"]
    return {**percentiles_us(times), "goals_per_s": round(len(times) / sum(times), 1), "goals": len(times)}


def main() -> None:
    goals = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    result: dict[str, Any] = {"benchmark": "rclpy_actions", "ours": _run(sys.executable, goals)}
    progress(f"ours: {result['ours']}")
    real = ROOT / ".venv-ros2" / "bin" / "python"
    if real.exists():
        result["real_rclpy"] = _run(str(real), goals)
        progress(f"real rclpy: {result['real_rclpy']}")
    emit(result)


if __name__ == "__main__":
    main()
