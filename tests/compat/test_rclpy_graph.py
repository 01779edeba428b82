"""rclpy's synchronous graph queries, counts, ``destroy_*`` and ``wait_for_message``,
against real rclpy (the same program prints the same under both)."""

from __future__ import annotations

import random

import pytest

from tests.compat._programs import PROGRAMS, env_for, interpreter, run


@pytest.fixture
def domain() -> int:
    return random.randint(100, 230)


@pytest.mark.parametrize("python", ["ours", "real"])
def test_graph_counts_endpoint_info_and_wait_for_message(nats_url: str, domain: int, python: str) -> None:
    """Node names, topic/service names and types, count_* (get_subscription_count from the
    graph), TopicEndpointInfo attributes, wait_for_message (message and timeout), and the
    counts dropping to 0 after destroy_*."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    expected = (PROGRAMS / "graph_introspection.expected").read_text(encoding="utf-8")
    assert run("graph_introspection.py", exe, env).splitlines() == expected.splitlines()
