"""rclpy's ``qos_overriding_options``: read-only ``qos_overrides.<topic>.<entity>.<policy>``
parameters, overrides from ``--ros-args -p``, the validation callback; against real rclpy."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.compat._programs import env_for, interpreter, start

BOTH = pytest.mark.parametrize("python", ["ours", "real"])

OVERRIDES = {
    "qos_overrides./chatter_qos.publisher.depth": "5",
    "qos_overrides./chatter_qos.subscription.reliability": "best_effort",
    "qos_overrides./chatter_qos.subscription.history": "keep_all",
    "qos_overrides./chatter_qos.publisher_second.durability": "transient_local",
    "qos_overrides./deep_qos.publisher.depth": "20",
    "qos_overrides./bad_qos.publisher.history": "sideways",
}


@BOTH
def test_qos_overrides_from_ros_args_set_policies_and_are_validated(nats_url: str, python: str) -> None:
    exe, env = interpreter(python, env_for(nats_url, random.randint(100, 230)))
    args = ["--ros-args"]
    for name, value in OVERRIDES.items():
        args += ["-p", f"{name}:={value}"]
    process = start("qos_overrides.py", env, *args, python=exe)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert out.splitlines() == [
        "callback: KEEP_LAST depth=5 RELIABLE",
        "callback: KEEP_ALL depth=7 BEST_EFFORT",
        "qos_overrides./chatter_qos.publisher.depth = 5",
        "qos_overrides./chatter_qos.publisher.history = 'keep_last'",
        "qos_overrides./chatter_qos.publisher.reliability = 'reliable'",
        "qos_overrides./chatter_qos.publisher_second.depth = 3",
        "qos_overrides./chatter_qos.publisher_second.durability = 'transient_local'",
        "qos_overrides./chatter_qos.subscription.depth = 7",
        "qos_overrides./chatter_qos.subscription.history = 'keep_all'",
        "qos_overrides./chatter_qos.subscription.reliability = 'best_effort'",
        "read_only=True description=depth for publisher `/chatter_qos` with id `None`",
        "set read-only: successful=False",
        "callback: KEEP_LAST depth=20 RELIABLE",
        "InvalidQosOverridesError: Provided QoS overrides for publisher `/deep_qos` with id `None`, "
        "are not valid: expected qos depth less than 10",
        "RuntimeError: Unexpected QoS override for policy `history`: `sideways`",
    ]


@BOTH
def test_qos_overrides_from_a_params_file(nats_url: str, python: str, tmp_path: Path) -> None:
    """The same overrides as nested keys of a params file (``/chatter_qos:`` under ``qos_overrides:``)."""
    params = tmp_path / "qos.yaml"
    params.write_text(
        "qos_overrides_node:\n"
        "  ros__parameters:\n"
        "    qos_overrides:\n"
        "      /chatter_qos:\n"
        "        publisher:\n"
        "          depth: 4\n"
        "        subscription:\n"
        "          reliability: best_effort\n"
        "      /bad_qos:\n"
        "        publisher:\n"
        "          history: sideways\n",
        encoding="utf-8",
    )
    exe, env = interpreter(python, env_for(nats_url, random.randint(100, 230)))
    process = start("qos_overrides.py", env, "--ros-args", "--params-file", str(params), python=exe)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[:2] == ["callback: KEEP_LAST depth=4 RELIABLE", "callback: KEEP_LAST depth=7 BEST_EFFORT"]
    assert "qos_overrides./chatter_qos.publisher.depth = 4" in lines
    assert lines[-1] == "RuntimeError: Unexpected QoS override for policy `history`: `sideways`"
