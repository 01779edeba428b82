"""Log lines that cannot flood: at most one per key per period, with a count of the rest."""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["OnceLogger", "RateLimitedLog"]


class RateLimitedLog:
    """Logs a problem at most once per ``period`` seconds and says how many were suppressed.

    Hot paths call :meth:`log` for every failure; it costs one clock read while quiet.
    """

    __slots__ = ("_last", "_logger", "_period", "_suppressed")

    def __init__(self, logger: logging.Logger, period: float = 10.0) -> None:
        self._logger = logger
        self._period = period
        self._last = float("-inf")
        self._suppressed = 0

    def log(self, level: int, fmt: str, *args: Any, exc_info: BaseException | None = None) -> None:
        """Log ``fmt % args`` unless a line was logged less than ``period`` seconds ago."""
        now = time.monotonic()
        if now - self._last < self._period:
            self._suppressed += 1
            return
        suppressed, self._suppressed, self._last = self._suppressed, 0, now
        if suppressed:
            fmt += " (%d similar suppressed in the last %.0fs)"
            args = (*args, suppressed, self._period)
        self._logger.log(level, fmt, *args, exc_info=exc_info)


class OnceLogger:
    """Logs each distinct key once (bounded: after ``limit`` keys it stops remembering)."""

    __slots__ = ("_limit", "_logger", "_seen")

    def __init__(self, logger: logging.Logger, limit: int = 1024) -> None:
        self._logger = logger
        self._seen: set[object] = set()
        self._limit = limit

    def log(self, key: object, level: int, fmt: str, *args: Any) -> None:
        """Log ``fmt % args`` the first time ``key`` is seen."""
        if key in self._seen:
            return
        if len(self._seen) < self._limit:
            self._seen.add(key)
        self._logger.log(level, fmt, *args)
