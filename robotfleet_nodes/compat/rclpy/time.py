"""``rclpy.time.Time``: a point in time of one clock type, with nanosecond precision."""

from __future__ import annotations

from typing import Any, overload

from ._msgs import builtin_msg
from .clock_type import ClockType
from .constants import S_TO_NS
from .duration import Duration

__all__ = ["Time"]


class Time:
    """A point in time: nanoseconds since the clock's epoch and the clock's type.

    Times compare and subtract only with times of the same clock type (``TypeError``
    otherwise); negative times and values past a signed 64-bit count are refused, as in rclpy.
    """

    __hash__ = None  # type: ignore[assignment]  # rclpy's Time defines __eq__ only

    def __init__(
        self,
        *,
        seconds: int | float = 0,
        nanoseconds: int | float = 0,
        clock_type: ClockType = ClockType.SYSTEM_TIME,
    ) -> None:
        if not isinstance(clock_type, ClockType):
            raise TypeError("Clock type must be a ClockType enum")
        if seconds < 0:
            raise ValueError("Seconds value must not be negative")
        if nanoseconds < 0:
            raise ValueError("Nanoseconds value must not be negative")
        total = int(seconds * S_TO_NS) + int(nanoseconds)
        if total >= 2**63:
            raise OverflowError("Total nanoseconds value is too large to store in C time point.")
        self._ns = total
        self._clock_type = clock_type

    @property
    def nanoseconds(self) -> int:
        """Nanoseconds since the clock's epoch."""
        return self._ns

    @property
    def clock_type(self) -> ClockType:
        """The type of clock that produced this time."""
        return self._clock_type

    def seconds_nanoseconds(self) -> tuple[int, int]:
        """``(seconds, nanoseconds)`` with nanoseconds in [0, 1e9)."""
        return divmod(self._ns, S_TO_NS)

    def __repr__(self) -> str:
        return f"Time(nanoseconds={self._ns}, clock_type={self._clock_type.name})"

    def __add__(self, other: object) -> Time:
        if isinstance(other, Duration):
            try:
                return Time(nanoseconds=self._ns + other.nanoseconds, clock_type=self._clock_type)
            except OverflowError as exc:
                raise OverflowError("Addition leads to overflow in C storage.") from exc
        return NotImplemented

    def __radd__(self, other: object) -> Time:
        return self.__add__(other)

    @overload
    def __sub__(self, other: Time) -> Duration: ...

    @overload
    def __sub__(self, other: Duration) -> Time: ...

    def __sub__(self, other: object) -> Time | Duration:
        if isinstance(other, Time):
            if self._clock_type != other._clock_type:
                raise TypeError("Can't subtract times with different clock types")
            return Duration(nanoseconds=self._ns - other._ns)
        if isinstance(other, Duration):
            try:
                return Time(nanoseconds=self._ns - other.nanoseconds, clock_type=self._clock_type)
            except ValueError as exc:
                raise ValueError("Subtraction leads to negative time.") from exc
        return NotImplemented

    def _same_clock(self, other: Time) -> None:
        if self._clock_type != other._clock_type:
            raise TypeError("Can't compare times with different clock types")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Time):
            self._same_clock(other)
            return self._ns == other._ns
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Time):
            return not self.__eq__(other)
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Time):
            self._same_clock(other)
            return self._ns < other._ns
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, Time):
            self._same_clock(other)
            return self._ns <= other._ns
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, Time):
            self._same_clock(other)
            return self._ns > other._ns
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, Time):
            self._same_clock(other)
            return self._ns >= other._ns
        return NotImplemented

    def to_msg(self) -> Any:
        """This time as a ``builtin_interfaces/Time``."""
        sec, nanosec = self.seconds_nanoseconds()
        return builtin_msg("Time")(sec=sec, nanosec=nanosec)

    @classmethod
    def from_msg(cls, msg: Any, clock_type: ClockType = ClockType.ROS_TIME) -> Time:
        """A :class:`Time` from a ``builtin_interfaces/Time`` (ROS time unless told otherwise)."""
        if not isinstance(msg, builtin_msg("Time")):
            raise TypeError("Must pass a builtin_interfaces.msg.Time object")
        return cls(seconds=msg.sec, nanoseconds=msg.nanosec, clock_type=clock_type)
