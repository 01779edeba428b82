"""Deadline and liveliness tracking for one subscription, on loop timers (no task).

Only subscriptions whose QoS sets a deadline or a liveliness lease get a watchdog; the
hot path then costs one ``loop.time()`` per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport._base import EntityStats
from robotfleet_nodes.transport._ratelimit import RateLimitedLog

__all__ = ["Watchdog"]

log = logging.getLogger(__name__)


class Watchdog:
    """Calls ``deadline_cb`` when ``qos.deadline`` passes without data and
    ``liveliness_cb`` when the lease expires or is renewed."""

    def __init__(
        self,
        name: str,
        qos: QoSProfile,
        stats: EntityStats,
        deadline_cb: Callable[[], Callable[[int], None] | None],
        liveliness_cb: Callable[[], Callable[[bool], None] | None],
    ) -> None:
        self._name = name
        self._deadline = qos.deadline
        self._lease = qos.liveliness_lease_duration
        self._stats = stats
        self._deadline_cb = deadline_cb
        self._liveliness_cb = liveliness_cb
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self.last_data = now
        self.last_alive = now
        self.alive = False
        self._errors = RateLimitedLog(log)
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._lease_timer: asyncio.TimerHandle | None = None
        if self._deadline is not None:
            self._deadline_timer = self._loop.call_at(now + self._deadline, self._check_deadline)

    def data(self) -> None:
        """A data message arrived (also renews liveliness)."""
        now = self._loop.time()
        self.last_data = now
        self._renew(now)

    def heartbeat(self) -> None:
        """A heartbeat arrived: renews liveliness only."""
        self._renew(self._loop.time())

    def _renew(self, now: float) -> None:
        if self._lease is None:
            return
        self.last_alive = now
        if not self.alive:
            self.alive = True
            self._schedule_lease(now + self._lease)
            self._fire_liveliness(True)

    def _schedule_lease(self, when: float) -> None:
        if self._lease_timer is not None:
            self._lease_timer.cancel()
        self._lease_timer = self._loop.call_at(when, self._check_lease)

    def _check_lease(self) -> None:
        assert self._lease is not None
        now = self._loop.time()
        expires = self.last_alive + self._lease
        if now < expires:
            self._lease_timer = self._loop.call_at(expires, self._check_lease)
            return
        self._lease_timer = None
        self.alive = False
        self._fire_liveliness(False)

    def _fire_liveliness(self, alive: bool) -> None:
        callback = self._liveliness_cb()
        if callback is None:
            return
        try:
            callback(alive)
        except Exception as exc:
            self._errors.log(logging.ERROR, "%s: on_liveliness_changed raised", self._name, exc_info=exc)

    def _check_deadline(self) -> None:
        assert self._deadline is not None
        now = self._loop.time()
        due = self.last_data + self._deadline
        if now < due:
            self._deadline_timer = self._loop.call_at(due, self._check_deadline)
            return
        self._stats.deadline_missed += 1
        self._deadline_timer = self._loop.call_at(now + self._deadline, self._check_deadline)
        # The next period starts now: one miss per period, not one per check.
        self.last_data = now
        callback = self._deadline_cb()
        if callback is None:
            return
        try:
            callback(self._stats.deadline_missed)
        except Exception as exc:
            self._errors.log(logging.ERROR, "%s: on_deadline_missed raised", self._name, exc_info=exc)

    def cancel(self) -> None:
        """Stop all timers; idempotent."""
        for timer in (self._deadline_timer, self._lease_timer):
            if timer is not None:
                timer.cancel()
        self._deadline_timer = self._lease_timer = None
