"""Serialized messages in rclpy: ``Publisher.publish(bytes)`` and ``raw=True`` subscriptions,
against real rclpy (same bytes, same output)."""

from __future__ import annotations

import random

import pytest

from tests.compat._programs import env_for, interpreter, run

BOTH = pytest.mark.parametrize("python", ["ours", "real"])


@BOTH
def test_raw_subscription_gets_serialize_message_bytes(nats_url: str, python: str) -> None:
    """A raw subscription's callback gets ``serialize_message``'s bytes of what was published
    as bytes; a typed subscription on the same topic gets the message."""
    exe, env = interpreter(python, env_for(nats_url, random.randint(100, 230)))
    assert run("serialized_messages.py", exe, env).splitlines() == [
        "raw type: bytes",
        r"I heard: b'\x00\x01\x00\x00\x0f\x00\x00\x00Hello World: 7\x00'",
        "same as serialize_message: True",
        "deserialized: Hello World: 7",
        "typed: String Hello World: 7",
        "publish(42): TypeError",
    ]
