"""Running the test programs (tests/compat/programs/) under our rclpy or real rclpy (the oracle)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.ros2_oracle import oracle

__all__ = ["PROGRAMS", "env_for", "interpreter", "run", "start", "stop"]

PROGRAMS = Path(__file__).resolve().parent / "programs"


def env_for(nats_url: str, domain: int) -> dict[str, str]:
    """The environment of a program: the session's broker and a fresh ROS domain."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RFOS_ROS2")}
    return {**environ, "MESSAGING_URL": nats_url, "ROS_DOMAIN_ID": str(domain)}


def interpreter(python: str, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Our venv's interpreter (``ours``), or real rclpy's (``real``: the oracle, on loopback DDS)."""
    if python == "ours":
        return sys.executable, env
    return str(oracle().venv / "bin" / "python"), {**env, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def start(
    program: str, env: dict[str, str], *args: str, python: str = sys.executable
) -> subprocess.Popen[str]:
    """Start ``programs/<program>`` with its output captured."""
    return subprocess.Popen(
        [python, str(PROGRAMS / program), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Ctrl-C the program if it still runs; its stdout and stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def run(program: str | Path, python: str, env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``programs/<program>`` (or a path) with ``args`` to its end; its stdout (fails the
    test on a non-zero exit, with both outputs)."""
    path = program if isinstance(program, Path) else PROGRAMS / program
    result = subprocess.run(
        [python, str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"{program} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout
