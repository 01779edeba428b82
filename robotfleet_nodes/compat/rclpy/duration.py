"""``rclpy.duration.Duration``: a signed span of time with nanosecond precision."""

from __future__ import annotations

import math
from typing import Any

from ._msgs import builtin_msg
from .constants import S_TO_NS

__all__ = ["Duration", "Infinite"]

_INT64_MAX = 2**63 - 1


class Duration:
    """A period between two time points (like ``rclpy.duration.Duration``).

    ``seconds`` may be fractional; the fractional part of ``nanoseconds`` is dropped. Values
    outside a signed 64-bit nanosecond count raise :class:`OverflowError`, as in rclpy.
    """

    __hash__ = None  # type: ignore[assignment]  # rclpy's Duration defines __eq__ only

    def __init__(self, *, seconds: int | float = 0, nanoseconds: int | float = 0) -> None:
        total = int(seconds * S_TO_NS) + int(nanoseconds)
        if total > _INT64_MAX or total < -(2**63):
            raise OverflowError("Total nanoseconds value is too large to store in C duration.")
        self._ns = total

    @property
    def nanoseconds(self) -> int:
        """The span in nanoseconds."""
        return self._ns

    def __repr__(self) -> str:
        return f"Duration(nanoseconds={self._ns})"

    def __str__(self) -> str:
        if self._ns == _INT64_MAX:
            return "Infinite"
        return f"{self._ns} nanoseconds"

    def __add__(self, other: object) -> Duration:
        if isinstance(other, Duration):
            return Duration(nanoseconds=self._ns + other._ns)
        return NotImplemented

    def __sub__(self, other: object) -> Duration:
        if isinstance(other, Duration):
            return Duration(nanoseconds=self._ns - other._ns)
        return NotImplemented

    def __mul__(self, other: object) -> Duration:
        if isinstance(other, int):
            return Duration(nanoseconds=self._ns * other)
        if isinstance(other, float):
            if not math.isfinite(other):
                if other == math.inf:
                    return Infinite
                raise ValueError("Can't multiply duration with nan")
            return Duration(nanoseconds=int(self._ns * other))
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self._ns == other._ns
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self._ns != other._ns
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self._ns < other._ns
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self._ns <= other._ns
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self._ns > other._ns
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self._ns >= other._ns
        return NotImplemented

    def to_msg(self) -> Any:
        """This span as a ``builtin_interfaces/Duration`` (``nanosec`` always in [0, 1e9))."""
        sec, nanosec = divmod(self._ns, S_TO_NS)
        return builtin_msg("Duration")(sec=sec, nanosec=nanosec)

    @classmethod
    def from_msg(cls, msg: Any) -> Duration:
        """A :class:`Duration` from a ``builtin_interfaces/Duration``."""
        if not isinstance(msg, builtin_msg("Duration")):
            raise TypeError("Must pass a builtin_interfaces.msg.Duration object")
        return cls(seconds=msg.sec, nanoseconds=msg.nanosec)


#: rmw's infinite duration (the largest signed 64-bit nanosecond count).
Infinite = Duration(nanoseconds=_INT64_MAX)
