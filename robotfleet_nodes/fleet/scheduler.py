"""The fleet's scheduler: which waiting orders go to which area now (plain data, no I/O).

:class:`~robotfleet_nodes.fleet.service.FleetService` keeps one :class:`AreaState` per
configured area, tells it what happens (submissions, ``AreaSummary`` messages, dispatch
outcomes, orders that ended) and asks :func:`picks` what to dispatch; it makes the
``/areas/<a>/dispatch`` calls itself. Nothing here awaits or reads a clock: ``now`` goes in.

Rules (``docs/fleet.md``, "Dispatch"):

- **Queue**: priority 9 first, FIFO within a priority (the ``seq`` the caller numbers
  orders with); an order put back after a failed dispatch keeps its place (same ``seq``);
  an id discarded (cancelled) or no longer PENDING is skipped, and forgotten, on its turn.
- **Budget** (calls to start now for one area): none before ``backoff_until``; while the
  area never reported, or its latest summary is older than the silence timeout, one at a
  time (a probe); otherwise the summary's capacity, plus the orders of the area that ended
  since (their robots are free again), minus the orders handed to it since and the calls
  in flight. Never more than ``max_in_flight`` calls in flight.
- **Backoff**: a refusal or an unreachable area counts a failure and holds the area back
  ``min(MAX_BACKOFF_S, dispatch_interval * 2**failures)``; an acceptance resets the count.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["MAX_BACKOFF_S", "AreaState", "Pick", "backoff_s", "picks"]

#: Longest pause before an area that refused or failed is offered orders again [s].
MAX_BACKOFF_S = 2.0


def backoff_s(failures: int, dispatch_interval_s: float) -> float:
    """How long an area is held back after its ``failures``-th failure in a row [s]."""
    # 2.0 ** 1023 is the largest power a float holds; beyond it ``2 ** failures`` overflows.
    return min(MAX_BACKOFF_S, dispatch_interval_s * 2.0 ** min(failures, 1023))


@dataclass(slots=True)
class AreaState:
    """One area as the scheduler sees it; the service owns one per area and updates it.

    ``queue`` is a heap of ``(-priority, seq, order id)``; ``queued`` holds the ids waiting
    or being dispatched (an id missing from it is skipped when popped). ``summary`` is the
    latest ``AreaSummary`` (None until one arrives), ``seen`` when it arrived; ``handed``
    and ``freed`` count the orders accepted by the area and those of the area that ended
    since then.
    """

    queue: list[tuple[int, int, str]] = field(default_factory=list)
    queued: set[str] = field(default_factory=set)
    in_flight: int = 0
    summary: Any = None
    seen: float = float("-inf")
    handed: int = 0  # orders accepted since the last summary
    freed: int = 0  # orders of this area that ended (a robot freed) since the last summary
    failures: int = 0
    backoff_until: float = 0.0

    def enqueue(self, order_id: str, priority: int, seq: int) -> bool:
        """Queue ``order_id`` (False if it is queued or being dispatched already)."""
        if order_id in self.queued:
            return False
        self.queued.add(order_id)
        heapq.heappush(self.queue, (-int(priority), seq, order_id))
        return True

    def requeue(self, order_id: str, priority: int, seq: int) -> None:
        """Put back an order whose dispatch failed; its old ``seq`` keeps its place."""
        self.queued.add(order_id)
        heapq.heappush(self.queue, (-int(priority), seq, order_id))

    def discard(self, order_id: str) -> None:
        """Forget ``order_id`` (its heap entry is skipped when popped)."""
        self.queued.discard(order_id)

    def waiting(self) -> list[str]:
        """The queued ids in dispatch order."""
        return [oid for _, _, oid in sorted(self.queue) if oid in self.queued]

    def budget(self, now: float, *, max_in_flight: int, silence_timeout_s: float) -> int:
        """How many dispatch calls may start now (see the module docstring)."""
        if now < self.backoff_until:
            return 0
        room = max_in_flight - self.in_flight
        fresh = self.summary is not None and now - self.seen <= silence_timeout_s
        if not fresh:
            return min(room, 1 - self.in_flight)  # probe one at a time
        return min(room, int(self.summary.capacity) + self.freed - self.handed - self.in_flight)

    def note_summary(self, summary: Any, now: float) -> None:
        """A new ``AreaSummary``: its capacity counts from now on."""
        self.summary = summary
        self.seen = now
        self.handed = 0
        self.freed = 0

    def note_freed(self) -> None:
        """An order of this area that held a robot ended: one more robot is free."""
        self.freed += 1

    def note_accepted(self) -> None:
        """The area took an order."""
        self.handed += 1
        self.failures = 0

    def note_refused(self, now: float, dispatch_interval_s: float) -> None:
        """The area refused an order or did not answer: back off."""
        self.failures += 1
        self.backoff_until = now + backoff_s(self.failures, dispatch_interval_s)


class Pick(NamedTuple):
    """One dispatch to start: ``order_id`` to ``area_id``; ``seq`` keeps its queue place."""

    area_id: str
    order_id: str
    seq: int


def picks(
    areas: Mapping[str, AreaState],
    now: float,
    *,
    pending: Callable[[str], bool],
    max_in_flight: int,
    silence_timeout_s: float,
) -> list[Pick]:
    """The dispatches to start now, area by area, each within its area's budget.

    Pops them from the queues and counts them in flight; ``pending(order_id)`` says whether
    an order is still PENDING (one that is not is dropped from its queue).
    """
    out: list[Pick] = []
    for area_id, area in areas.items():
        budget = area.budget(now, max_in_flight=max_in_flight, silence_timeout_s=silence_timeout_s)
        while budget > 0 and area.queue:
            _, seq, order_id = heapq.heappop(area.queue)
            if order_id not in area.queued:
                continue
            if not pending(order_id):
                area.queued.discard(order_id)
                continue
            area.in_flight += 1
            budget -= 1
            out.append(Pick(area_id, order_id, seq))
    return out
