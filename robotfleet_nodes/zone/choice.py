"""Robot choice: which of a zone's robots takes which waiting order (plain data in and out).

The zone node (:mod:`robotfleet_nodes.zone.node`) describes its robots as
:class:`RobotSnapshot` and its waiting orders as :class:`OrderTarget`, and applies the
:class:`Plan` that :func:`plan` returns. Nothing here does I/O or keeps state: the
round-robin cursor goes in and comes out.

Rules (``docs/fleet.md``, "Robot choice"):

- A robot is a *candidate* when it is online, the zone holds no order on it (neither one it
  handed it nor one it re-adopted at start), its refusal cooldown is over, its status has
  arrived and says IDLE with no current order, and its battery is at or above
  ``min_battery_percent``.
- A pass takes the orders in the order given (the zone's queue order) and gives each the
  candidate its policy picks; a robot takes at most one order per pass, and the pass ends
  when the candidates run out.
- ``nearest``: the candidate closest to the order's target (straight-line distance); a tie
  goes to the candidate listed first (robot order; once the pass made a round-robin pick,
  round-robin order from the cursor).
- ``round_robin``, and an order without a target under any policy: the first candidate at
  or after the cursor in the zone's robot order, wrapping around; the cursor then points
  just past the chosen robot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["IDLE", "OrderTarget", "Plan", "Policy", "RobotSnapshot", "candidates", "choose", "plan"]

#: ``RobotStatus.state`` of a robot that can take an order.
IDLE = 0

Policy = Literal["nearest", "round_robin"]


@dataclass(slots=True)
class RobotSnapshot:
    """What the choice needs to know about one robot, as the zone sees it now (read only).

    ``state`` is ``None`` until the robot's first status arrived; ``held`` is true while the
    zone holds an order on the robot (handed to it, or re-adopted at start). Not frozen: a
    zone builds one per robot per pass, and a frozen dataclass takes six times as long.
    """

    robot_id: str
    online: bool = True
    state: int | None = IDLE
    battery_percent: float = 100.0
    x: float = 0.0
    y: float = 0.0
    current_order_id: str = ""
    held: bool = False
    refused_until: float = -math.inf


@dataclass(slots=True)
class OrderTarget:
    """A waiting order as the choice sees it: its id and where it is to be done, if anywhere (read only)."""

    order_id: str
    has_target: bool = False
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of one pass: ``(order id, robot id)`` pairs in order, and the new cursor."""

    assignments: list[tuple[str, str]]
    cursor: int


def candidates(
    robots: Iterable[RobotSnapshot], *, now: float, min_battery_percent: float
) -> list[RobotSnapshot]:
    """The robots among ``robots`` that may take an order at time ``now``, in the given order."""
    return [
        r
        for r in robots
        if r.online
        and not r.held
        and r.refused_until <= now
        and r.state == IDLE
        and not r.current_order_id
        and r.battery_percent >= min_battery_percent
    ]


def choose(
    order: OrderTarget,
    free: Sequence[RobotSnapshot],
    *,
    policy: Policy,
    robot_ids: Sequence[str],
    cursor: int,
) -> tuple[RobotSnapshot, int]:
    """The candidate from ``free`` (not empty) that takes ``order``, and the new cursor.

    ``robot_ids`` is the zone's robot order, which round robin goes round; ``cursor`` is an
    index into it. On a ``nearest`` pick the cursor is returned unchanged.
    """
    if not free:
        raise ValueError("choose() needs at least one candidate; check for none before calling it")
    if _takes_turns(order, policy):
        n = len(robot_ids)
        positions = _positions(robot_ids)
        robot = min(free, key=lambda r: (positions[r.robot_id] - cursor) % n)
        return robot, (positions[robot.robot_id] + 1) % n
    x, y = order.x, order.y
    return min(free, key=lambda r: math.hypot(r.x - x, r.y - y)), cursor


def plan(
    orders: Iterable[OrderTarget],
    robots: Sequence[RobotSnapshot],
    *,
    policy: Policy,
    min_battery_percent: float,
    now: float,
    cursor: int,
) -> Plan:
    """One assignment pass over ``orders`` (in the order to serve them) with all of ``robots``.

    ``robots`` are all the zone's robots in its robot order (candidates or not), ``cursor``
    the round-robin cursor the previous pass returned (0 at first).
    """
    free = candidates(robots, now=now, min_battery_percent=min_battery_percent)
    assignments: list[tuple[str, str]] = []
    if not free:
        return Plan(assignments, cursor)
    robot_ids = [r.robot_id for r in robots]
    positions = _positions(robot_ids)
    for order in orders:
        if not free:
            break
        robot, cursor = choose(order, free, policy=policy, robot_ids=robot_ids, cursor=cursor)
        free.remove(robot)
        assignments.append((order.order_id, robot.robot_id))
        if _takes_turns(order, policy):  # from now on a nearest tie goes to the next in turn
            n = len(robot_ids)
            free.sort(key=lambda r: (positions[r.robot_id] - cursor) % n)
    return Plan(assignments, cursor)


def _takes_turns(order: OrderTarget, policy: Policy) -> bool:
    """Round robin picks: the policy says so, or the order has no target to be near."""
    return policy == "round_robin" or not order.has_target


def _positions(robot_ids: Sequence[str]) -> dict[str, int]:
    return {rid: i for i, rid in enumerate(robot_ids)}
