"""``rclpy.clock``: clocks of the three rcl types, time jumps, and sleeping on a clock.

ROS time is system time until a time source overrides it (``set_ros_time_override`` with
``_set_ros_time_is_active(True)``); sleeping on an overridden ROS clock wakes when the
override moves past the target.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import IntEnum
from types import TracebackType
from typing import Any

from . import _core
from .clock_type import ClockType
from .duration import Duration
from .exceptions import NotInitializedException
from .time import Time

__all__ = ["Clock", "ClockChange", "ClockType", "JumpHandle", "JumpThreshold", "ROSClock", "TimeJump"]

_MAX_WAIT = 1.0  # seconds: wall-clock sleeps re-check the clock at least this often (jumps)


class ClockChange(IntEnum):
    """What kind of jump a :class:`TimeJump` reports (rcl's values)."""

    ROS_TIME_NO_CHANGE = 1
    ROS_TIME_ACTIVATED = 2
    ROS_TIME_DEACTIVATED = 3
    SYSTEM_TIME_NO_CHANGE = 4


class JumpThreshold:
    """Which jumps call a jump callback: forward by at least ``min_forward``, backward by at
    least ``-min_backward`` (a negative duration), or ROS time (de)activated."""

    def __init__(
        self, *, min_forward: Duration | None, min_backward: Duration | None, on_clock_change: bool = True
    ) -> None:
        if min_forward is not None and min_forward.nanoseconds <= 0:
            raise ValueError("min_forward must be a positive non-zero duration")
        if min_backward is not None and min_backward.nanoseconds >= 0:
            raise ValueError("min_backward must be a negative non-zero duration")
        if min_forward is None and min_backward is None and not on_clock_change:
            raise ValueError("At least one jump threshold must be enabled")
        self.min_forward = min_forward
        self.min_backward = min_backward
        self.on_clock_change = on_clock_change

    def _exceeded(self, change: ClockChange, delta_ns: int) -> bool:
        if change in (ClockChange.ROS_TIME_ACTIVATED, ClockChange.ROS_TIME_DEACTIVATED):
            return self.on_clock_change
        if self.min_forward is not None and delta_ns >= self.min_forward.nanoseconds:
            return True
        return self.min_backward is not None and delta_ns <= self.min_backward.nanoseconds


class TimeJump:
    """A jump of a clock: its kind and how far it went."""

    def __init__(self, clock_change: ClockChange, delta: Duration) -> None:
        if not isinstance(clock_change, ClockChange):
            raise TypeError("clock_change must be an instance of rclpy.clock.ClockChange")
        self._clock_change = clock_change
        self._delta = delta

    @property
    def clock_change(self) -> ClockChange:
        return self._clock_change

    @property
    def delta(self) -> Duration:
        return self._delta


class JumpHandle:
    """A registered jump callback; :meth:`unregister` (or leaving a ``with``) removes it."""

    def __init__(
        self,
        *,
        clock: Clock,
        threshold: JumpThreshold,
        pre_callback: Callable[[], None] | None,
        post_callback: Callable[[TimeJump], None] | None,
    ) -> None:
        if pre_callback is None and post_callback is None:
            raise ValueError("One of pre_callback or post_callback must be callable")
        if pre_callback is not None and not callable(pre_callback):
            raise ValueError("pre_callback must be callable if given")
        if post_callback is not None and not callable(post_callback):
            raise ValueError("post_callback must be callable if given")
        self._clock: Clock | None = clock
        self.threshold = threshold
        self._pre = pre_callback
        self._post = post_callback
        clock._add_jump_handle(self)

    def _fire_pre(self, change: ClockChange, delta_ns: int) -> None:
        if self._pre is not None and self.threshold._exceeded(change, delta_ns):
            self._pre()

    def _fire_post(self, change: ClockChange, delta_ns: int) -> None:
        if self._post is not None and self.threshold._exceeded(change, delta_ns):
            self._post(TimeJump(change, Duration(nanoseconds=delta_ns)))

    def unregister(self) -> None:
        """Remove the callback from its clock."""
        if self._clock is not None:
            self._clock._remove_jump_handle(self)
            self._clock = None

    def __enter__(self) -> JumpHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unregister()


class Clock:
    """A clock of one :class:`ClockType` (``Clock(clock_type=ClockType.ROS_TIME)`` is a
    :class:`ROSClock`)."""

    _clock_type: ClockType
    _lock: threading.Lock
    _jump_handles: list[JumpHandle]
    _override_ns: int
    _active: bool

    def __new__(cls, *, clock_type: ClockType = ClockType.SYSTEM_TIME) -> Clock:
        if not isinstance(clock_type, ClockType):
            raise TypeError("Clock type must be a ClockType enum")
        self = super().__new__(ROSClock if clock_type is ClockType.ROS_TIME else cls)
        self._clock_type = clock_type
        self._lock = threading.Lock()
        self._jump_handles = []
        self._override_ns = 0  # ROS time only: the time source's time, used while active
        self._active = False
        return self

    @property
    def clock_type(self) -> ClockType:
        return self._clock_type

    def __repr__(self) -> str:
        return f"Clock(clock_type={self._clock_type.name})"

    def _now_ns(self) -> int:
        if self._clock_type is ClockType.STEADY_TIME:
            return time.monotonic_ns()
        return time.time_ns()

    def now(self) -> Time:
        """The current time of this clock."""
        return Time(nanoseconds=self._now_ns(), clock_type=self._clock_type)

    def create_jump_callback(
        self,
        threshold: JumpThreshold,
        *,
        pre_callback: Callable[[], None] | None = None,
        post_callback: Callable[[TimeJump], None] | None = None,
    ) -> JumpHandle:
        """Call ``pre_callback()`` before and ``post_callback(TimeJump)`` after a jump over
        ``threshold`` (only ROS time override changes are jumps here)."""
        return JumpHandle(
            clock=self, threshold=threshold, pre_callback=pre_callback, post_callback=post_callback
        )

    def _add_jump_handle(self, handle: JumpHandle) -> None:
        with self._lock:
            self._jump_handles.append(handle)

    def _remove_jump_handle(self, handle: JumpHandle) -> None:
        with self._lock:
            if handle in self._jump_handles:
                self._jump_handles.remove(handle)

    def _jump_handles_snapshot(self) -> list[JumpHandle]:
        with self._lock:
            return list(self._jump_handles)

    def sleep_until(self, until: Time, context: Any = None) -> bool:
        """Sleep until this clock reaches ``until``; ``True`` if it did, ``False`` if woken by
        shutdown (or Ctrl-C) or ROS time being (de)activated."""
        if not _core.is_running():
            raise NotInitializedException()
        if until.clock_type != self._clock_type:
            raise ValueError("until's clock type does not match this clock's type")
        wake = threading.Event()
        source_changed = False

        def on_jump(jump: TimeJump) -> None:
            nonlocal source_changed
            if jump.clock_change in (ClockChange.ROS_TIME_ACTIVATED, ClockChange.ROS_TIME_DEACTIVATED):
                source_changed = True
            wake.set()

        threshold = JumpThreshold(
            min_forward=Duration(nanoseconds=1), min_backward=None, on_clock_change=True
        )
        _core.on_shutdown(wake.set)
        try:
            with self.create_jump_callback(threshold, post_callback=on_jump):
                while _core.is_running() and not source_changed:
                    left = until.nanoseconds - self._now_ns()
                    if left <= 0:
                        break
                    wake.wait(self._wait_for(left))
                    wake.clear()
        finally:
            _core.remove_on_shutdown(wake.set)
        if not _core.is_running() or source_changed:
            return False
        return self.now() >= until

    def _wait_for(self, left_ns: int) -> float | None:
        seconds = left_ns / 1e9
        return seconds if self._clock_type is ClockType.STEADY_TIME else min(seconds, _MAX_WAIT)

    def sleep_for(self, rel_time: Duration, context: Any = None) -> bool:
        """``sleep_until(now() + rel_time)``."""
        return self.sleep_until(self.now() + rel_time, context)


class ROSClock(Clock):
    """ROS time: system time, unless a time source (``/clock``) overrides it."""

    def __new__(cls) -> ROSClock:
        self = super().__new__(Clock, clock_type=ClockType.ROS_TIME)
        if not isinstance(self, ROSClock):  # pragma: no cover - Clock.__new__ guarantees it
            raise TypeError("Clock(clock_type=ROS_TIME) must make a ROSClock")
        return self

    @property
    def ros_time_is_active(self) -> bool:
        """Whether the override (simulated time) is in use."""
        return self._active

    def _now_ns(self) -> int:
        return self._override_ns if self._active else time.time_ns()

    def _jump(self, change: ClockChange, delta_ns: int, apply: Callable[[], None]) -> None:
        handles = self._jump_handles_snapshot()
        for handle in handles:
            handle._fire_pre(change, delta_ns)
        apply()
        for handle in handles:
            handle._fire_post(change, delta_ns)

    def _set_ros_time_is_active(self, enabled: bool) -> None:
        if enabled == self._active:
            return
        change = ClockChange.ROS_TIME_ACTIVATED if enabled else ClockChange.ROS_TIME_DEACTIVATED
        delta = (self._override_ns - time.time_ns()) if enabled else (time.time_ns() - self._override_ns)

        def apply() -> None:
            self._active = enabled

        self._jump(change, delta, apply)

    def set_ros_time_override(self, time: Time) -> None:
        """The time ROS time reports while active (a time source calls this per ``/clock``)."""
        if not isinstance(time, Time):
            raise TypeError(f"Time must be specified as rclpy.time.Time. Received type: {type(time)}")
        new_ns = time.nanoseconds

        def apply() -> None:
            self._override_ns = new_ns

        if self._active:
            self._jump(ClockChange.ROS_TIME_NO_CHANGE, new_ns - self._override_ns, apply)
        else:
            apply()
