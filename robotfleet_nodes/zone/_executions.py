"""A zone's orders on its robots: offers, results, leases released, journal questions.

:class:`Executions` is the order state machine of :class:`~robotfleet_nodes.zone.node.ZoneNode`
(docs/fleet.md, "Leases"): it sends a goal (attempt, lease) to a robot, follows the goal to
its result, and takes an order off its robot only when the robot confirms it stopped (its
result, its journal) or its lease ran out plus the margin. The node owns the I/O around it:
services, status subscriptions, renewals, timers and the order-event publisher (``publish``).
The records it keeps per robot and per order live in :mod:`robotfleet_nodes.zone._slots`,
the question to a robot's journal in :mod:`robotfleet_nodes.zone._journal`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from robotfleet_nodes.action import ActionClient, ClientGoalHandle, ExecuteTask, GoalStatus
from robotfleet_nodes.config import ZoneConfig
from robotfleet_nodes.edge.node import STATUS_QOS
from robotfleet_nodes.fleet.protocol import FINAL_STATES, now_stamp, robot_name
from robotfleet_nodes.msg import ExecutionRecord, WorkOrder, WorkOrderUpdate
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.zone._journal import journal_record
from robotfleet_nodes.zone._leases import ZoneLeases, zone_lease_hold_s
from robotfleet_nodes.zone._reports import LEASE_LOSS
from robotfleet_nodes.zone._slots import OrderSlot, RobotSlot, printable, remember

__all__ = ["GOAL_TIMEOUT_S", "MISMATCH_GRACE_S", "REFUSAL_COOLDOWN_S", "Executions"]

log = logging.getLogger(__name__)

#: Seconds a robot that refused a goal is left out of assignment passes.
REFUSAL_COOLDOWN_S = 1.0
#: Seconds the zone waits for an edge to answer a goal or a journal question.
GOAL_TIMEOUT_S = 5.0
#: Seconds a robot may report not holding the order it was given before its journal is asked.
MISMATCH_GRACE_S = 2.0

_R = ExecuteTask.Result
_J = ExecutionRecord


class Executions:
    """The orders of one zone and where each stands on the zone's robots (see the module doc).

    ``spawn`` runs a coroutine as one of the node's tasks; ``publish`` queues a
    ``WorkOrderUpdate`` for the order-event stream. The node sets ``started_at``,
    ``recovery_until`` and ``running`` as it starts.
    """

    def __init__(
        self,
        node: Node,
        config: ZoneConfig,
        *,
        max_attempts: int,
        spawn: Callable[[Any], asyncio.Task[Any]],
        publish: Callable[[WorkOrderUpdate], None],
    ) -> None:
        self.node = node
        self.config = config
        self.zone_id = config.zone_id
        self.log = node.get_logger()
        self.max_attempts = max_attempts
        self.leases = ZoneLeases(config.zone_id, config.leases, hold_s=zone_lease_hold_s(config))
        self.lease_loss = LEASE_LOSS[config.leases.on_lease_loss]
        self.robots: dict[str, RobotSlot] = {rid: RobotSlot(rid) for rid in config.robots}
        self.orders: dict[str, OrderSlot] = {}
        self.queue: list[str] = []
        self.finished: OrderedDict[str, int] = OrderedDict()
        self.started_at = 0.0
        self.recovery_until = 0.0
        self.running = False
        self._spawn = spawn
        self._publish = publish

    def adopt(self, order: OrderSlot, robot: RobotSlot, attempt: int) -> None:
        """Follow ``order``, which ``robot`` reports holding at ``attempt`` (after a restart)."""
        if order.order_id in self.queue:
            self.queue.remove(order.order_id)
        if robot.order_id and robot.order_id != order.order_id:
            return  # the robot is given another order: leave it to the status mismatch check
        order.recovering = False
        order.robot_id = robot.robot_id
        robot.order_id = order.order_id
        order.attempt = max(order.attempt, attempt)
        order.offered = attempt
        order.granted = True
        order.releasing = ""
        order.started = time.monotonic()
        self.mark_executing(order)
        self.log.info(
            "%s: %s is still executing %s (attempt %d); following it",
            self.zone_id,
            robot.robot_id,
            order.order_id,
            attempt,
        )

    async def client_for(self, robot: RobotSlot) -> ActionClient:
        """The robot's action client, created once (concurrent callers share the creation)."""
        if robot.client is not None:
            return robot.client
        if robot.connecting is None:
            robot.connecting = self._spawn(
                ActionClient.create(
                    self.node, ExecuteTask, robot_name(robot.robot_id, "execute"), status_qos=STATUS_QOS
                )
            )
            robot.connecting.add_done_callback(functools.partial(self._connected_client, robot))
        return await asyncio.shield(robot.connecting)

    @staticmethod
    def _connected_client(robot: RobotSlot, task: asyncio.Task[ActionClient]) -> None:
        """Keep the created client (even if whoever waited for it is gone), or allow a retry."""
        robot.connecting = None
        if not task.cancelled() and task.exception() is None:
            robot.client = task.result()

    async def prepare_clients(self) -> None:
        """Create every robot's action client in the background after start.

        Otherwise the first goal to each robot pays for the client's subscriptions (and a
        graph announcement) on the latency path of its order.
        """
        for robot in list(self.robots.values()):
            if not self.running:
                return
            try:
                await self.client_for(robot)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("%s: action client for %s not ready: %s", self.zone_id, robot.robot_id, exc)

    async def dispatch(self, order: OrderSlot, robot: RobotSlot, token: int) -> None:
        """Send the order's goal to ``robot``; on acceptance follow it to its result."""
        wo = order.order
        goal = ExecuteTask.Goal(
            order_id=wo.id,
            task=wo.task,
            has_target=wo.has_target,
            target_x=wo.target_x,
            target_y=wo.target_y,
            priority=wo.priority,
            attempt=order.offered,
            lease_s=self.config.leases.robot_lease_s,
            on_lease_loss=self.lease_loss,
        )
        handle: ClientGoalHandle | None = None
        error = ""
        try:
            client = await self.client_for(robot)
            handle = await client.send_goal(
                goal,
                feedback_callback=lambda msg: self.on_feedback(order, token, msg),
                timeout=GOAL_TIMEOUT_S,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if order.token != token or self.orders.get(order.order_id) is not order:
            if handle is not None and handle.accepted:  # released or cancelled meanwhile
                self._spawn(self.cancel_goal(handle))
            return
        if handle is None:  # no answer: the robot may have taken it; its journal says
            order.attempt = max(order.attempt, order.offered)
            self.release(order, f"no answer from {robot.robot_id} to the goal ({error})", reversible=True)
            self.ask_journal(order)
            return
        if not handle.accepted:  # an edge that refuses without a reason: about the robot
            self.refused_by_robot(order, robot, "goal rejected")
            return
        order.goal = handle
        if order.cancelling is not None:
            self._spawn(self.cancel_goal(handle))
        order.waiter = self._spawn(self.await_result(order, robot, token, handle))

    def on_feedback(self, order: OrderSlot, token: int, msg: Any) -> None:
        """STARTING: the robot journaled the start and began (ASSIGNED); then EXECUTING."""
        if order.token != token or order.cancelling is not None or order.executing_sent:
            return
        feedback = msg.feedback
        if int(feedback.state) == ExecuteTask.Feedback.STATE_STARTING and not feedback.progress:
            self.mark_assigned(order)
        else:
            self.mark_executing(order, progress=float(feedback.progress))

    def mark_executing(self, order: OrderSlot, *, progress: float = 0.0) -> None:
        """Publish ASSIGNED (unless sent) and EXECUTING for the attempt the robot runs."""
        self.mark_assigned(order)
        if not order.executing_sent:
            order.executing_sent = True
            order.state = WorkOrder.STATE_EXECUTING
            self.emit(order, WorkOrder.STATE_EXECUTING, progress=progress)

    def mark_assigned(self, order: OrderSlot) -> None:
        """The robot took the offered attempt: it is used, and ASSIGNED is published once."""
        order.attempt = max(order.attempt, order.offered)
        if not order.assigned_sent:
            order.assigned_sent = True
            order.state = WorkOrder.STATE_ASSIGNED
            self.emit(order, WorkOrder.STATE_ASSIGNED)
            self.log.info(
                "%s: assigned %s to %s (attempt %d)",
                self.zone_id,
                order.order_id,
                order.robot_id,
                order.offered,
            )

    async def await_result(
        self, order: OrderSlot, robot: RobotSlot, token: int, handle: ClientGoalHandle
    ) -> None:
        try:
            response = await handle.get_result()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the answer is lost: the robot's journal knows how it ended
            if order.token == token and self.orders.get(order.order_id) is order:
                order.waiter = None
                order.goal = None
                log.info(
                    "%s: result of %s lost (%s); asking %s", self.zone_id, order.order_id, exc, robot.robot_id
                )
                self.ask_journal(order)
            return
        if order.token != token or self.orders.get(order.order_id) is not order:
            return  # released or finished meanwhile
        order.waiter = None
        order.goal = None
        try:
            status = GoalStatus(response.status)
        except ValueError:
            status = GoalStatus.UNKNOWN
        self.on_result(order, robot, status, response.result)

    def on_result(self, order: OrderSlot, robot: RobotSlot, status: GoalStatus, result: Any) -> None:
        """Apply the edge's result of the goal (``refused`` says whether it ran at all)."""
        message = str(result.message)
        refused = int(result.refused)
        if refused == _R.REFUSED_ROBOT:
            self.refused_by_robot(order, robot, message)
            return
        if refused == _R.REFUSED_STALE:
            order.attempt = max(order.attempt, order.offered, int(result.attempt))
            self.free(order)
            self.requeue(order)
            self.log.warning(
                "%s: %s knows %s at attempt %d already; requeued as a newer attempt",
                self.zone_id,
                robot.robot_id,
                order.order_id,
                int(result.attempt),
            )
            return
        if refused == _R.REFUSED_DONE:
            order.offered = max(order.offered, int(result.attempt))
            self.mark_executing(order)
            self.free(order)
            self.finish(order, WorkOrder.STATE_COMPLETED, f"already done by {robot.robot_id}", progress=1.0)
            return
        if refused == _R.REFUSED_ORDER:
            order.attempt = max(order.attempt, order.offered)
            self.free(order)
            self.retry(order, f"{robot.robot_id} refused it: {message}")
            return
        self.ended(order, success=status is GoalStatus.SUCCEEDED and bool(result.success), message=message)

    def ended(self, order: OrderSlot, *, success: bool, message: str) -> None:
        """The robot says it no longer executes ``order`` (result or journal): act on it."""
        robot_id = order.robot_id
        order.attempt = max(order.attempt, order.offered)  # it ran: the attempt is used
        if success:
            self.mark_executing(order)
        self.free(order)
        if success:
            self.finish(order, WorkOrder.STATE_COMPLETED, message, progress=1.0)
            self.log.info("%s: %s completed by %s", self.zone_id, order.order_id, robot_id)
        elif order.cancelling is not None:
            self.finish(order, WorkOrder.STATE_CANCELLED, order.cancelling)
        else:
            reason = order.releasing or message or f"ended by {robot_id}"
            self.retry(order, reason)

    def refused_by_robot(self, order: OrderSlot, robot: RobotSlot, message: str) -> None:
        robot.refused_until = time.monotonic() + REFUSAL_COOLDOWN_S
        self.free(order)
        self.requeue(order)
        self.log.info(
            "%s: %s refused %s: %s; requeued",
            self.zone_id,
            robot.robot_id,
            order.order_id,
            printable(message),
        )

    async def cancel_goal(self, handle: ClientGoalHandle) -> None:
        try:
            await handle.cancel_goal(timeout=GOAL_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("%s: cancel not delivered: %s", self.zone_id, exc)

    def release(self, order: OrderSlot, reason: str, *, reversible: bool = False) -> None:
        """Stop renewing ``order`` on its robot and tell the robot to drop it.

        It stays on the robot (``robot_id``) until the robot confirms it stopped or its lease
        ran out (:meth:`check_orders`); only then may another robot get it.
        """
        if not order.robot_id:
            return
        order.granted = False
        order.releasing = reason
        order.reversible = reversible
        if not reversible:
            order.token += 1  # a late feedback of this goal is ignored (a result still counts)
            self.leases.revoke(order.robot_id, order.order_id, max(order.offered, 1), time.monotonic())
            if order.goal is not None:
                self._spawn(self.cancel_goal(order.goal))
        self.log.warning("%s: releasing %s from %s: %s", self.zone_id, order.order_id, order.robot_id, reason)
        if not reversible and order.waiter is None and order.goal is None:
            self.ask_journal(order)

    def free(self, order: OrderSlot) -> None:
        """``order`` is off its robot for sure: forget the goal and free the robot."""
        order.token += 1
        robot = self.robots.get(order.robot_id)
        if robot is not None and robot.order_id == order.order_id:
            robot.order_id = ""
        if order.waiter is not None and order.waiter is not asyncio.current_task():
            order.waiter.cancel()
        order.waiter = None
        order.goal = None
        order.robot_id = ""
        order.granted = False
        order.releasing = ""
        order.reversible = False
        order.recovering = False
        order.mismatch_since = 0.0

    def check_orders(self, now: float) -> None:
        """Leases that ran out (released orders move on), execute timeouts, recovery."""
        limit = self.config.assignment.execute_timeout_s
        finish = self.lease_loss == ExecuteTask.Goal.LEASE_LOSS_FINISH
        for order in list(self.orders.values()):
            if not order.robot_id:
                continue
            if order.recovering and now >= self.recovery_until:
                order.recovering = False
                order.releasing = "re-adopted: not reported by its robot"
                order.reversible = True
                order.renewed_at = self.started_at  # the old zone may have renewed until then
                self.ask_journal(order)
            elif order.releasing:
                if not finish and now >= self.leases.lease_end(order.renewed_at):
                    # The robot may still get (a stopped process) or hold the offered attempt:
                    # it is used, and revoked, so the order moves on as a newer one.
                    order.attempt = max(order.attempt, order.offered)
                    self.leases.revoke(order.robot_id, order.order_id, max(order.offered, 1), now)
                    reason = f"{order.releasing}; its lease ended"
                    self.free(order)
                    self.retry(order, reason)
            elif order.goal is not None and now - order.started > limit:
                self.release(order, f"not finished within {limit:g} s on {order.robot_id}")

    def ask_journal(self, order: OrderSlot) -> None:
        if not order.asking and order.robot_id:
            order.asking = True
            self._spawn(self.journal_question(order, order.robot_id, order.token))

    async def journal_question(self, order: OrderSlot, robot_id: str, token: int) -> None:
        """Ask ``robot_id``'s journal how ``order`` stands there and act on the answer."""
        robot = self.robots[robot_id]
        try:
            record = await journal_record(
                self.node, robot, order, timeout=GOAL_TIMEOUT_S, zone_id=self.zone_id
            )
        finally:
            order.asking = False
        if self.orders.get(order.order_id) is not order or order.robot_id != robot_id:
            return
        if record is None:
            if not order.releasing:  # wait for the lease to end before the order moves
                self.release(order, f"{robot_id} does not answer about it", reversible=True)
            return
        self.on_record(order, robot, record, token)

    def on_record(self, order: OrderSlot, robot: RobotSlot, record: Any, token: int) -> None:
        state = int(record.state)
        attempt = int(record.attempt)
        if state in (_J.STATE_RUNNING, _J.STATE_PAUSED):
            if order.releasing and not order.reversible:
                return  # revoked: its result or the lease's end settles it
            if order.goal is None and order.waiter is None and order.token != token:
                return
            order.offered = max(order.offered, attempt)
            order.releasing, order.reversible, order.granted = "", False, True
            order.mismatch_since = 0.0
            self.mark_executing(order)
            return
        if state == _J.STATE_SUCCEEDED:
            order.offered = max(order.offered, attempt)
            self.ended(order, success=True, message=str(record.message) or f"done by {robot.robot_id}")
            return
        if state == _J.STATE_UNKNOWN:
            order.attempt = max(order.attempt, order.offered)  # fenced on the robot now
        self.ended(order, success=False, message=str(record.message) or "not executing it")

    def retry(self, order: OrderSlot, reason: str) -> None:
        """Requeue ``order`` for a new attempt, or FAIL it once ``max_attempts`` failed."""
        self.free(order)
        order.failures += 1
        if order.failures >= self.max_attempts:
            self.fail(order, f"{reason}; gave up after {order.failures} attempts")
            return
        order.notes.append(reason)
        self.requeue(order)
        self.log.warning(
            "%s: %s requeued after attempt %d: %s",
            self.zone_id,
            order.order_id,
            order.attempt,
            printable(reason),
        )

    def fail(self, order: OrderSlot, reason: str) -> None:
        if order.robot_id and not order.releasing:
            self.release(order, reason)
        self.finish(order, WorkOrder.STATE_FAILED, reason)
        self.log.warning("%s: %s FAILED: %s", self.zone_id, order.order_id, printable(reason))

    def requeue(self, order: OrderSlot) -> None:
        order.state = WorkOrder.STATE_DISPATCHED
        order.assigned_sent = order.executing_sent = False
        if order.order_id not in self.queue:
            self.queue.append(order.order_id)

    def finish(self, order: OrderSlot, state: int, note: str = "", *, progress: float = 0.0) -> None:
        order.state = state
        self.emit(order, state, note=note, progress=progress)
        self.forget(order)
        remember(self.finished, order.order_id, state)

    def forget(self, order: OrderSlot) -> None:
        """Drop ``order`` from the zone; revocations already sent stay in the renewals."""
        self.orders.pop(order.order_id, None)
        if order.order_id in self.queue:
            self.queue.remove(order.order_id)
        self.free(order)  # a robot still running it stays busy by its own status

    def emit(self, order: OrderSlot, state: int, *, note: str = "", progress: float = 0.0) -> None:
        wo = order.order
        attempt = (
            order.offered if state in (WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING) else order.attempt
        )
        update = WorkOrderUpdate(
            order_id=wo.id,
            attempt=max(attempt, order.attempt) if state in FINAL_STATES else attempt,
            state=state,
            area_id=wo.area_id or self.config.area_id,
            zone_id=self.zone_id,
            robot_id=order.robot_id,
            progress=progress,
            stamp=now_stamp(),
            by=self.zone_id,
            note=note,
        )
        self._publish(update)
