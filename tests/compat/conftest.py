"""Fixtures of the rclpy compatibility tests."""

from __future__ import annotations

import random

import pytest


@pytest.fixture
def domain() -> int:
    """A fresh ROS_DOMAIN_ID (on one broker, domains never see each other)."""
    return random.randint(100, 230)
