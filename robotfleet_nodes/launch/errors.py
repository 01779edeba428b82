"""The launch system's error: one class, a ``ValueError`` so plain callers can catch it."""

from __future__ import annotations

from robotfleet_nodes.errors import RobotFleetError

__all__ = ["LaunchError"]


class LaunchError(RobotFleetError, ValueError):
    """A launch file, argument or action is invalid; the message names the file, line and key.

    ``located`` is true once the message carries a ``file:line`` prefix, so outer layers do
    not add a second one.
    """

    def __init__(self, message: str, *, located: bool = False) -> None:
        super().__init__(message)
        self.located = located
