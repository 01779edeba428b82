"""``ZoneNode``: the zone tier (``/zones/<zone_id>/zone``), see ``docs/fleet.md``.

A zone watches its robots' status (one subscription per robot), keeps the orders the area
handed it in a queue (priority 9 first, FIFO within a priority) and hands them to robots
through each robot's ``execute`` action, under an execution lease (docs/fleet.md, "Leases").
Every transition it makes is a ``WorkOrderUpdate`` on the order-event stream
(:class:`~robotfleet_nodes.fleet.protocol.OrderEvents`), published in order by one task.

- ``/zones/<id>/assign`` (AssignWorkOrder): accepted when the order belongs to this zone's
  area, its target is finite and inside ``bounds`` (else ``order_refused``), and a robot is
  online; idempotent by ``idempotency_key``. Accepting publishes DISPATCHED.
- ``/zones/<id>/cancel`` (CancelWorkOrder): queued orders are dropped, running ones are
  cancelled on the robot (goal cancel and a revocation); publishes CANCELLED.
- Assignment, while the zone holds its own lease from the area: every ``assign_period_s`` one
  pass over the waiting orders (the rules: :mod:`robotfleet_nodes.zone.choice`). A goal carries
  the attempt (fencing token), ``leases.robot_lease_s`` and ``leases.on_lease_loss``. The
  first feedback publishes ASSIGNED and EXECUTING, the result COMPLETED; a refusal about the
  robot uses no attempt, one about the order does (FAILED after ``max_attempts``).
- Leases: every ``leases.renew_period_s`` one ``LeaseRenewal`` on ``/zones/<id>/leases`` renews
  the assignments of online robots and lists revocations. An order leaves its robot (robot
  OFFLINE, result lost, execute timeout) only once the robot confirms it stopped (result,
  journal) or its lease ended plus ``leases.margin_s``; before that it is only revoked.
- After a restart the zone re-adopts its orders from the order bucket and, before it
  requeues any a robot may hold, asks the robot's journal (``/robots/<id>/journal``).
- A zone that lost its own broker connection declares no robot OFFLINE: heartbeats are timed
  again from the reconnection, plus ``reconnect_grace_s``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from robotfleet_nodes.config import ZoneConfig
from robotfleet_nodes.edge.node import STATUS_QOS
from robotfleet_nodes.fleet.protocol import (
    FINAL_STATES,
    ORDER_ID_RE,
    OrderEvents,
    OrderStore,
    area_name,
    nats_transport_of,
    robot_name,
    state_name,
    zone_name,
)
from robotfleet_nodes.msg import (
    LeaseRenewal,
    RobotStatus,
    RobotTable,
    WorkOrder,
    ZoneSummary,
)
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder
from robotfleet_nodes.transport import ConnectionState
from robotfleet_nodes.zone._events import EventPublisher
from robotfleet_nodes.zone._executions import GOAL_TIMEOUT_S, MISMATCH_GRACE_S, REFUSAL_COOLDOWN_S, Executions
from robotfleet_nodes.zone._leases import Grant
from robotfleet_nodes.zone._reports import robot_table, zone_summary
from robotfleet_nodes.zone._slots import OrderSlot, RobotSlot, printable, remember
from robotfleet_nodes.zone.choice import OrderTarget, RobotSnapshot, candidates, plan

__all__ = [
    "DEFAULT_ASSIGN_PERIOD_S",
    "DEFAULT_MAX_ATTEMPTS",
    "GOAL_TIMEOUT_S",
    "MAX_TARGET_M",
    "MISMATCH_GRACE_S",
    "REFUSAL_COOLDOWN_S",
    "ZoneNode",
]

log = logging.getLogger(__name__)

#: Seconds between assignment passes (and order timeout checks).
DEFAULT_ASSIGN_PERIOD_S = 0.1
#: Heartbeats are swept every ``heartbeat_timeout_s / HEARTBEAT_SWEEPS`` seconds (at most
#: every :data:`MAX_SWEEP_PERIOD_S`): a silent robot is OFFLINE within 1.25 timeouts.
HEARTBEAT_SWEEPS = 4
MAX_SWEEP_PERIOD_S = 1.0
#: Assignments of one order that may fail before it is FAILED.
DEFAULT_MAX_ATTEMPTS = 3
#: Largest |x| or |y| of a target [m] (the API refuses more; a zone checks again).
MAX_TARGET_M = 1e6
_LIVE_STATES = (WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING)


class ZoneNode(Node):
    """One zone: robot status, order queue, assignment under leases, order events, summaries.

    Args:
        config: the zone's configuration.
        context: the context to run in (must be on NATS: the orders live in JetStream).
        assign_period_s: seconds between assignment passes.
        max_attempts: failed attempts of one order before it is FAILED.
        recover: re-adopt this zone's orders from the order bucket at start.
        cli_args: this node's own ``--ros-args``.
    """

    def __init__(
        self,
        config: ZoneConfig,
        *,
        context: Context,
        assign_period_s: float = DEFAULT_ASSIGN_PERIOD_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        recover: bool = True,
        cli_args: Sequence[str] | None = None,
    ) -> None:
        super().__init__("zone", context=context, namespace=zone_name(config.zone_id), cli_args=cli_args)
        self.config = config
        self.zone_id = config.zone_id
        self.max_attempts = max_attempts
        self._assign_period = assign_period_s
        self._sweep_period = min(MAX_SWEEP_PERIOD_S, config.heartbeat_timeout_s / HEARTBEAT_SWEEPS)
        self._next_sweep = 0.0
        self._assign_scheduled = False
        self._recover = recover
        self._events_out = EventPublisher(config.zone_id)
        self._ex = Executions(
            self, config, max_attempts=max_attempts, spawn=self._spawn, publish=self._events_out.put
        )
        self._held_lease = not self._ex.leases.needs_zone_lease
        self._connected = True
        # key -> (accepted, zone_id, robot_id, error): a tuple of strings, which the garbage
        # collector stops tracking (10 000 response messages would be 30 000 objects it walks)
        self._answers: OrderedDict[str, tuple[bool, str, str, str]] = OrderedDict()
        self._seq = itertools.count()
        self._rr = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._summary_pub: Publisher[ZoneSummary] | None = None
        self._table_pub: Publisher[RobotTable] | None = None
        self._lease_pub: Publisher[LeaseRenewal] | None = None
        self._store: OrderStore | None = None
        self._ready = False

    # -- life --------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Connect to the order stream and bucket, subscribe, serve, recover, start timers."""
        transport = nats_transport_of(self.context.transport)
        events = OrderEvents(transport)
        await events.ensure()
        self._store = OrderStore(transport)
        await self._store.ensure()
        self._events_out.start(events)
        self.context.add_connection_listener(self._on_connection)
        for robot in self._ex.robots.values():
            await self.create_subscription(
                RobotStatus,
                robot_name(robot.robot_id, "status"),
                functools.partial(self._on_status, robot),
                STATUS_QOS,
            )
        if self._ex.leases.needs_zone_lease:
            await self.create_subscription(
                LeaseRenewal, area_name(self.config.area_id, "leases"), self._on_area_grant, 10
            )
        self._summary_pub = await self.create_publisher(ZoneSummary, "summary", 1)
        self._table_pub = await self.create_publisher(RobotTable, "robots", 1)
        self._lease_pub = await self.create_publisher(LeaseRenewal, "leases", 1)
        await self.create_service(AssignWorkOrder, "assign", self._on_assign)
        await self.create_service(CancelWorkOrder, "cancel", self._on_cancel)
        self._ex.started_at = time.monotonic()
        self._ex.recovery_until = self._ex.started_at + self.config.heartbeat_timeout_s
        if self._recover:
            await self._recover_orders()
        self._ready = self._ex.running = True
        self.create_timer(self._assign_period, self._tick)
        self.create_timer(self.config.leases.renew_period_s, self._renew)
        self._spawn(self._ex.prepare_clients())
        self.create_timer(self.config.summary_period_s, self._publish_summary)
        self.get_logger().info(
            "%s: zone up with %d robots (area %s)", self.zone_id, len(self._ex.robots), self.config.area_id
        )

    async def destroy_node(self) -> None:
        """Stop timers and tasks, flush pending order events (up to 2 s), leave the graph."""
        self._ready = self._ex.running = False
        for timer in list(self._timers):
            timer.cancel()
        for order in self._ex.orders.values():
            if order.waiter is not None:
                order.waiter.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._events_out.stop(timeout=2.0)
        for robot in self._ex.robots.values():
            if robot.client is not None:
                await robot.client.destroy()
                robot.client = None
        await super().destroy_node()

    # -- introspection (tests, dashboards) ----------------------------------------------
    @property
    def queued(self) -> list[str]:
        """Ids of the orders waiting for a robot, in assignment order."""
        return [o.order_id for o in self._sorted_queue()]

    @property
    def active(self) -> dict[str, str]:
        """Order id -> robot id of the orders a robot holds (or may still hold)."""
        return {oid: o.robot_id for oid, o in self._ex.orders.items() if o.robot_id}

    def robot_online(self, robot_id: str) -> bool:
        """Whether the robot's status arrived within the heartbeat timeout."""
        return self._ex.robots[robot_id].online

    def holds_lease(self) -> bool:
        """Whether the zone holds its own lease from the area now (always without ``zone_lease_s``)."""
        return self._ex.leases.holds(time.monotonic())

    # -- connection and leases -----------------------------------------------------------
    def _on_connection(self, state: ConnectionState) -> None:
        if state is ConnectionState.DISCONNECTED:
            self._connected = False
            self.get_logger().warning(
                "%s: broker connection lost; no robot is declared OFFLINE", self.zone_id
            )
        elif state in (ConnectionState.CONNECTED, ConnectionState.RECONNECTED) and not self._connected:
            self._connected = True
            grace = time.monotonic() + self.config.reconnect_grace_s
            for robot in self._ex.robots.values():  # heartbeats are timed again from now, plus grace
                if robot.online:
                    robot.last_seen = max(robot.last_seen, grace)
            self.get_logger().info("%s: broker connection back", self.zone_id)

    def _on_area_grant(self, msg: LeaseRenewal) -> None:
        if msg.granter != self.config.area_id:
            return
        for order_id, attempt in self._ex.leases.on_area_grant(msg, time.monotonic()):
            order = self._ex.orders.get(order_id)
            if order is not None and order.attempt <= attempt and order.cancelling is None:
                self.get_logger().warning(
                    "%s: area %s took back %s (attempt %d): dropping it",
                    self.zone_id,
                    self.config.area_id,
                    order_id,
                    attempt,
                )
                self._ex.release(order, "taken back by the area")
                self._ex.forget(order)

    def _renew(self) -> None:
        """Publish the robots' lease renewals (and revocations) while the zone holds its lease."""
        now = time.monotonic()
        held = self._ex.leases.holds(now)
        if held != self._held_lease:
            self._held_lease = held
            if held:
                self.get_logger().info("%s: holds its lease from %s again", self.zone_id, self.config.area_id)
            else:
                self.get_logger().warning(
                    "%s: lost its lease from %s: assigning nothing, renewing no robot lease",
                    self.zone_id,
                    self.config.area_id,
                )
        if not self._connected or self._lease_pub is None or not self.config.leases.robot_lease_s:
            return
        grants: list[Grant] = []
        if held:
            for order in self._ex.orders.values():
                robot = self._ex.robots.get(order.robot_id)
                if order.granted and robot is not None and robot.online:
                    order.renewed_at = now
                    seq = int(robot.status.seq) if robot.status is not None else 0
                    grants.append(Grant(robot.robot_id, order.order_id, order.offered, seq))
        if not grants and not self._ex.leases.revocations:
            return
        self._spawn(self._lease_pub.publish(self._ex.leases.renewal(LeaseRenewal, grants, now)))

    # -- robot status --------------------------------------------------------------------
    def _on_status(self, robot: RobotSlot, msg: RobotStatus) -> None:
        now = time.monotonic()
        robot.status = msg
        robot.last_seen = max(robot.last_seen, now)
        if not robot.online:
            robot.online = True
            self.get_logger().info("%s: %s is online", self.zone_id, robot.robot_id)
        held_id = str(msg.current_order_id)
        held_attempt = int(msg.current_attempt)
        order = self._ex.orders.get(robot.order_id) if robot.order_id else None
        if order is not None and order.robot_id == robot.robot_id:
            if held_id == order.order_id and held_attempt in (order.offered, 0):
                order.mismatch_since = 0.0
                if order.recovering:
                    self._ex.adopt(order, robot, held_attempt or order.offered)
                elif order.releasing and order.reversible:
                    order.releasing, order.reversible, order.granted = "", False, True
                    self.get_logger().info(
                        "%s: %s is back with %s: renewing its lease",
                        self.zone_id,
                        robot.robot_id,
                        order.order_id,
                    )
                return
            if now >= order.started + MISMATCH_GRACE_S and not order.recovering:
                if not order.mismatch_since:
                    order.mismatch_since = now
                elif now - order.mismatch_since >= MISMATCH_GRACE_S:
                    self._ex.ask_journal(order)
        if not held_id:
            return
        if self._ex.leases.still_revoked(robot.robot_id, held_id, held_attempt, now):
            return
        other = self._ex.orders.get(held_id)
        if (
            other is not None
            and not other.robot_id
            and now < self._ex.recovery_until
            and not other.cancelling
        ):
            self._ex.adopt(other, robot, held_attempt)  # queued at restart, but this robot holds it
            return
        if other is None or other.robot_id != robot.robot_id or held_attempt not in (other.offered, 0):
            self._ex.leases.revoke(robot.robot_id, held_id, held_attempt, now)
            self.get_logger().warning(
                "%s: %s holds %s (attempt %d) the zone does not grant: revoked",
                self.zone_id,
                robot.robot_id,
                held_id,
                held_attempt,
            )

    def _check_heartbeats(self, now: float) -> None:
        timeout = self.config.heartbeat_timeout_s
        for robot in self._ex.robots.values():
            if robot.online and now - robot.last_seen > timeout:
                robot.online = False
                self.get_logger().warning(
                    "%s: %s is OFFLINE (no status for %.1f s)", self.zone_id, robot.robot_id, timeout
                )
                order = self._ex.orders.get(robot.order_id) if robot.order_id else None
                if order is None or order.robot_id != robot.robot_id or order.releasing:
                    continue
                if self.config.assignment.reassign_on_offline:
                    self._ex.release(order, f"{robot.robot_id} went offline", reversible=True)
                else:
                    self._ex.release(order, f"{robot.robot_id} went offline")
                    self._ex.fail(order, f"{robot.robot_id} went offline")

    # -- assignment ----------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep and self._connected:  # a few sweeps per timeout
            self._next_sweep = now + self._sweep_period
            self._check_heartbeats(now)
            self._ex.check_orders(now)
        if self._ex.queue:
            self._assign_pass(now)

    def _assign_soon(self) -> None:
        """Run an assignment pass right after this loop turn (orders accepted together share it).

        The periodic pass still runs every ``assign_period_s`` for retries; this one keeps a
        new order from waiting up to a whole period for an idle robot.
        """
        if self._assign_scheduled:
            return
        self._assign_scheduled = True
        asyncio.get_running_loop().call_soon(self._assign_now)

    def _assign_now(self) -> None:
        self._assign_scheduled = False
        if self._ex.queue:
            self._assign_pass(time.monotonic())

    def _sorted_queue(self) -> list[OrderSlot]:
        orders = [self._ex.orders[oid] for oid in self._ex.queue]
        orders.sort(key=lambda o: (-int(o.order.priority), o.seq))
        return orders

    def _snapshots(self) -> list[RobotSnapshot]:
        """Every robot as the robot choice sees it, in config order."""
        return [r.snapshot() for r in self._ex.robots.values()]

    def _targets(self) -> Iterator[OrderTarget]:
        """The waiting orders in assignment order (sorted only once a pass asks for them)."""
        for o in self._sorted_queue():
            wo = o.order
            yield OrderTarget(o.order_id, wo.has_target, wo.target_x, wo.target_y)

    def _assign_pass(self, now: float) -> None:
        if now < self._ex.recovery_until:
            if any(r.status is None for r in self._ex.robots.values()):
                return  # a robot may yet say it holds an order
            self._ex.recovery_until = now
        if not self._connected or not self._ex.leases.holds(now):
            return
        rules = self.config.assignment
        chosen = plan(
            self._targets(),
            self._snapshots(),
            policy=rules.policy,
            min_battery_percent=rules.min_battery_percent,
            now=now,
            cursor=self._rr,
        )
        self._rr = chosen.cursor
        for order_id, robot_id in chosen.assignments:
            order, robot = self._ex.orders[order_id], self._ex.robots[robot_id]
            self._ex.queue.remove(order_id)
            robot.order_id = order_id
            order.robot_id = robot_id
            order.token += 1
            order.offered = order.attempt + 1
            order.granted = True
            order.renewed_at = now
            order.started = now
            order.mismatch_since = 0.0
            order.assigned_sent = order.executing_sent = False
            self._spawn(self._ex.dispatch(order, robot, order.token))

    # -- taking an order off its robot ---------------------------------------------------

    # -- the robot's journal ---------------------------------------------------------------

    # -- order bookkeeping ---------------------------------------------------------------

    # -- services ------------------------------------------------------------------------
    def _on_assign(self, request: AssignWorkOrder.Request) -> AssignWorkOrder.Response:
        wo = request.order
        key = request.idempotency_key or f"{wo.id}/{wo.attempts}"
        first = self._answers.get(key)
        if first is not None:
            accepted, zone_id, robot_id, error = first
            return AssignWorkOrder.Response(
                accepted=accepted, duplicate=True, zone_id=zone_id, robot_id=robot_id, error=error
            )

        def refuse(error: str, *, order_refused: bool = False) -> AssignWorkOrder.Response:
            self.get_logger().info("%s: refused %s: %s", self.zone_id, wo.id, error)
            return AssignWorkOrder.Response(accepted=False, error=error, order_refused=order_refused)

        if not self._ready:
            return refuse(f"zone {self.zone_id} is starting")
        if not ORDER_ID_RE.fullmatch(wo.id):
            return refuse(f"invalid order id {wo.id!r}", order_refused=True)
        if request.target_id and request.target_id != self.zone_id:
            return refuse(f"this is zone {self.zone_id}, not {request.target_id}")
        if wo.area_id != self.config.area_id:
            return refuse(
                f"order {wo.id} belongs to area {wo.area_id!r}; zone {self.zone_id} "
                f"is in {self.config.area_id}"
            )
        if wo.state in FINAL_STATES:
            return refuse(f"order {wo.id} is {state_name(wo.state)}")
        target_error = self._target_error(wo)
        if target_error:
            return refuse(target_error, order_refused=True)
        final = self._ex.finished.get(wo.id)
        if final is not None:
            return refuse(f"order {wo.id} is {state_name(final)} already")
        held = self._ex.orders.get(wo.id)
        if held is not None and int(wo.attempts) > held.attempt:  # moved on without this zone knowing
            self.get_logger().warning(
                "%s: %s comes back at attempt %d: dropping attempt %d",
                self.zone_id,
                wo.id,
                wo.attempts,
                held.attempt,
            )
            self._ex.release(held, f"superseded by attempt {wo.attempts}")
            self._ex.forget(held)
        if wo.id not in self._ex.orders:
            if not any(r.online for r in self._ex.robots.values()):
                return refuse(f"zone {self.zone_id} has no live robots")
            self._accept(wo)
            self._assign_soon()
        remember(self._answers, key, (True, self.zone_id, "", ""))
        return AssignWorkOrder.Response(accepted=True, duplicate=False, zone_id=self.zone_id)

    def _target_error(self, wo: WorkOrder) -> str:
        """Why this zone cannot take ``wo``'s target ("" when it can)."""
        if not wo.has_target:
            return ""
        x, y = float(wo.target_x), float(wo.target_y)
        if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > MAX_TARGET_M:
            return f"target ({x}, {y}) must be finite with |x|, |y| <= {MAX_TARGET_M:g} m"
        bounds = self.config.bounds
        if bounds is not None and not (bounds[0] <= x <= bounds[2] and bounds[1] <= y <= bounds[3]):
            return f"target ({x:g}, {y:g}) is outside zone {self.zone_id}'s bounds {bounds}"
        return ""

    def _accept(self, wo: WorkOrder) -> None:
        order = OrderSlot(
            order=wo.model_copy(update={"zone_id": self.zone_id}),
            seq=next(self._seq),
            attempt=int(wo.attempts),
        )
        self._ex.orders[order.order_id] = order
        self._ex.queue.append(order.order_id)
        self._ex.emit(order, WorkOrder.STATE_DISPATCHED)
        self.get_logger().info(
            "%s: accepted %s (task=%s, priority=%d)",
            self.zone_id,
            wo.id,
            printable(wo.task),
            wo.priority,
        )

    def _on_cancel(self, request: CancelWorkOrder.Request) -> CancelWorkOrder.Response:
        order = self._ex.orders.get(request.id)
        if order is None:
            final = self._ex.finished.get(request.id)
            if final == WorkOrder.STATE_CANCELLED:
                return CancelWorkOrder.Response(accepted=True, order=WorkOrder(id=request.id, state=final))
            if final is not None:
                return CancelWorkOrder.Response(
                    accepted=False,
                    order=WorkOrder(id=request.id, state=final),
                    error=f"order {request.id} is {state_name(final)} already",
                )
            error = f"zone {self.zone_id} does not hold order {request.id!r}"
            return CancelWorkOrder.Response(accepted=False, error=error)
        reason = request.reason or "cancelled"
        order.cancelling = reason
        if order.robot_id:
            self._ex.release(order, reason)
        self._ex.finish(order, WorkOrder.STATE_CANCELLED, reason)
        self.get_logger().info("%s: cancelled %s: %s", self.zone_id, request.id, printable(reason))
        return CancelWorkOrder.Response(
            accepted=True,
            order=order.order.model_copy(
                update={"state": WorkOrder.STATE_CANCELLED, "error": reason, "attempts": order.attempt}
            ),
        )

    # -- recovery ------------------------------------------------------------------------
    async def _recover_orders(self) -> None:
        assert self._store is not None
        try:
            stored = await self._store.load_all()
        except Exception:
            log.exception("%s: could not read the order bucket; starting empty", self.zone_id)
            return
        adopted = 0
        for wo in sorted(stored, key=lambda o: (o.created.sec, o.created.nanosec)):
            if wo.zone_id != self.zone_id or wo.state not in _LIVE_STATES or wo.id in self._ex.orders:
                continue
            order = OrderSlot(order=wo, seq=next(self._seq), attempt=int(wo.attempts), state=int(wo.state))
            self._ex.orders[wo.id] = order
            adopted += 1
            robot = self._ex.robots.get(wo.robot_id)
            if wo.state == WorkOrder.STATE_DISPATCHED or robot is None or robot.order_id:
                self._ex.requeue(order)
                continue
            order.robot_id = robot.robot_id
            order.offered = order.attempt
            order.assigned_sent = True
            order.executing_sent = wo.state == WorkOrder.STATE_EXECUTING
            order.recovering = True
            robot.order_id = wo.id
        if adopted:
            self.get_logger().info("%s: re-adopted %d orders from the store", self.zone_id, adopted)

    # -- upward --------------------------------------------------------------------------

    async def _publish_summary(self) -> None:
        if self._summary_pub is None or self._table_pub is None:
            return
        await self._summary_pub.publish(self.summary())
        await self._table_pub.publish(self.robot_table())

    def summary(self) -> ZoneSummary:
        """The zone's ``ZoneSummary`` now."""
        now = time.monotonic()
        capacity = candidates(
            self._snapshots(), now=now, min_battery_percent=self.config.assignment.min_battery_percent
        )
        summary: ZoneSummary = zone_summary(
            ZoneSummary,
            self.config,
            list(self._ex.robots.values()),
            queued=len(self._ex.queue),
            active=len(self._ex.orders) - len(self._ex.queue),
            capacity=len(capacity) if self._ex.leases.holds(now) else 0,
        )
        return summary

    def robot_table(self) -> RobotTable:
        """The zone's ``RobotTable`` now (one entry per configured robot, in config order)."""
        table: RobotTable = robot_table(RobotTable, self.config, list(self._ex.robots.values()))
        return table

    # -- helpers -------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: internal task failed", self.zone_id, exc_info=task.exception())
