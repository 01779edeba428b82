"""``rclpy.impl.logging_severity``: the logging severities, as rclpy numbers them."""

from __future__ import annotations

import enum

__all__ = ["LoggingSeverity"]


class LoggingSeverity(enum.IntEnum):
    """A logger's level or a message's severity (``UNSET``: inherit the parent logger's level)."""

    UNSET = 0
    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40
    FATAL = 50
