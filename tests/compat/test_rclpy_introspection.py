"""rclpy's service introspection (``configure_introspection`` on services and clients),
against real rclpy: the same events, sequence numbers and contents per state."""

from __future__ import annotations

import random

import pytest

from tests.compat._programs import env_for, interpreter, run

BOTH = pytest.mark.parametrize("python", ["ours", "real"])


@BOTH
def test_service_events_follow_each_entitys_introspection_state(nats_url: str, python: str) -> None:
    exe, env = interpreter(python, env_for(nats_url, random.randint(100, 230)))
    assert run("service_introspection.py", exe, env).splitlines() == [
        "contents",
        "  response: True set",
        "  REQUEST_SENT seq=1 [True] [] stamped=True",
        "  REQUEST_RECEIVED seq=1 [True] [] stamped=True",
        "  RESPONSE_SENT seq=1 [] [(True, 'set')] stamped=True",
        "  RESPONSE_RECEIVED seq=1 [] [(True, 'set')] stamped=True",
        "client gid: same in its events: True, set: True",
        "metadata",
        "  response: False cleared",
        "  REQUEST_SENT seq=2 [] [] stamped=True",
        "  REQUEST_RECEIVED seq=2 [] [] stamped=True",
        "  RESPONSE_SENT seq=2 [] [] stamped=True",
        "  RESPONSE_RECEIVED seq=2 [] [] stamped=True",
        "off",
        "  response: True",
        "client metadata only",
        "  response: True set",
        "  REQUEST_SENT seq=4 [] [] stamped=True",
        "  RESPONSE_RECEIVED seq=4 [] [] stamped=True",
    ]
