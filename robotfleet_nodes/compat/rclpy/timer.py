"""``rclpy.timer``: :class:`Timer` (an executor entity) and :class:`Rate` (sleeps on a timer).

A timer becomes ready every period of its clock; a timer that fell behind fires once and
skips the missed periods (as rcl does). A callback with a parameter annotated
:class:`TimerInfo` gets the expected and actual call times, as in rclpy.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import Any

from . import _core
from ._entity import Entity, Work
from .callback_groups import CallbackGroup
from .clock import Clock, ROSClock
from .clock_type import ClockType
from .constants import S_TO_NS
from .exceptions import InvalidHandle, ROSInterruptException
from .time import Time

__all__ = ["Rate", "Timer", "TimerInfo"]


class TimerInfo:
    """When a timer call was expected and when it happened (given to callbacks asking for it)."""

    def __init__(
        self,
        *,
        expected_call_time: int = 0,
        actual_call_time: int = 0,
        clock_type: ClockType = ClockType.SYSTEM_TIME,
    ) -> None:
        if not isinstance(clock_type, ClockType):
            raise TypeError("Clock type must be a ClockType enum")
        if expected_call_time < 0 or actual_call_time < 0:
            raise ValueError("call time values must not be negative")
        self._expected = Time(nanoseconds=expected_call_time, clock_type=clock_type)
        self._actual = Time(nanoseconds=actual_call_time, clock_type=clock_type)

    @property
    def expected_call_time(self) -> Time:
        return self._expected

    @property
    def actual_call_time(self) -> Time:
        return self._actual


def _timer_info_parameter(callback: Callable[..., Any]) -> str | None:
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return None
    return next((p.name for p in parameters if p.annotation in (TimerInfo, "TimerInfo")), None)


class Timer(Entity):
    """Calls ``callback()`` every ``timer_period_ns`` (missed periods are skipped, as in rcl).

    Scheduled on the monotonic clock, or on the ROS clock's simulated time while it is
    active (``use_sim_time``): then the timer is due when ``/clock`` reaches its next call,
    and switching between the two restarts the period.
    """

    def __init__(
        self,
        callback: Callable[..., Any] | None,
        callback_group: CallbackGroup,
        timer_period_ns: int,
        clock: Clock,
        *,
        autostart: bool = True,
    ) -> None:
        super().__init__(callback_group)
        if timer_period_ns <= 0:
            raise ValueError(f"timer period must be positive, got {timer_period_ns} ns")
        self.callback = callback
        self._clock = clock
        self._period_ns = int(timer_period_ns)
        self._sim = self._sim_active()
        now = self._now_ns()
        self._last_call = now
        self._next = now + self._period_ns
        self._cancelled = not autostart

    def _sim_active(self) -> bool:
        return isinstance(self._clock, ROSClock) and self._clock.ros_time_is_active

    def _now_ns(self) -> int:
        """Now on the timer's time line (call with ``_lock`` held or from ``__init__``)."""
        sim = self._sim_active()
        if sim != self._sim:  # simulated time (de)activated: restart the period
            self._sim = sim
            now = self._clock.now().nanoseconds if sim else time.monotonic_ns()
            self._last_call, self._next = now, now + self._period_ns
            return now
        return self._clock.now().nanoseconds if sim else time.monotonic_ns()

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def timer_period_ns(self) -> int:
        """The period in nanoseconds; setting it takes effect from the next call."""
        return self._period_ns

    @timer_period_ns.setter
    def timer_period_ns(self, value: int) -> None:
        value = int(value)
        if value <= 0:
            raise ValueError(f"timer period must be positive, got {value} ns")
        with self._lock:
            self._next = self._last_call + value
            self._period_ns = value
        _core.notify()

    def _deadline(self) -> float | None:
        if self._cancelled or self._destroyed or self._sim:
            return None  # simulated time: checked whenever an executor wakes (each /clock message)
        return self._next / S_TO_NS

    def _take(self, now: float) -> Work | None:
        with self._lock:
            now_ns = self._now_ns()
            if self._cancelled or self._destroyed or now_ns < self._next:
                return None
            expected = self._next
            self._next += self._period_ns
            if self._next <= now_ns:  # skip the periods missed while busy
                self._next += ((now_ns - self._next) // self._period_ns + 1) * self._period_ns
            self._last_call = now_ns
        callback = self.callback
        if callback is None:
            return lambda: None
        name = _timer_info_parameter(callback)
        if name is None:
            return callback
        stamp = self._clock.now().nanoseconds
        info = TimerInfo(
            expected_call_time=max(stamp - (now_ns - expected), 0),
            actual_call_time=stamp,
            clock_type=self._clock.clock_type,
        )
        return partial(callback, **{name: info})

    def is_ready(self) -> bool:
        """Whether the timer is due (and not cancelled)."""
        with self._lock:
            return not self._cancelled and not self._destroyed and self._now_ns() >= self._next

    def is_canceled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Stop calling the callback until :meth:`reset`."""
        self._cancelled = True

    def reset(self) -> None:
        """(Re)start: the next call is one period from now."""
        with self._lock:
            now = self._now_ns()
            self._next = now + self._period_ns
            self._cancelled = False
        _core.notify()

    def time_since_last_call(self) -> int:
        """Nanoseconds since the last call (or since creation or :meth:`reset`)."""
        with self._lock:
            return self._now_ns() - self._last_call

    def time_until_next_call(self) -> int | None:
        """Nanoseconds until the next call (negative when overdue); ``None`` when cancelled."""
        if self._cancelled:
            return None
        with self._lock:
            return self._next - self._now_ns()

    def destroy(self) -> None:
        """Stop for good (use ``Node.destroy_timer``)."""
        self._destroyed = True
        self._cancelled = True

    def __enter__(self) -> Timer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()


class Rate:
    """Sleeps until the next period of its timer (``Node.create_rate``).

    The timer fires on an executor, so another thread must spin the node while one thread
    sleeps, as in rclpy; after shutdown or Ctrl-C, :meth:`sleep` raises
    :class:`~rclpy.exceptions.ROSInterruptException`.
    """

    def __init__(self, timer: Timer) -> None:
        self._timer = timer
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sleepers = 0
        self._is_shutdown = False
        self._is_destroyed = False
        timer.callback = self._event.set
        _core.on_shutdown(self._on_shutdown)

    def _on_shutdown(self) -> None:
        self._is_shutdown = True
        self.destroy()

    def destroy(self) -> None:
        """Wake the sleepers and stop (use ``Node.destroy_rate``)."""
        self._is_destroyed = True
        self._event.set()
        _core.remove_on_shutdown(self._on_shutdown)

    def sleep(self) -> None:
        """Block until the timer fires next (never from a callback of a single-threaded executor)."""
        if self._is_shutdown:
            raise ROSInterruptException()
        if self._is_destroyed:
            raise RuntimeError("Rate cannot sleep because it has been destroyed")
        if self._timer._destroyed:
            self.destroy()
            raise InvalidHandle("Rate cannot sleep because the timer has been destroyed")
        with self._lock:
            self._sleepers += 1
        try:
            self._event.wait()
        finally:
            with self._lock:
                self._sleepers -= 1
                if self._sleepers == 0:
                    self._event.clear()
        if self._is_shutdown:
            raise ROSInterruptException()
