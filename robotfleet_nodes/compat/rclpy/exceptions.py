"""``rclpy.exceptions``: the exceptions programs commonly catch (rclpy's names)."""

from __future__ import annotations

from robotfleet_nodes.errors import RobotFleetError

__all__ = ["InvalidHandle", "NotInitializedException", "ROSInterruptException"]


class NotInitializedException(RobotFleetError):
    """rclpy used before ``rclpy.init()`` (or after ``rclpy.shutdown()``): call ``rclpy.init()`` first."""

    def __init__(self, cause: str | None = None) -> None:
        super().__init__("rclpy.init() has not been called" + (f" before {cause}" if cause else ""))


class ROSInterruptException(RobotFleetError):
    """rclpy was shut down (or interrupted with Ctrl-C) while waiting, e.g. in ``Rate.sleep()``."""

    def __init__(self) -> None:
        super().__init__("rclpy.shutdown() has been called")


class InvalidHandle(RobotFleetError):
    """The entity was destroyed: create a new one."""
