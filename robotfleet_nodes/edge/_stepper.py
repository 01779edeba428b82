"""One timer steps many edges: :class:`Stepper`, one per context and step period.

Thousands of edges may share one process. The edges of one context that share a step
period are stepped by one timer: each pass steps the edges that are due (an idle edge once
per status period, a busy one every step period; the edge says when, ``_due``) and the
status messages of one pass are published together by one task, so the connection writes
them to the broker in one go instead of one system call per robot.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from typing import Protocol

from robotfleet_nodes.edge.driver import DriverStatus, RobotDriver
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.timer import Timer

__all__ = [
    "STALE_GOAL_WINDOW_S",
    "STEPPERS",
    "STOPPED_GAP_S",
    "SteppedEdge",
    "Stepper",
    "release_stepper",
    "stepper_for",
]

log = logging.getLogger(__name__)

#: A stepper pass this much later than its period means the process was stopped [s].
STOPPED_GAP_S = 2.0
#: Goals read this long after a stop was detected are refused (about the robot) [s].
STALE_GOAL_WINDOW_S = 1.0


class SteppedEdge(Protocol):
    """What a stepper drives of an edge (:class:`~robotfleet_nodes.edge.node.EdgeNode`)."""

    robot_id: str
    driver: RobotDriver
    #: monotonic time from which the stepper steps this edge again
    _due: float

    def _tick(self, now: float) -> None: ...

    async def _publish_status(self, status: DriverStatus) -> None: ...


class Stepper:
    """Steps every edge of one context with the same step period, from one timer.

    Each pass steps the edges that are due (see ``SteppedEdge._due``) and publishes the status
    messages the pass produced from one task, one after the other: they reach the broker
    in one write. Edges join with :meth:`add` and leave with :meth:`remove`; the timer
    stops when the last one leaves.
    """

    def __init__(self, period: float) -> None:
        self.period = period
        self._edges: dict[SteppedEdge, None] = {}  # insertion-ordered set
        self._timer: Timer | None = None
        self._batch: list[tuple[SteppedEdge, DriverStatus]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_pass = time.monotonic()
        self.resumed_at = -math.inf  # when a stop of the process was last detected

    def __len__(self) -> int:
        return len(self._edges)

    def catch_up(self, now: float) -> None:
        """If the process did not run for a while (SIGSTOP: no pass for more than
        :data:`STOPPED_GAP_S` beyond the period), tell every driver (``resync``) before
        anything steps it, so a robot stopped with its process does not work in the past."""
        gap = now - self._last_pass - self.period
        self._last_pass = now
        if gap <= STOPPED_GAP_S:
            return
        self.resumed_at = now
        log.warning("edges did not run for %.1f s (process stopped?): robots go on from where they were", gap)
        for edge in self._edges:
            edge.driver.resync(now)

    def just_resumed(self, now: float) -> bool:
        """True within :data:`STALE_GOAL_WINDOW_S` after a stop was detected: a goal read now
        waited in a buffer while the process was stopped (the zone may have moved its order
        on meanwhile, and the revocation saying so may be read after it)."""
        self.catch_up(now)
        return now - self.resumed_at < STALE_GOAL_WINDOW_S

    @property
    def batch(self) -> list[tuple[SteppedEdge, DriverStatus]] | None:
        """Status messages of the pass running now (``None`` outside a pass)."""
        return self._batch

    def add(self, edge: SteppedEdge) -> None:
        self._edges[edge] = None
        if self._timer is None:
            self._timer = Timer(self.period, self._step, name=f"edge stepper {self.period:g}s")

    def remove(self, edge: SteppedEdge) -> None:
        self._edges.pop(edge, None)
        if not self._edges and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _step(self) -> None:
        now = time.monotonic()
        self.catch_up(now)
        batch: list[tuple[SteppedEdge, DriverStatus]] = []
        self._batch = batch
        try:
            for edge in list(self._edges):
                if now >= edge._due:
                    try:
                        edge._tick(now)
                    except Exception:
                        log.exception("%s: stepping the driver failed", edge.robot_id)
        finally:
            self._batch = None
        if batch:
            task = asyncio.ensure_future(self._publish(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _publish(batch: list[tuple[SteppedEdge, DriverStatus]]) -> None:
        for edge, status in batch:
            await edge._publish_status(status)


#: context -> step period -> the stepper of that context's edges with that period.
STEPPERS: weakref.WeakKeyDictionary[Context, dict[float, Stepper]] = weakref.WeakKeyDictionary()


def stepper_for(context: Context, period: float) -> Stepper:
    """The stepper of ``context``'s edges with step period ``period`` (made on first use)."""
    steppers = STEPPERS.setdefault(context, {})
    stepper = steppers.get(period)
    if stepper is None:
        stepper = steppers[period] = Stepper(period)
    return stepper


def release_stepper(context: Context, stepper: Stepper, edge: SteppedEdge) -> None:
    """Take ``edge`` off ``stepper``; forget the stepper when it has no edge left."""
    stepper.remove(edge)
    steppers = STEPPERS.get(context)
    if not stepper and steppers is not None and steppers.get(stepper.period) is stepper:
        del steppers[stepper.period]
