"""What a zone keeps of each robot and each order: :class:`RobotSlot`, :class:`OrderSlot`.

The plain records :class:`~robotfleet_nodes.zone._executions.Executions` and the
:class:`~robotfleet_nodes.zone.node.ZoneNode` facade work on, and two small helpers:
:func:`remember` (a bounded idempotency memory) and :func:`printable` (text for a log line).
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from robotfleet_nodes.action import ActionClient, ClientGoalHandle
from robotfleet_nodes.msg import RobotStatus, WorkOrder
from robotfleet_nodes.node.service import Client
from robotfleet_nodes.zone.choice import RobotSnapshot

__all__ = ["OrderSlot", "RobotSlot", "printable", "remember"]

_REMEMBERED = 10_000  # answers / finished orders kept for idempotency


def remember(store: OrderedDict[str, Any], key: str, value: Any) -> None:
    """Keep ``key`` -> ``value`` in ``store``, the newest last, at most 10 000 entries."""
    store[key] = value
    store.move_to_end(key)
    while len(store) > _REMEMBERED:
        store.popitem(last=False)


def printable(text: object) -> str:
    """``text`` for a log line: quoted and escaped, so it cannot forge a line of its own."""
    return repr(str(text))


@dataclass(slots=True)
class RobotSlot:
    """One robot as its zone keeps it: latest status, the order it was given, its clients."""

    robot_id: str
    status: RobotStatus | None = None
    last_seen: float = -math.inf
    online: bool = False
    order_id: str = ""  # the order the zone gave it (reserved from the offer until released)
    refused_until: float = -math.inf
    client: ActionClient | None = None
    connecting: asyncio.Task[ActionClient] | None = None  # the client being created
    journal: Client[Any] | None = None

    def snapshot(self) -> RobotSnapshot:
        """The robot as the robot choice (:mod:`robotfleet_nodes.zone.choice`) sees it now."""
        held = bool(self.order_id)
        s = self.status
        if s is None:
            return RobotSnapshot(
                self.robot_id, self.online, None, 0.0, 0.0, 0.0, "", held, self.refused_until
            )
        pose = s.pose
        return RobotSnapshot(
            self.robot_id,
            self.online,
            s.state,
            s.battery_percent,
            pose.x,
            pose.y,
            s.current_order_id,
            held,
            self.refused_until,
        )


@dataclass(slots=True)
class OrderSlot:
    """One order a zone holds, queued or on a robot, with its lease and attempt bookkeeping."""

    order: WorkOrder  # as last known
    seq: int
    attempt: int  # the highest attempt (fencing token) given to a robot so far
    state: int = WorkOrder.STATE_DISPATCHED
    failures: int = 0  # attempts that ended without success (counted against max_attempts)
    robot_id: str = ""
    offered: int = 0  # the attempt of the goal sent to robot_id
    token: int = 0  # grows on every offer and release; results of older tokens are ignored
    goal: ClientGoalHandle | None = None
    started: float = 0.0
    assigned_sent: bool = False
    executing_sent: bool = False
    cancelling: str | None = None  # the cancel reason, once cancelled
    waiter: asyncio.Task[Any] | None = None
    granted: bool = False  # its lease is renewed
    renewed_at: float = -math.inf  # last time the robot's lease was (re)started
    releasing: str = ""  # why it is being taken off its robot ("" while not)
    reversible: bool = False  # released because the robot went silent: it may come back
    recovering: bool = False  # re-adopted at start; the robot has not said yet
    mismatch_since: float = 0.0
    asking: bool = False  # a journal question is under way
    notes: list[str] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return str(self.order.id)
