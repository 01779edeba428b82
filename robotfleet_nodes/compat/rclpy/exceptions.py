"""``rclpy.exceptions``: rclpy's parameter exception names for our core's parameter errors.

Each name is the core's class itself (``robotfleet_nodes.node.parameters``), so an
``except ParameterNotDeclaredException`` catches what the node's parameter store raises.
"""

from __future__ import annotations

from robotfleet_nodes.errors import ParameterError
from robotfleet_nodes.node.parameters import (
    InvalidParameterTypeError,
    InvalidParameterValueError,
    ParameterAlreadyDeclaredError,
    ParameterImmutableError,
    ParameterNotDeclaredError,
    ParameterUninitializedError,
)

__all__ = [
    "InvalidParameterTypeException",
    "InvalidParameterValueException",
    "ParameterAlreadyDeclaredException",
    "ParameterException",
    "ParameterImmutableException",
    "ParameterNotDeclaredException",
    "ParameterUninitializedException",
]

ParameterException = ParameterError
ParameterNotDeclaredException = ParameterNotDeclaredError
ParameterAlreadyDeclaredException = ParameterAlreadyDeclaredError
InvalidParameterTypeException = InvalidParameterTypeError
InvalidParameterValueException = InvalidParameterValueError
ParameterImmutableException = ParameterImmutableError
ParameterUninitializedException = ParameterUninitializedError
