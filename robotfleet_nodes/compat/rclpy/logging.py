"""``rclpy.logging``: loggers printing rclpy's console format on stderr.

``[INFO] [1700000000.123456789] [talker]: Publishing: "Hello World: 1"``
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["LoggingSeverity", "RcutilsLogger", "get_logger"]

_write_lock = threading.Lock()


class LoggingSeverity:
    """The severities, as ``rclpy.logging.LoggingSeverity`` numbers them."""

    UNSET = 0
    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40
    FATAL = 50


_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "FATAL"}


class RcutilsLogger:
    """A named logger (``node.get_logger()``, ``rclpy.logging.get_logger(name)``)."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._level = LoggingSeverity.INFO

    def get_child(self, name: str) -> RcutilsLogger:
        return RcutilsLogger(f"{self.name}.{name}" if self.name else name)

    def set_level(self, level: int) -> None:
        self._level = int(level)

    def get_effective_level(self) -> int:
        return self._level

    def is_enabled_for(self, severity: int) -> bool:
        return severity >= self._level

    def log(self, message: str, severity: int) -> bool:
        """Print ``message`` at ``severity``; False if the level filtered it out."""
        if not self.is_enabled_for(severity):
            return False
        stamp = time.time_ns()
        seconds, nanoseconds = divmod(stamp, 1_000_000_000)
        label = _NAMES.get(severity, str(severity))
        line = f"[{label}] [{seconds}.{nanoseconds:09d}] [{self.name}]: {message}\n"
        with _write_lock:
            sys.stderr.write(line)
            sys.stderr.flush()
        return True

    def debug(self, message: str) -> bool:
        return self.log(message, LoggingSeverity.DEBUG)

    def info(self, message: str) -> bool:
        return self.log(message, LoggingSeverity.INFO)

    def warning(self, message: str) -> bool:
        return self.log(message, LoggingSeverity.WARN)

    warn = warning

    def error(self, message: str) -> bool:
        return self.log(message, LoggingSeverity.ERROR)

    def fatal(self, message: str) -> bool:
        return self.log(message, LoggingSeverity.FATAL)


def get_logger(name: str) -> RcutilsLogger:
    """A logger named ``name``."""
    return RcutilsLogger(name)
