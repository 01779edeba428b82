"""``rclpy.clock_type.ClockType``: which clock a time point comes from (rcl's values)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ClockType"]


class ClockType(IntEnum):
    """rcl's clock types, with rcl's numbers."""

    UNINITIALIZED = 0
    ROS_TIME = 1  #: system time, or the simulated time of ``/clock`` when overridden
    SYSTEM_TIME = 2  #: wall clock (``time.time_ns``)
    STEADY_TIME = 3  #: monotonic (``time.monotonic_ns``)
