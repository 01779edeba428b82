"""``rclpy.logging``: loggers printing rclpy's console format on stderr.

``[INFO] [1700000000.123456789] [talker]: Publishing: "Hello World: 1"``

As in rcutils, a level belongs to a logger *name* (every ``get_logger('talker')`` shares it),
an unset level is inherited from the dotted parent (``talker.child`` from ``talker``), and the
default is INFO. ``once``, ``skip_first`` and ``throttle_duration_sec`` filter per call site.
"""

from __future__ import annotations

import logging as _logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .impl.logging_severity import LoggingSeverity

__all__ = [
    "LoggingSeverity",
    "RcutilsLogger",
    "clear_config",
    "get_logger",
    "get_logger_effective_level",
    "get_logger_level",
    "get_logging_directory",
    "get_logging_severity_from_string",
    "initialize",
    "set_logger_level",
    "shutdown",
]

_write_lock = threading.Lock()
_levels_lock = threading.Lock()
_levels: dict[str, LoggingSeverity] = {}
_DEFAULT_LEVEL = LoggingSeverity.INFO
_FILTERS = ("once", "skip_first", "throttle_duration_sec", "throttle_time_source_type")
#: Node logger name -> where its records (and its children's) go besides stderr: ``/rosout``.
_rosout_lock = threading.Lock()
_rosout_sinks: dict[str, Callable[[_logging.LogRecord], object]] = {}


def _attach_rosout(name: str, sink: Callable[[_logging.LogRecord], object]) -> None:
    """Hand the records of logger ``name`` and its children to ``sink`` (a node's ``/rosout``)."""
    with _rosout_lock:
        _rosout_sinks[name] = sink


def _detach_rosout(name: str) -> None:
    with _rosout_lock:
        _rosout_sinks.pop(name, None)


def _rosout_sink(name: str) -> Callable[[_logging.LogRecord], object] | None:
    """The sink of ``name`` or of its nearest dotted parent, as rcl's rosout sublogger."""
    with _rosout_lock:
        if not _rosout_sinks:
            return None
        while name:
            sink = _rosout_sinks.get(name)
            if sink is not None:
                return sink
            name = name.rpartition(".")[0]
    return None


def _effective_level(name: str) -> LoggingSeverity:
    with _levels_lock:
        while True:
            level = _levels.get(name, LoggingSeverity.UNSET)
            if level is not LoggingSeverity.UNSET:
                return level
            if not name:
                return _levels.get("", _DEFAULT_LEVEL) or _DEFAULT_LEVEL
            name = name.rpartition(".")[0]


def _severity(value: int | LoggingSeverity) -> LoggingSeverity:
    try:
        return LoggingSeverity(value)
    except ValueError:
        names = ", ".join(f"LoggingSeverity.{s.name}" for s in LoggingSeverity)
        raise ValueError(f"{value!r} is not a logging severity: use one of {names}") from None


class _CallSite:
    """What the filters remember about one line that logs."""

    def __init__(self) -> None:
        self.calls = 0
        self.last_logged: float | None = None


def _caller() -> Any:
    """The frame that called the logger (the first one outside this module)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return frame


def _call_site() -> tuple[str, int]:
    """The file and line that called the logger."""
    frame = _caller()
    return frame.f_code.co_filename, frame.f_lineno


class RcutilsLogger:
    """A named logger (``node.get_logger()``, ``rclpy.logging.get_logger(name)``)."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._sites: dict[tuple[str, int], _CallSite] = {}
        self._sites_lock = threading.Lock()

    def get_child(self, name: str) -> RcutilsLogger:
        """The logger ``<this name>.<name>``."""
        if not name:
            raise ValueError("Child logger name must not be empty.")
        return RcutilsLogger(f"{self.name}.{name}" if self.name else name)

    def set_level(self, level: int | LoggingSeverity) -> None:
        """Set the level of every logger of this name (``UNSET``: inherit the parent's)."""
        set_logger_level(self.name, level)

    def get_effective_level(self) -> LoggingSeverity:
        return _effective_level(self.name)

    def is_enabled_for(self, severity: int | LoggingSeverity) -> bool:
        return _severity(severity) >= self.get_effective_level()

    def _passes(self, site: tuple[str, int], filters: dict[str, Any]) -> bool:
        unknown = set(filters) - set(_FILTERS)
        if unknown:
            raise TypeError(
                f'parameter "{sorted(unknown)[0]}" is not one of the recognized logging options {_FILTERS}'
            )
        with self._sites_lock:
            state = self._sites.setdefault(site, _CallSite())
            state.calls += 1
            if filters.get("once") and state.calls > 1:
                return False
            if filters.get("skip_first") and state.calls == 1:
                return False
            throttle = filters.get("throttle_duration_sec")
            if throttle:
                now = time.monotonic()
                if state.last_logged is not None and now - state.last_logged < float(throttle):
                    return False
                state.last_logged = now
        return True

    def log(
        self, message: str, severity: int | LoggingSeverity, name: str | None = None, **filters: Any
    ) -> bool:
        """Print ``message`` at ``severity``; False if the level or a filter held it back.

        ``once=True``: only the first call from this line; ``skip_first=True``: all but the
        first; ``throttle_duration_sec=s``: at most once every ``s`` seconds.
        """
        level = _severity(severity)
        if not self.is_enabled_for(level):
            return False
        if filters and not self._passes(_call_site(), filters):
            return False
        seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
        line = f"[{level.name}] [{seconds}.{nanoseconds:09d}] [{name or self.name}]: {message}\n"
        with _write_lock:
            sys.stderr.write(line)
            sys.stderr.flush()
        sink = _rosout_sink(name or self.name)
        if sink is not None:
            frame = _caller()
            code = frame.f_code
            record = _logging.LogRecord(
                f"rfos.{name or self.name}", int(level), code.co_filename, frame.f_lineno, message, None, None
            )
            record.funcName = code.co_name
            sink(record)
        return True

    def debug(self, message: str, **filters: Any) -> bool:
        return self.log(message, LoggingSeverity.DEBUG, **filters)

    def info(self, message: str, **filters: Any) -> bool:
        return self.log(message, LoggingSeverity.INFO, **filters)

    def warning(self, message: str, **filters: Any) -> bool:
        return self.log(message, LoggingSeverity.WARN, **filters)

    def warn(self, message: str, **filters: Any) -> bool:
        """Same as :meth:`warning` (rclpy keeps it, deprecated)."""
        return self.log(message, LoggingSeverity.WARN, **filters)

    def error(self, message: str, **filters: Any) -> bool:
        return self.log(message, LoggingSeverity.ERROR, **filters)

    def fatal(self, message: str, **filters: Any) -> bool:
        return self.log(message, LoggingSeverity.FATAL, **filters)


def get_logger(name: str) -> RcutilsLogger:
    """A logger named ``name`` (not empty)."""
    if not name:
        raise ValueError("Logger name must not be empty.")
    return RcutilsLogger(name)


def initialize() -> None:
    """Nothing to start: loggers print directly (kept for rclpy's API)."""


def shutdown() -> None:
    """Nothing to stop (kept for rclpy's API)."""


def clear_config() -> None:
    """Forget every logger level set so far."""
    with _levels_lock:
        _levels.clear()


def set_logger_level(name: str, level: int | LoggingSeverity, detailed_error: bool = False) -> None:
    """Set the level of the loggers named ``name`` (``''``: the default of all)."""
    severity = _severity(level)
    with _levels_lock:
        _levels[name] = severity


def get_logger_level(name: str) -> LoggingSeverity:
    """The level set for ``name`` (``UNSET`` if none was)."""
    with _levels_lock:
        return _levels.get(name, LoggingSeverity.UNSET)


def get_logger_effective_level(name: str) -> LoggingSeverity:
    """The level that applies to ``name``: its own, else its nearest parent's, else INFO."""
    return _effective_level(name)


def get_logging_severity_from_string(log_severity: str) -> LoggingSeverity:
    """``'debug'`` (any case, ``WARNING`` too) -> :attr:`LoggingSeverity.DEBUG`."""
    name = log_severity.strip().upper()
    name = "WARN" if name == "WARNING" else name
    try:
        return LoggingSeverity[name]
    except KeyError:
        raise ValueError(
            f"{log_severity!r} is not a severity: use debug, info, warn, error or fatal"
        ) from None


def get_logging_directory() -> Path:
    """Where ROS 2 would keep log files: ``$ROS_LOG_DIR``, else ``$ROS_HOME/log``, else ``~/.ros/log``."""
    if os.environ.get("ROS_LOG_DIR"):
        return Path(os.environ["ROS_LOG_DIR"]).expanduser()
    home = os.environ.get("ROS_HOME") or os.path.join("~", ".ros")
    return Path(home).expanduser() / "log"
