"""``rclpy.exceptions``: the exceptions programs commonly catch, under rclpy's names.

The parameter exceptions are the core's classes themselves
(``robotfleet_nodes.node.parameters``), so an ``except ParameterNotDeclaredException``
catches what the node's parameter store raises.
"""

from __future__ import annotations

from robotfleet_nodes.errors import ParameterError, RobotFleetError
from robotfleet_nodes.node.parameters import (
    InvalidParameterTypeError,
    InvalidParameterValueError,
    ParameterAlreadyDeclaredError,
    ParameterImmutableError,
    ParameterNotDeclaredError,
    ParameterUninitializedError,
)

__all__ = [
    "InvalidHandle",
    "InvalidParameterTypeException",
    "InvalidParameterValueException",
    "NotInitializedException",
    "ParameterAlreadyDeclaredException",
    "ParameterException",
    "ParameterImmutableException",
    "ParameterNotDeclaredException",
    "ParameterUninitializedException",
    "ROSInterruptException",
]

ParameterException = ParameterError
ParameterNotDeclaredException = ParameterNotDeclaredError
ParameterAlreadyDeclaredException = ParameterAlreadyDeclaredError
InvalidParameterTypeException = InvalidParameterTypeError
InvalidParameterValueException = InvalidParameterValueError
ParameterImmutableException = ParameterImmutableError
ParameterUninitializedException = ParameterUninitializedError


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
