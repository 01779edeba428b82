"""Periodic timers on the asyncio loop, without a task per timer.

A timer schedules itself with ``loop.call_at`` on a fixed grid (``start + n * period``),
so it does not drift. A synchronous callback runs inline; a coroutine callback runs as a
task, and a tick that comes while the previous one is still running is skipped and
counted in :attr:`Timer.overruns` (never queued up). 1000 idle timers cost 1000 pending
loop handles, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

from robotfleet_nodes._callbacks import RateLimitedLog, is_async

__all__ = ["Timer"]

log = logging.getLogger(__name__)


class Timer:
    """Calls ``callback()`` every ``period`` seconds until cancelled."""

    def __init__(
        self,
        period: float,
        callback: Callable[[], Any],
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        autostart: bool = True,
        name: str = "",
    ) -> None:
        if not isinstance(period, (int, float)) or isinstance(period, bool) or not math.isfinite(period):
            raise TypeError(f"Expected a period in seconds (float), got {period!r}")
        if period <= 0:
            raise ValueError(f"timer period must be > 0 seconds, got {period}")
        self.period = float(period)
        self.callback = callback
        self.name = name
        self.calls = 0
        self.overruns = 0
        self._async = is_async(callback)
        self._loop = loop or asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[Any] | None = None
        self._next = 0.0
        self._errors = RateLimitedLog(log)
        if autostart:
            self.reset()

    @property
    def is_canceled(self) -> bool:
        return self._handle is None

    @property
    def time_until_next_call(self) -> float | None:
        """Seconds to the next tick, or ``None`` when cancelled."""
        if self._handle is None:
            return None
        return max(0.0, self._next - self._loop.time())

    def reset(self) -> None:
        """(Re)start the timer: the next tick is one period from now."""
        self.cancel()
        self._next = self._loop.time() + self.period
        self._handle = self._loop.call_at(self._next, self._fire)

    def cancel(self) -> None:
        """Stop ticking; a callback already running finishes."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        now = self._loop.time()
        # Next grid point strictly in the future (skips ticks missed while the loop was busy).
        self._next += self.period * max(1, math.floor((now - self._next) / self.period) + 1)
        self._handle = self._loop.call_at(self._next, self._fire)
        if self._async:
            if self._running is not None and not self._running.done():
                self.overruns += 1
                return
            self.calls += 1
            self._running = self._loop.create_task(self._run_async())
            return
        self.calls += 1
        try:
            self.callback()
        except Exception:
            self._errors(logging.ERROR, "timer %s callback raised", self.name or self.callback, exc_info=True)

    async def _run_async(self) -> None:
        try:
            await self.callback()
        except asyncio.CancelledError:
            raise
        except Exception:
            self._errors(logging.ERROR, "timer %s callback raised", self.name or self.callback, exc_info=True)

    def describe(self) -> dict[str, Any]:
        return {"period": self.period, "calls": self.calls, "overruns": self.overruns, "name": self.name}
