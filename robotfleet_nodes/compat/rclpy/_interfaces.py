"""Which interface classes our rclpy can carry: ours, never a real ROS 2's rosidl classes."""

from __future__ import annotations

from typing import Any

__all__ = ["refuse_rosidl"]


def refuse_rosidl(cls: type[Any]) -> None:
    """Refuse rosidl-generated classes (real ROS 2's), which our transport cannot carry."""
    if hasattr(cls, "_TYPE_SUPPORT") or type(cls).__name__.startswith("Metaclass_"):
        raise TypeError(
            f"{cls.__module__}.{cls.__name__} is a rosidl-generated class of a real ROS 2: this rclpy "
            "(RobotFleetOS) needs its own interface classes; run with RFOS_ROS2=rfos so that "
            "`std_msgs.msg` etc. are ours, or use the real rclpy"
        )
