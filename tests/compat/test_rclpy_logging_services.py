"""rclpy's logger level services (``enable_logger_service``) and ``/rosout`` publishing
(``enable_rosout``), against real rclpy."""

from __future__ import annotations

import random

import pytest

from tests.compat._programs import env_for, interpreter, run

BOTH = pytest.mark.parametrize("python", ["ours", "real"])


@BOTH
def test_logger_levels_are_read_and_set_through_the_logger_services(nats_url: str, python: str) -> None:
    exe, env = interpreter(python, env_for(nats_url, random.randint(100, 230)))
    assert run("logger_service.py", exe, env).splitlines() == [
        "services ready: True",
        "levels: [('logger_service_node', 0), ('other', 0)]",
        "set DEBUG: (True, '')",
        "levels: [('logger_service_node', 10)]",
        "debug enabled: True",
        "set child WARN: (True, '')",
        "child level: WARN",
        "set 15: (False, 'Failed reason: Invalid logger level.')",
        "set ERROR: (True, '')",
        "info enabled: False",
        "plain node serves: False",
    ]


@BOTH
def test_node_loggers_publish_on_rosout_unless_disabled(nats_url: str, python: str) -> None:
    """What a node's logger (and its child) prints is on /rosout with its name, level and
    function; records held back by the level, and a node with enable_rosout=False, are not."""
    exe, env = interpreter(python, env_for(nats_url, random.randint(100, 230)))
    assert run("rosout_logging.py", exe, env).splitlines() == [
        "first: [rosout_talker] level=20 msg=ping function=timer_callback",
        "[rosout_talker.child] level=30 msg=from a child",
        "[rosout_talker] level=40 msg=done",
    ]
