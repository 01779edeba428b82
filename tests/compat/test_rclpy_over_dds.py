"""Our ``rclpy`` on the DDS transport, talking to real rclpy (Fast DDS) with the same programs.

``RFOS_TRANSPORT=dds`` makes our rclpy's context join the DDS domain ``ROS_DOMAIN_ID`` (the
loopback Cyclone configuration, no broker) instead of NATS. The unchanged programs of
``programs/`` then run as two processes, one under ours and one under real rclpy from the
oracle venv (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``): nothing leaves 127.0.0.1. Each test
has a random domain in 150..229 and remaps ``topic`` to a name of its own (``--ros-args -r``,
honoured by both), so programs of other test sessions on the same domain stay apart.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.ros2_oracle import oracle

pytest.importorskip("cyclonedds")

from robotfleet_nodes.transport.dds import LOOPBACK_CONFIG

PROGRAMS = Path(__file__).resolve().parent / "programs"
_DROP = ("PYTHONPATH", "RFOS_ROS2", "MESSAGING_URL", "RFOS_TRANSPORT", "CYCLONEDDS_URI")


def _command(python: str, domain: int, program: str, topic: str) -> tuple[list[str], dict[str, str]]:
    """``python program --ros-args -r topic:=<topic>`` and its environment, ours or real rclpy."""
    env = {key: value for key, value in os.environ.items() if key not in _DROP}
    env["ROS_DOMAIN_ID"] = str(domain)
    if python == "ours":
        interpreter = sys.executable
        env.update(RFOS_TRANSPORT="dds", CYCLONEDDS_URI=LOOPBACK_CONFIG)
    else:
        interpreter = str(oracle().python)
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    return [interpreter, str(PROGRAMS / program), "--ros-args", "-r", f"topic:={topic}"], env


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


@pytest.mark.parametrize(("publisher_python", "subscriber_python"), [("ours", "real"), ("real", "ours")])
def test_minimal_publisher_and_subscriber_across_dds_vendors(
    publisher_python: str, subscriber_python: str
) -> None:
    """Five consecutive messages arrive: reliable delivery once the two sides matched."""
    domain = random.randint(150, 229)
    topic = f"/rclpy_dds_{uuid.uuid4().hex[:12]}"
    command, env = _command(publisher_python, domain, "minimal_publisher.py", topic)
    publisher = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        command, env = _command(subscriber_python, domain, "minimal_subscriber.py", topic)
        subscriber = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    finally:
        _, pub_err = _stop(publisher)
    out, err = subscriber.stdout, subscriber.stderr
    assert subscriber.returncode == 0, err
    heard = [line for line in out.splitlines() if line.startswith("I heard: Hello World: ")]
    assert len(heard) == 5, out + err
    numbers = [int(line.rsplit(" ", 1)[1]) for line in heard]
    assert numbers == list(range(numbers[0], numbers[0] + 5)), numbers
    assert 'Publishing: "Hello World: 0"' in pub_err, pub_err
    assert publisher.returncode == 0, pub_err
