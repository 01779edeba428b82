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
import contextlib
import functools
import itertools
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from robotfleet_nodes.action import ActionClient, ClientGoalHandle, ExecuteTask, GoalStatus
from robotfleet_nodes.config import ZoneConfig
from robotfleet_nodes.edge.node import STATUS_QOS
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.fleet.protocol import (
    FINAL_STATES,
    ORDER_ID_RE,
    OrderEvents,
    OrderStore,
    area_name,
    nats_transport_of,
    now_stamp,
    robot_name,
    state_name,
    zone_name,
)
from robotfleet_nodes.msg import (
    ExecutionRecord,
    LeaseRenewal,
    RobotStatus,
    RobotTable,
    WorkOrder,
    WorkOrderUpdate,
    ZoneSummary,
)
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.node.service import Client
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder, GetExecutions
from robotfleet_nodes.transport import ConnectionState
from robotfleet_nodes.zone._leases import Grant, ZoneLeases
from robotfleet_nodes.zone._reports import LEASE_LOSS, robot_table, zone_summary
from robotfleet_nodes.zone.choice import OrderTarget, RobotSnapshot, candidates, plan

__all__ = ["DEFAULT_ASSIGN_PERIOD_S", "DEFAULT_MAX_ATTEMPTS", "MAX_TARGET_M", "ZoneNode"]

log = logging.getLogger(__name__)

#: Seconds between assignment passes (and order timeout checks).
DEFAULT_ASSIGN_PERIOD_S = 0.1
#: Heartbeats are swept every ``heartbeat_timeout_s / HEARTBEAT_SWEEPS`` seconds (at most
#: every :data:`MAX_SWEEP_PERIOD_S`): a silent robot is OFFLINE within 1.25 timeouts.
HEARTBEAT_SWEEPS = 4
MAX_SWEEP_PERIOD_S = 1.0
#: Assignments of one order that may fail before it is FAILED.
DEFAULT_MAX_ATTEMPTS = 3
#: Seconds a robot that refused a goal is left out of assignment passes.
REFUSAL_COOLDOWN_S = 1.0
#: Seconds the zone waits for an edge to answer a goal or a journal question.
GOAL_TIMEOUT_S = 5.0
#: Seconds a robot may report not holding the order it was given before its journal is asked.
MISMATCH_GRACE_S = 2.0
#: Largest |x| or |y| of a target [m] (the API refuses more; a zone checks again).
MAX_TARGET_M = 1e6
_REMEMBERED = 10_000  # answers / finished orders kept for idempotency
#: Order events published concurrently at most (one order's stay in sequence).
PUBLISH_BATCH = 256
#: Longest pause between two tries to publish an order event [s] (it is retried until stored).
MAX_PUBLISH_BACKOFF_S = 2.0

_LIVE_STATES = (WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING)
_R = ExecuteTask.Result
_J = ExecutionRecord


def _printable(text: object) -> str:
    """``text`` for a log line: quoted and escaped, so it cannot forge a line of its own."""
    return repr(str(text))


@dataclass(slots=True)
class _Robot:
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
class _Order:
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
        self._leases = ZoneLeases(config.zone_id, config.leases)
        self._lease_loss = LEASE_LOSS[config.leases.on_lease_loss]
        self._held_lease = not self._leases.needs_zone_lease
        self._connected = True
        self._started_at = 0.0
        self._recovery_until = 0.0  # no assignment before: the robots say what they hold
        self._robots: dict[str, _Robot] = {rid: _Robot(rid) for rid in config.robots}
        self._orders: dict[str, _Order] = {}
        self._queue: list[str] = []
        # key -> (accepted, zone_id, robot_id, error): a tuple of strings, which the garbage
        # collector stops tracking (10 000 response messages would be 30 000 objects it walks)
        self._answers: OrderedDict[str, tuple[bool, str, str, str]] = OrderedDict()
        self._finished: OrderedDict[str, int] = OrderedDict()
        self._seq = itertools.count()
        self._rr = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._updates: asyncio.Queue[WorkOrderUpdate] = asyncio.Queue()
        self._publisher_task: asyncio.Task[None] | None = None
        self._summary_pub: Publisher[ZoneSummary] | None = None
        self._table_pub: Publisher[RobotTable] | None = None
        self._lease_pub: Publisher[LeaseRenewal] | None = None
        self._events: OrderEvents | None = None
        self._store: OrderStore | None = None
        self._ready = False

    # -- life --------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Connect to the order stream and bucket, subscribe, serve, recover, start timers."""
        transport = nats_transport_of(self.context.transport)
        self._events = OrderEvents(transport)
        await self._events.ensure()
        self._store = OrderStore(transport)
        await self._store.ensure()
        self._publisher_task = asyncio.create_task(self._publish_updates(), name=f"{self.zone_id} events")
        self.context.add_connection_listener(self._on_connection)
        for robot in self._robots.values():
            await self.create_subscription(
                RobotStatus,
                robot_name(robot.robot_id, "status"),
                functools.partial(self._on_status, robot),
                STATUS_QOS,
            )
        if self._leases.needs_zone_lease:
            await self.create_subscription(
                LeaseRenewal, area_name(self.config.area_id, "leases"), self._on_area_grant, 10
            )
        self._summary_pub = await self.create_publisher(ZoneSummary, "summary", 1)
        self._table_pub = await self.create_publisher(RobotTable, "robots", 1)
        self._lease_pub = await self.create_publisher(LeaseRenewal, "leases", 1)
        await self.create_service(AssignWorkOrder, "assign", self._on_assign)
        await self.create_service(CancelWorkOrder, "cancel", self._on_cancel)
        self._started_at = time.monotonic()
        self._recovery_until = self._started_at + self.config.heartbeat_timeout_s
        if self._recover:
            await self._recover_orders()
        self._ready = True
        self.create_timer(self._assign_period, self._tick)
        self.create_timer(self.config.leases.renew_period_s, self._renew)
        self._spawn(self._prepare_clients())
        self.create_timer(self.config.summary_period_s, self._publish_summary)
        self.get_logger().info(
            "%s: zone up with %d robots (area %s)", self.zone_id, len(self._robots), self.config.area_id
        )

    async def destroy_node(self) -> None:
        """Stop timers and tasks, flush pending order events (up to 2 s), leave the graph."""
        self._ready = False
        for timer in list(self._timers):
            timer.cancel()
        for order in self._orders.values():
            if order.waiter is not None:
                order.waiter.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._publisher_task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._updates.join(), timeout=2.0)
            self._publisher_task.cancel()
            await asyncio.gather(self._publisher_task, return_exceptions=True)
            self._publisher_task = None
        for robot in self._robots.values():
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
        return {oid: o.robot_id for oid, o in self._orders.items() if o.robot_id}

    def robot_online(self, robot_id: str) -> bool:
        """Whether the robot's status arrived within the heartbeat timeout."""
        return self._robots[robot_id].online

    def holds_lease(self) -> bool:
        """Whether the zone holds its own lease from the area now (always without ``zone_lease_s``)."""
        return self._leases.holds(time.monotonic())

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
            for robot in self._robots.values():  # heartbeats are timed again from now, plus grace
                if robot.online:
                    robot.last_seen = max(robot.last_seen, grace)
            self.get_logger().info("%s: broker connection back", self.zone_id)

    def _on_area_grant(self, msg: LeaseRenewal) -> None:
        if msg.granter != self.config.area_id:
            return
        for order_id, attempt in self._leases.on_area_grant(msg, time.monotonic()):
            order = self._orders.get(order_id)
            if order is not None and order.attempt <= attempt and order.cancelling is None:
                self.get_logger().warning(
                    "%s: area %s took back %s (attempt %d): dropping it",
                    self.zone_id,
                    self.config.area_id,
                    order_id,
                    attempt,
                )
                self._release(order, "taken back by the area")
                self._forget(order)

    def _renew(self) -> None:
        """Publish the robots' lease renewals (and revocations) while the zone holds its lease."""
        now = time.monotonic()
        held = self._leases.holds(now)
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
        if not self._connected or self._lease_pub is None:
            return
        grants: list[Grant] = []
        if held:
            for order in self._orders.values():
                robot = self._robots.get(order.robot_id)
                if order.granted and robot is not None and robot.online:
                    order.renewed_at = now
                    seq = int(robot.status.seq) if robot.status is not None else 0
                    grants.append(Grant(robot.robot_id, order.order_id, order.offered, seq))
        if not grants and not self._leases.revocations:
            return
        self._spawn(self._lease_pub.publish(self._leases.renewal(LeaseRenewal, grants, now)))

    # -- robot status --------------------------------------------------------------------
    def _on_status(self, robot: _Robot, msg: RobotStatus) -> None:
        now = time.monotonic()
        robot.status = msg
        robot.last_seen = max(robot.last_seen, now)
        if not robot.online:
            robot.online = True
            self.get_logger().info("%s: %s is online", self.zone_id, robot.robot_id)
        held_id = str(msg.current_order_id)
        held_attempt = int(msg.current_attempt)
        order = self._orders.get(robot.order_id) if robot.order_id else None
        if order is not None and order.robot_id == robot.robot_id:
            if held_id == order.order_id and held_attempt in (order.offered, 0):
                order.mismatch_since = 0.0
                if order.recovering:
                    self._adopt(order, robot, held_attempt or order.offered)
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
                    self._ask_journal(order)
        if not held_id:
            return
        if self._leases.still_revoked(robot.robot_id, held_id, held_attempt, now):
            return
        other = self._orders.get(held_id)
        if other is not None and not other.robot_id and now < self._recovery_until and not other.cancelling:
            self._adopt(other, robot, held_attempt)  # queued at restart, but this robot holds it
            return
        if other is None or other.robot_id != robot.robot_id or held_attempt not in (other.offered, 0):
            self._leases.revoke(robot.robot_id, held_id, held_attempt, now)
            self.get_logger().warning(
                "%s: %s holds %s (attempt %d) the zone does not grant: revoked",
                self.zone_id,
                robot.robot_id,
                held_id,
                held_attempt,
            )

    def _adopt(self, order: _Order, robot: _Robot, attempt: int) -> None:
        """Follow ``order``, which ``robot`` reports holding at ``attempt`` (after a restart)."""
        if order.order_id in self._queue:
            self._queue.remove(order.order_id)
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
        self._mark_executing(order)
        self.get_logger().info(
            "%s: %s is still executing %s (attempt %d); following it",
            self.zone_id,
            robot.robot_id,
            order.order_id,
            attempt,
        )

    def _check_heartbeats(self, now: float) -> None:
        timeout = self.config.heartbeat_timeout_s
        for robot in self._robots.values():
            if robot.online and now - robot.last_seen > timeout:
                robot.online = False
                self.get_logger().warning(
                    "%s: %s is OFFLINE (no status for %.1f s)", self.zone_id, robot.robot_id, timeout
                )
                order = self._orders.get(robot.order_id) if robot.order_id else None
                if order is None or order.robot_id != robot.robot_id or order.releasing:
                    continue
                if self.config.assignment.reassign_on_offline:
                    self._release(order, f"{robot.robot_id} went offline", reversible=True)
                else:
                    self._release(order, f"{robot.robot_id} went offline")
                    self._fail(order, f"{robot.robot_id} went offline")

    # -- assignment ----------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep and self._connected:  # a few sweeps per timeout
            self._next_sweep = now + self._sweep_period
            self._check_heartbeats(now)
            self._check_orders(now)
        if self._queue:
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
        if self._queue:
            self._assign_pass(time.monotonic())

    def _sorted_queue(self) -> list[_Order]:
        orders = [self._orders[oid] for oid in self._queue]
        orders.sort(key=lambda o: (-int(o.order.priority), o.seq))
        return orders

    def _snapshots(self) -> list[RobotSnapshot]:
        """Every robot as the robot choice sees it, in config order."""
        return [r.snapshot() for r in self._robots.values()]

    def _targets(self) -> Iterator[OrderTarget]:
        """The waiting orders in assignment order (sorted only once a pass asks for them)."""
        for o in self._sorted_queue():
            wo = o.order
            yield OrderTarget(o.order_id, wo.has_target, wo.target_x, wo.target_y)

    def _assign_pass(self, now: float) -> None:
        if now < self._recovery_until:
            if any(r.status is None for r in self._robots.values()):
                return  # a robot may yet say it holds an order
            self._recovery_until = now
        if not self._connected or not self._leases.holds(now):
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
            order, robot = self._orders[order_id], self._robots[robot_id]
            self._queue.remove(order_id)
            robot.order_id = order_id
            order.robot_id = robot_id
            order.token += 1
            order.offered = order.attempt + 1
            order.granted = True
            order.renewed_at = now
            order.started = now
            order.mismatch_since = 0.0
            order.assigned_sent = order.executing_sent = False
            self._spawn(self._dispatch(order, robot, order.token))

    async def _client_for(self, robot: _Robot) -> ActionClient:
        """The robot's action client, created once (concurrent callers share the creation)."""
        if robot.client is not None:
            return robot.client
        if robot.connecting is None:
            robot.connecting = self._spawn(
                ActionClient.create(
                    self, ExecuteTask, robot_name(robot.robot_id, "execute"), status_qos=STATUS_QOS
                )
            )
            robot.connecting.add_done_callback(functools.partial(self._connected_client, robot))
        return await asyncio.shield(robot.connecting)

    @staticmethod
    def _connected_client(robot: _Robot, task: asyncio.Task[ActionClient]) -> None:
        """Keep the created client (even if whoever waited for it is gone), or allow a retry."""
        robot.connecting = None
        if not task.cancelled() and task.exception() is None:
            robot.client = task.result()

    async def _prepare_clients(self) -> None:
        """Create every robot's action client in the background after start.

        Otherwise the first goal to each robot pays for the client's subscriptions (and a
        graph announcement) on the latency path of its order.
        """
        for robot in list(self._robots.values()):
            if not self._ready:
                return
            try:
                await self._client_for(robot)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("%s: action client for %s not ready: %s", self.zone_id, robot.robot_id, exc)

    async def _dispatch(self, order: _Order, robot: _Robot, token: int) -> None:
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
            on_lease_loss=self._lease_loss,
        )
        handle: ClientGoalHandle | None = None
        error = ""
        try:
            client = await self._client_for(robot)
            handle = await client.send_goal(
                goal,
                feedback_callback=lambda msg: self._on_feedback(order, token, msg),
                timeout=GOAL_TIMEOUT_S,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if order.token != token or self._orders.get(order.order_id) is not order:
            if handle is not None and handle.accepted:  # released or cancelled meanwhile
                self._spawn(self._cancel_goal(handle))
            return
        if handle is None:  # no answer: the robot may have taken it; its journal says
            order.attempt = max(order.attempt, order.offered)
            self._release(order, f"no answer from {robot.robot_id} to the goal ({error})", reversible=True)
            self._ask_journal(order)
            return
        if not handle.accepted:  # an edge that refuses without a reason: about the robot
            self._refused_by_robot(order, robot, "goal rejected")
            return
        order.goal = handle
        self._mark_assigned(order)
        if order.cancelling is not None:
            self._spawn(self._cancel_goal(handle))
        order.waiter = self._spawn(self._await_result(order, robot, token, handle))

    def _on_feedback(self, order: _Order, token: int, msg: Any) -> None:
        if order.token == token and order.cancelling is None and not order.executing_sent:
            self._mark_executing(order, progress=float(msg.feedback.progress))

    def _mark_executing(self, order: _Order, *, progress: float = 0.0) -> None:
        """Publish ASSIGNED (unless sent) and EXECUTING for the attempt the robot runs."""
        self._mark_assigned(order)
        if not order.executing_sent:
            order.executing_sent = True
            order.state = WorkOrder.STATE_EXECUTING
            self._emit(order, WorkOrder.STATE_EXECUTING, progress=progress)

    def _mark_assigned(self, order: _Order) -> None:
        """The robot took the offered attempt: it is used, and ASSIGNED is published once."""
        order.attempt = max(order.attempt, order.offered)
        if not order.assigned_sent:
            order.assigned_sent = True
            order.state = WorkOrder.STATE_ASSIGNED
            self._emit(order, WorkOrder.STATE_ASSIGNED)
            self.get_logger().info(
                "%s: assigned %s to %s (attempt %d)",
                self.zone_id,
                order.order_id,
                order.robot_id,
                order.offered,
            )

    async def _await_result(self, order: _Order, robot: _Robot, token: int, handle: ClientGoalHandle) -> None:
        try:
            response = await handle.get_result()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the answer is lost: the robot's journal knows how it ended
            if order.token == token and self._orders.get(order.order_id) is order:
                order.waiter = None
                order.goal = None
                log.info(
                    "%s: result of %s lost (%s); asking %s", self.zone_id, order.order_id, exc, robot.robot_id
                )
                self._ask_journal(order)
            return
        if order.token != token or self._orders.get(order.order_id) is not order:
            return  # released or finished meanwhile
        order.waiter = None
        order.goal = None
        try:
            status = GoalStatus(response.status)
        except ValueError:
            status = GoalStatus.UNKNOWN
        self._on_result(order, robot, status, response.result)

    def _on_result(self, order: _Order, robot: _Robot, status: GoalStatus, result: Any) -> None:
        """Apply the edge's result of the goal (``refused`` says whether it ran at all)."""
        message = str(result.message)
        refused = int(result.refused)
        if refused == _R.REFUSED_ROBOT:
            self._refused_by_robot(order, robot, message)
            return
        if refused == _R.REFUSED_STALE:
            order.attempt = max(order.attempt, order.offered, int(result.attempt))
            self._free(order)
            self._requeue(order)
            self.get_logger().warning(
                "%s: %s knows %s at attempt %d already; requeued as a newer attempt",
                self.zone_id,
                robot.robot_id,
                order.order_id,
                int(result.attempt),
            )
            return
        if refused == _R.REFUSED_DONE:
            order.offered = max(order.offered, int(result.attempt))
            self._mark_executing(order)
            self._free(order)
            self._finish(order, WorkOrder.STATE_COMPLETED, f"already done by {robot.robot_id}", progress=1.0)
            return
        if refused == _R.REFUSED_ORDER:
            order.attempt = max(order.attempt, order.offered)
            self._free(order)
            self._retry(order, f"{robot.robot_id} refused it: {message}")
            return
        self._ended(order, success=status is GoalStatus.SUCCEEDED and bool(result.success), message=message)

    def _ended(self, order: _Order, *, success: bool, message: str) -> None:
        """The robot says it no longer executes ``order`` (result or journal): act on it."""
        robot_id = order.robot_id
        if success:
            self._mark_executing(order)
        self._free(order)
        if success:
            self._finish(order, WorkOrder.STATE_COMPLETED, message, progress=1.0)
            self.get_logger().info("%s: %s completed by %s", self.zone_id, order.order_id, robot_id)
        elif order.cancelling is not None:
            self._finish(order, WorkOrder.STATE_CANCELLED, order.cancelling)
        else:
            reason = order.releasing or message or f"ended by {robot_id}"
            self._retry(order, reason)

    def _refused_by_robot(self, order: _Order, robot: _Robot, message: str) -> None:
        robot.refused_until = time.monotonic() + REFUSAL_COOLDOWN_S
        self._free(order)
        self._requeue(order)
        self.get_logger().info(
            "%s: %s refused %s: %s; requeued",
            self.zone_id,
            robot.robot_id,
            order.order_id,
            _printable(message),
        )

    async def _cancel_goal(self, handle: ClientGoalHandle) -> None:
        try:
            await handle.cancel_goal(timeout=GOAL_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("%s: cancel not delivered: %s", self.zone_id, exc)

    # -- taking an order off its robot ---------------------------------------------------
    def _release(self, order: _Order, reason: str, *, reversible: bool = False) -> None:
        """Stop renewing ``order`` on its robot and tell the robot to drop it.

        It stays on the robot (``robot_id``) until the robot confirms it stopped or its lease
        ran out (:meth:`_check_orders`); only then may another robot get it.
        """
        if not order.robot_id:
            return
        order.granted = False
        order.releasing = reason
        order.reversible = reversible
        if not reversible:
            order.token += 1  # a late feedback of this goal is ignored (a result still counts)
            self._leases.revoke(order.robot_id, order.order_id, max(order.offered, 1), time.monotonic())
            if order.goal is not None:
                self._spawn(self._cancel_goal(order.goal))
        self.get_logger().warning(
            "%s: releasing %s from %s: %s", self.zone_id, order.order_id, order.robot_id, reason
        )
        if not reversible and order.waiter is None and order.goal is None:
            self._ask_journal(order)

    def _free(self, order: _Order) -> None:
        """``order`` is off its robot for sure: forget the goal and free the robot."""
        order.token += 1
        robot = self._robots.get(order.robot_id)
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

    def _check_orders(self, now: float) -> None:
        """Leases that ran out (released orders move on), execute timeouts, recovery."""
        limit = self.config.assignment.execute_timeout_s
        finish = self._lease_loss == ExecuteTask.Goal.LEASE_LOSS_FINISH
        for order in list(self._orders.values()):
            if not order.robot_id:
                continue
            if order.recovering and now >= self._recovery_until:
                order.recovering = False
                order.releasing = "re-adopted: not reported by its robot"
                order.reversible = True
                order.renewed_at = self._started_at  # the old zone may have renewed until then
                self._ask_journal(order)
            elif order.releasing:
                if not finish and now >= self._leases.lease_end(order.renewed_at):
                    reason = f"{order.releasing}; its lease ended"
                    self._free(order)
                    self._retry(order, reason)
            elif order.goal is not None and now - order.started > limit:
                self._release(order, f"not finished within {limit:g} s on {order.robot_id}")

    # -- the robot's journal ---------------------------------------------------------------
    def _ask_journal(self, order: _Order) -> None:
        if not order.asking and order.robot_id:
            order.asking = True
            self._spawn(self._journal_question(order, order.robot_id, order.token))

    async def _journal_question(self, order: _Order, robot_id: str, token: int) -> None:
        """Ask ``robot_id``'s journal how ``order`` stands there and act on the answer."""
        robot = self._robots[robot_id]
        record: Any = None
        try:
            if robot.journal is None:
                robot.journal = await self.create_client(GetExecutions, robot_name(robot_id, "journal"))
            answer = await robot.journal.call(
                GetExecutions.Request(
                    order_ids=[order.order_id], attempts=[max(order.offered, order.attempt)]
                ),
                timeout=GOAL_TIMEOUT_S,
            )
            record = answer.records[0] if answer.records else None
        except asyncio.CancelledError:
            raise
        except (TimeoutError, ConnectionError, RobotFleetError, IndexError) as exc:
            log.info(
                "%s: journal of %s not answering about %s: %s", self.zone_id, robot_id, order.order_id, exc
            )
        finally:
            order.asking = False
        if self._orders.get(order.order_id) is not order or order.robot_id != robot_id:
            return
        if record is None:
            if not order.releasing:  # wait for the lease to end before the order moves
                self._release(order, f"{robot_id} does not answer about it", reversible=True)
            return
        self._on_record(order, robot, record, token)

    def _on_record(self, order: _Order, robot: _Robot, record: Any, token: int) -> None:
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
            self._mark_executing(order)
            return
        if state == _J.STATE_SUCCEEDED:
            order.offered = max(order.offered, attempt)
            self._ended(order, success=True, message=str(record.message) or f"done by {robot.robot_id}")
            return
        if state == _J.STATE_UNKNOWN:
            order.attempt = max(order.attempt, order.offered)  # fenced on the robot now
        self._ended(order, success=False, message=str(record.message) or "not executing it")

    # -- order bookkeeping ---------------------------------------------------------------
    def _retry(self, order: _Order, reason: str) -> None:
        """Requeue ``order`` for a new attempt, or FAIL it once ``max_attempts`` failed."""
        self._free(order)
        order.failures += 1
        if order.failures >= self.max_attempts:
            self._fail(order, f"{reason}; gave up after {order.failures} attempts")
            return
        order.notes.append(reason)
        self._requeue(order)
        self.get_logger().warning(
            "%s: %s requeued after attempt %d: %s",
            self.zone_id,
            order.order_id,
            order.attempt,
            _printable(reason),
        )

    def _fail(self, order: _Order, reason: str) -> None:
        if order.robot_id and not order.releasing:
            self._release(order, reason)
        self._finish(order, WorkOrder.STATE_FAILED, reason)
        self.get_logger().warning("%s: %s FAILED: %s", self.zone_id, order.order_id, _printable(reason))

    def _requeue(self, order: _Order) -> None:
        order.state = WorkOrder.STATE_DISPATCHED
        order.assigned_sent = order.executing_sent = False
        if order.order_id not in self._queue:
            self._queue.append(order.order_id)

    def _finish(self, order: _Order, state: int, note: str = "", *, progress: float = 0.0) -> None:
        order.state = state
        self._emit(order, state, note=note, progress=progress)
        self._forget(order)
        self._remember(self._finished, order.order_id, state)

    def _forget(self, order: _Order) -> None:
        """Drop ``order`` from the zone; revocations already sent stay in the renewals."""
        self._orders.pop(order.order_id, None)
        if order.order_id in self._queue:
            self._queue.remove(order.order_id)
        self._free(order)  # a robot still running it stays busy by its own status

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
        final = self._finished.get(wo.id)
        if final is not None:
            return refuse(f"order {wo.id} is {state_name(final)} already")
        if wo.id not in self._orders:
            if not any(r.online for r in self._robots.values()):
                return refuse(f"zone {self.zone_id} has no live robots")
            self._accept(wo)
            self._assign_soon()
        self._remember(self._answers, key, (True, self.zone_id, "", ""))
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
        order = _Order(
            order=wo.model_copy(update={"zone_id": self.zone_id}),
            seq=next(self._seq),
            attempt=int(wo.attempts),
        )
        self._orders[order.order_id] = order
        self._queue.append(order.order_id)
        self._emit(order, WorkOrder.STATE_DISPATCHED)
        self.get_logger().info(
            "%s: accepted %s (task=%s, priority=%d)",
            self.zone_id,
            wo.id,
            _printable(wo.task),
            wo.priority,
        )

    def _on_cancel(self, request: CancelWorkOrder.Request) -> CancelWorkOrder.Response:
        order = self._orders.get(request.id)
        if order is None:
            final = self._finished.get(request.id)
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
            self._release(order, reason)
        self._finish(order, WorkOrder.STATE_CANCELLED, reason)
        self.get_logger().info("%s: cancelled %s: %s", self.zone_id, request.id, _printable(reason))
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
            if wo.zone_id != self.zone_id or wo.state not in _LIVE_STATES or wo.id in self._orders:
                continue
            order = _Order(order=wo, seq=next(self._seq), attempt=int(wo.attempts), state=int(wo.state))
            self._orders[wo.id] = order
            adopted += 1
            robot = self._robots.get(wo.robot_id)
            if wo.state == WorkOrder.STATE_DISPATCHED or robot is None or robot.order_id:
                self._requeue(order)
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
    def _emit(self, order: _Order, state: int, *, note: str = "", progress: float = 0.0) -> None:
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
        self._updates.put_nowait(update)

    async def _publish_updates(self) -> None:
        """Publish queued order events: one order's in sequence, different orders concurrently.

        Everything queued is taken at once (up to :data:`PUBLISH_BATCH`), so the events'
        round trips to JetStream overlap instead of adding up; an order's own events still
        reach the stream in the order they happened.
        """
        while True:
            batch = [await self._updates.get()]
            while len(batch) < PUBLISH_BATCH and not self._updates.empty():
                batch.append(self._updates.get_nowait())
            by_order: dict[str, list[WorkOrderUpdate]] = {}
            for update in batch:
                by_order.setdefault(update.order_id, []).append(update)
            try:
                await asyncio.gather(*(self._publish_in_order(updates) for updates in by_order.values()))
            finally:
                for _ in batch:
                    self._updates.task_done()

    async def _publish_in_order(self, updates: list[WorkOrderUpdate]) -> None:
        """Store ``updates`` in order, each retried until the stream has it (a repeat is dropped
        by its ``Nats-Msg-Id``): an event is never given up while the zone runs."""
        assert self._events is not None
        for update in updates:
            delay = 0.1
            while True:
                try:
                    await self._events.publish(update)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.info(
                        "%s: event %s/%d/%s not stored yet (%s); retrying",
                        self.zone_id,
                        update.order_id,
                        update.attempt,
                        state_name(update.state),
                        exc,
                    )
                    await asyncio.sleep(delay)
                    delay = min(MAX_PUBLISH_BACKOFF_S, delay * 2)

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
            list(self._robots.values()),
            queued=len(self._queue),
            active=len(self._orders) - len(self._queue),
            capacity=len(capacity) if self._leases.holds(now) else 0,
        )
        return summary

    def robot_table(self) -> RobotTable:
        """The zone's ``RobotTable`` now (one entry per configured robot, in config order)."""
        table: RobotTable = robot_table(RobotTable, self.config, list(self._robots.values()))
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

    @staticmethod
    def _remember(store: OrderedDict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > _REMEMBERED:
            store.popitem(last=False)
