"""A zone asks a robot's execution journal (``/robots/<robot_id>/journal``, ``GetExecutions``).

:func:`journal_record` is the zone's side of the question the edge answers: how one order
stands on one robot (RUNNING or PAUSED, how it ended there, or UNKNOWN once the robot has
fenced it). What the zone makes of the answer is
:meth:`~robotfleet_nodes.zone._executions.Executions.on_record` (docs/fleet.md, "Leases").
"""

from __future__ import annotations

import logging
from typing import Any

from robotfleet_nodes.fleet.protocol import ask_journal, robot_name
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.srv import GetExecutions
from robotfleet_nodes.zone._slots import OrderSlot, RobotSlot

__all__ = ["journal_record"]

log = logging.getLogger(__name__)


async def journal_record(
    node: Node, robot: RobotSlot, order: OrderSlot, *, timeout: float, zone_id: str
) -> Any:
    """``robot``'s ``ExecutionRecord`` of ``order`` at its latest attempt, or None (logged)
    when the journal does not answer within ``timeout`` seconds.

    The robot's journal client is created on the first question and kept in ``robot``.
    """
    if robot.journal is None:
        robot.journal = await node.create_client(GetExecutions, robot_name(robot.robot_id, "journal"))
    attempt = max(order.offered, order.attempt)
    record = await ask_journal(robot.journal, order.order_id, attempt, timeout=timeout)
    if record is None:
        log.info("%s: journal of %s not answering about %s", zone_id, robot.robot_id, order.order_id)
    return record
