"""``ZoneNode``: the zone tier (``/zones/<zone_id>/zone``), see ``docs/fleet.md``.

A zone watches its robots' status (one subscription per robot), keeps the orders the area
handed it in a queue (priority 9 first, FIFO within a priority) and hands them to robots
through each robot's ``execute`` action. Every transition it makes is a
``WorkOrderUpdate`` on the order-event stream (:class:`~robotfleet_nodes.fleet.protocol.OrderEvents`),
published in order by one task per zone.

- ``/zones/<id>/assign`` (AssignWorkOrder): accepted when the order belongs to this zone's
  area and a robot is online; idempotent by ``idempotency_key`` (a repeat gets the first
  answer with ``duplicate=true``). Accepting publishes DISPATCHED.
- ``/zones/<id>/cancel`` (CancelWorkOrder): queued orders are dropped, running ones are
  cancelled on the robot; publishes CANCELLED.
- Assignment: every ``assign_period_s`` one pass over all waiting orders; a robot is a
  candidate when online, IDLE, at or above ``assignment.min_battery_percent`` and not
  already holding an order; ``nearest`` picks the closest candidate to the target,
  ``round_robin`` takes turns; each robot takes at most one order per pass (the rules:
  :mod:`robotfleet_nodes.zone.choice`). An accepted goal publishes ASSIGNED with
  ``attempt + 1``; the first feedback EXECUTING; the result COMPLETED, or FAILED once
  ``max_attempts`` assignments failed (a failed attempt is retried on another robot until
  then).
- A robot silent for ``heartbeat_timeout_s`` is OFFLINE; its order goes back to the queue
  (the next assignment is a new attempt). An order running longer than
  ``assignment.execute_timeout_s`` is cancelled on the robot and requeued the same way.
- ``/zones/<id>/summary`` (ZoneSummary) and ``/zones/<id>/robots`` (RobotTable, struct of
  arrays) every ``summary_period_s``: nothing per robot per tick goes upward.

Recovery: at start the zone reads the order bucket (:class:`~robotfleet_nodes.fleet.protocol.OrderStore`)
and re-adopts its non-final orders: DISPATCHED ones are queued; an ASSIGNED / EXECUTING one
is tracked through the robot's status if the robot reports it as ``current_order_id``
(COMPLETED when the robot drops it without errors, requeued otherwise), and requeued as a
new attempt when the robot does not report it within ``heartbeat_timeout_s``.
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
from robotfleet_nodes.fleet.protocol import (
    FINAL_STATES,
    ORDER_ID_RE,
    OrderEvents,
    OrderStore,
    nats_transport_of,
    now_stamp,
    robot_name,
    state_name,
    zone_name,
)
from robotfleet_nodes.msg import RobotStatus, RobotTable, WorkOrder, WorkOrderUpdate, ZoneSummary
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder
from robotfleet_nodes.zone.choice import OrderTarget, RobotSnapshot, candidates, plan

__all__ = ["DEFAULT_ASSIGN_PERIOD_S", "DEFAULT_MAX_ATTEMPTS", "ZoneNode"]

log = logging.getLogger(__name__)

#: Seconds between assignment passes (and order timeout checks).
DEFAULT_ASSIGN_PERIOD_S = 0.1
#: Heartbeats are swept every ``heartbeat_timeout_s / HEARTBEAT_SWEEPS`` seconds (at most
#: every :data:`MAX_SWEEP_PERIOD_S`): a silent robot is OFFLINE within 1.25 timeouts.
HEARTBEAT_SWEEPS = 4
MAX_SWEEP_PERIOD_S = 1.0
#: Assignments of one order before it is FAILED.
DEFAULT_MAX_ATTEMPTS = 3
#: Seconds a robot that refused a goal is left out of assignment passes.
REFUSAL_COOLDOWN_S = 1.0
#: Seconds the zone waits for an edge to answer a goal.
GOAL_TIMEOUT_S = 5.0
_REMEMBERED = 10_000  # answers / finished orders kept for idempotency
#: Order events published concurrently at most (one order's stay in sequence).
PUBLISH_BATCH = 256

_IDLE, _EXECUTING, _CHARGING, _ERROR, _OFFLINE = range(5)
_LIVE_STATES = (WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING)


@dataclass(slots=True)
class _Robot:
    robot_id: str
    status: RobotStatus | None = None
    last_seen: float = -math.inf
    online: bool = False
    order_id: str = ""  # the order the zone gave it (reserved while the goal is sent)
    adopted: str = ""  # an order re-adopted at start, followed through the status
    refused_until: float = -math.inf
    client: ActionClient | None = None
    connecting: asyncio.Task[ActionClient] | None = None  # the client being created

    def snapshot(self) -> RobotSnapshot:
        """The robot as the robot choice (:mod:`robotfleet_nodes.zone.choice`) sees it now."""
        held = bool(self.order_id or self.adopted)
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
    attempt: int
    state: int = WorkOrder.STATE_DISPATCHED
    robot_id: str = ""
    token: int = 0  # grows on every (re)assignment; results of older tokens are ignored
    goal: ClientGoalHandle | None = None
    started: float = 0.0
    executing_sent: bool = False
    cancelling: str | None = None  # the cancel reason, once cancelled
    waiter: asyncio.Task[Any] | None = None
    recover_until: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return str(self.order.id)


class ZoneNode(Node):
    """One zone: robot status, order queue, assignment, order events, summaries.

    Args:
        config: the zone's configuration.
        context: the context to run in (must be on NATS: the orders live in JetStream).
        assign_period_s: seconds between assignment passes.
        max_attempts: assignments of one order before it is FAILED.
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
        self._recovering = False  # some re-adopted order waits for its robot's status
        self._assign_scheduled = False
        self._recover = recover
        self._status_cls = RobotStatus
        self._summary_cls = ZoneSummary
        self._table_cls = RobotTable
        self._assign_srv = AssignWorkOrder
        self._cancel_srv = CancelWorkOrder
        self._action = ExecuteTask
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
        for robot in self._robots.values():
            await self.create_subscription(
                self._status_cls,
                robot_name(robot.robot_id, "status"),
                functools.partial(self._on_status, robot),
                STATUS_QOS,
            )
        self._summary_pub = await self.create_publisher(self._summary_cls, "summary", 1)
        self._table_pub = await self.create_publisher(self._table_cls, "robots", 1)
        await self.create_service(self._assign_srv, "assign", self._on_assign)
        await self.create_service(self._cancel_srv, "cancel", self._on_cancel)
        if self._recover:
            await self._recover_orders()
        self._ready = True
        self.create_timer(self._assign_period, self._tick)
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
        """Order id -> robot id of the orders a robot holds."""
        return {oid: o.robot_id for oid, o in self._orders.items() if o.robot_id}

    def robot_online(self, robot_id: str) -> bool:
        """Whether the robot's status arrived within the heartbeat timeout."""
        return self._robots[robot_id].online

    # -- robot status --------------------------------------------------------------------
    def _on_status(self, robot: _Robot, msg: RobotStatus) -> None:
        robot.status = msg
        robot.last_seen = time.monotonic()
        if not robot.online:
            robot.online = True
            self.get_logger().info("%s: %s is online", self.zone_id, robot.robot_id)
        if robot.adopted and msg.current_order_id != robot.adopted:
            self._adopted_ended(robot, msg)

    def _check_heartbeats(self, now: float) -> None:
        timeout = self.config.heartbeat_timeout_s
        for robot in self._robots.values():
            if robot.online and now - robot.last_seen > timeout:
                robot.online = False
                self.get_logger().warning(
                    "%s: %s is OFFLINE (no status for %.1f s)", self.zone_id, robot.robot_id, timeout
                )
                for oid in (robot.order_id, robot.adopted):
                    order = self._orders.get(oid) if oid else None
                    if order is not None and order.robot_id == robot.robot_id:
                        if self.config.assignment.reassign_on_offline:
                            self._retry(order, f"{robot.robot_id} went offline")
                        else:
                            self._fail(order, f"{robot.robot_id} went offline")

    # -- assignment ----------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:  # one sweep over all robots, a few times per timeout
            self._next_sweep = now + self._sweep_period
            self._check_heartbeats(now)
        self._check_recovering(now)
        self._check_timeouts(now)
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
            self._spawn(self._dispatch(order, robot, order.token))

    async def _client_for(self, robot: _Robot) -> ActionClient:
        """The robot's action client, created once (concurrent callers share the creation)."""
        if robot.client is not None:
            return robot.client
        if robot.connecting is None:
            robot.connecting = self._spawn(
                ActionClient.create(
                    self, self._action, robot_name(robot.robot_id, "execute"), status_qos=STATUS_QOS
                )
            )
            robot.connecting.add_done_callback(functools.partial(self._connected, robot))
        return await asyncio.shield(robot.connecting)

    @staticmethod
    def _connected(robot: _Robot, task: asyncio.Task[ActionClient]) -> None:
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
        goal = self._action.Goal(
            order_id=wo.id,
            task=wo.task,
            has_target=wo.has_target,
            target_x=wo.target_x,
            target_y=wo.target_y,
            priority=wo.priority,
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
        if order.token != token:  # requeued or cancelled meanwhile
            if handle is not None and handle.accepted:
                self._spawn(self._cancel_goal(handle))
            return
        if handle is None or not handle.accepted:
            robot.order_id = ""
            robot.refused_until = time.monotonic() + REFUSAL_COOLDOWN_S
            order.robot_id = ""
            self._requeue(order)
            self.get_logger().warning(
                "%s: %s refused %s%s; requeued",
                self.zone_id,
                robot.robot_id,
                wo.id,
                f" ({error})" if error else "",
            )
            return
        order.attempt += 1
        order.goal = handle
        order.state = WorkOrder.STATE_ASSIGNED
        order.started = time.monotonic()
        order.executing_sent = False
        self._emit(order, WorkOrder.STATE_ASSIGNED)
        self.get_logger().info("%s: assigned %s to %s", self.zone_id, wo.id, robot.robot_id)
        if order.cancelling is not None:
            self._spawn(self._cancel_goal(handle))
        order.waiter = self._spawn(self._await_result(order, robot, token, handle))

    def _on_feedback(self, order: _Order, token: int, msg: Any) -> None:
        if order.token == token and order.state == WorkOrder.STATE_ASSIGNED and order.cancelling is None:
            order.state = WorkOrder.STATE_EXECUTING
            order.executing_sent = True
            self._emit(order, WorkOrder.STATE_EXECUTING, progress=float(msg.feedback.progress))

    async def _await_result(self, order: _Order, robot: _Robot, token: int, handle: ClientGoalHandle) -> None:
        try:
            response = await handle.get_result()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the edge went away (its heartbeat timeout requeues as well)
            if order.token == token and self._orders.get(order.order_id) is order:
                order.waiter = None
                self._retry(order, f"result from {robot.robot_id} lost: {type(exc).__name__}")
            return
        if order.token != token or self._orders.get(order.order_id) is not order:
            return  # requeued (offline, timeout) or finished meanwhile
        order.waiter = None
        if robot.order_id == order.order_id:
            robot.order_id = ""
        order.goal = None
        try:
            status = GoalStatus(response.status)
        except ValueError:
            status = GoalStatus.UNKNOWN
        message = str(response.result.message)
        if order.cancelling is not None:
            self._finish(order, WorkOrder.STATE_CANCELLED, order.cancelling)
        elif status is GoalStatus.SUCCEEDED and response.result.success:
            if order.state == WorkOrder.STATE_ASSIGNED:
                self._emit(order, WorkOrder.STATE_EXECUTING)
            self._finish(order, WorkOrder.STATE_COMPLETED, message, progress=1.0)
            self.get_logger().info("%s: %s completed by %s", self.zone_id, order.order_id, robot.robot_id)
        else:
            reason = message or f"goal {status.name.lower()} by {robot.robot_id}"
            self._retry(order, reason)

    async def _cancel_goal(self, handle: ClientGoalHandle) -> None:
        try:
            await handle.cancel_goal(timeout=GOAL_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("%s: cancel not delivered: %s", self.zone_id, exc)

    def _release(self, order: _Order) -> None:
        """Detach ``order`` from its robot and goal (a late result is ignored)."""
        order.token += 1
        robot = self._robots.get(order.robot_id)
        if robot is not None:
            if robot.order_id == order.order_id:
                robot.order_id = ""
            if robot.adopted == order.order_id:
                robot.adopted = ""
        if order.goal is not None:
            self._spawn(self._cancel_goal(order.goal))
            order.goal = None
        if order.waiter is not None and order.waiter is not asyncio.current_task():
            order.waiter.cancel()
        order.waiter = None
        order.robot_id = ""

    def _retry(self, order: _Order, reason: str) -> None:
        """Requeue ``order`` for a new attempt, or FAIL it once ``max_attempts`` are used."""
        self._release(order)
        if order.attempt >= self.max_attempts:
            self._fail(order, f"{reason}; gave up after {order.attempt} attempts")
            return
        order.notes.append(reason)
        self._requeue(order)
        self.get_logger().warning(
            "%s: %s requeued after attempt %d: %s", self.zone_id, order.order_id, order.attempt, reason
        )

    def _fail(self, order: _Order, reason: str) -> None:
        self._release(order)
        self._finish(order, WorkOrder.STATE_FAILED, reason)
        self.get_logger().warning("%s: %s FAILED: %s", self.zone_id, order.order_id, reason)

    def _requeue(self, order: _Order) -> None:
        order.state = WorkOrder.STATE_DISPATCHED
        order.executing_sent = False
        if order.order_id not in self._queue:
            self._queue.append(order.order_id)

    def _finish(self, order: _Order, state: int, note: str = "", *, progress: float = 0.0) -> None:
        order.state = state
        self._emit(order, state, note=note, progress=progress)
        self._orders.pop(order.order_id, None)
        if order.order_id in self._queue:
            self._queue.remove(order.order_id)
        self._remember(self._finished, order.order_id, state)

    def _check_timeouts(self, now: float) -> None:
        limit = self.config.assignment.execute_timeout_s
        for order in list(self._orders.values()):
            if order.goal is not None and now - order.started > limit:
                self._retry(order, f"not finished within {limit:g} s on {order.robot_id}")

    # -- services ------------------------------------------------------------------------
    def _on_assign(self, request: AssignWorkOrder.Request) -> AssignWorkOrder.Response:
        response_cls = self._assign_srv.Response
        wo = request.order
        key = request.idempotency_key or f"{wo.id}/{wo.attempts}"
        first = self._answers.get(key)
        if first is not None:
            accepted, zone_id, robot_id, error = first
            return response_cls(
                accepted=accepted, duplicate=True, zone_id=zone_id, robot_id=robot_id, error=error
            )

        def refuse(error: str) -> AssignWorkOrder.Response:
            self.get_logger().info("%s: refused %s: %s", self.zone_id, wo.id, error)
            return response_cls(accepted=False, error=error)

        if not self._ready:
            return refuse(f"zone {self.zone_id} is starting")
        if not ORDER_ID_RE.fullmatch(wo.id):
            return refuse(f"invalid order id {wo.id!r}")
        if request.target_id and request.target_id != self.zone_id:
            return refuse(f"this is zone {self.zone_id}, not {request.target_id}")
        if wo.area_id != self.config.area_id:
            return refuse(
                f"order {wo.id} belongs to area {wo.area_id!r}; zone {self.zone_id} "
                f"is in {self.config.area_id}"
            )
        if wo.state in FINAL_STATES:
            return refuse(f"order {wo.id} is {state_name(wo.state)}")
        final = self._finished.get(wo.id)
        if final is not None:
            return refuse(f"order {wo.id} is {state_name(final)} already")
        if wo.id not in self._orders:
            if not any(r.online for r in self._robots.values()):
                return refuse(f"zone {self.zone_id} has no live robots")
            self._accept(wo)
            self._assign_soon()
        answer = response_cls(accepted=True, duplicate=False, zone_id=self.zone_id)
        self._remember(self._answers, key, (True, self.zone_id, "", ""))
        return answer

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
            "%s: accepted %s (task=%s, priority=%d)", self.zone_id, wo.id, wo.task, wo.priority
        )

    def _on_cancel(self, request: CancelWorkOrder.Request) -> CancelWorkOrder.Response:
        response_cls = self._cancel_srv.Response
        order = self._orders.get(request.id)
        if order is None:
            final = self._finished.get(request.id)
            if final == WorkOrder.STATE_CANCELLED:
                return response_cls(accepted=True, order=WorkOrder(id=request.id, state=final))
            if final is not None:
                return response_cls(
                    accepted=False,
                    order=WorkOrder(id=request.id, state=final),
                    error=f"order {request.id} is {state_name(final)} already",
                )
            error = f"zone {self.zone_id} does not hold order {request.id!r}"
            return response_cls(accepted=False, error=error)
        reason = request.reason or "cancelled"
        order.cancelling = reason
        self._release(order)
        self._finish(order, WorkOrder.STATE_CANCELLED, reason)
        self.get_logger().info("%s: cancelled %s: %s", self.zone_id, request.id, reason)
        return response_cls(
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
        deadline = time.monotonic() + self.config.heartbeat_timeout_s
        adopted = 0
        for wo in sorted(stored, key=lambda o: (o.created.sec, o.created.nanosec)):
            if wo.zone_id != self.zone_id or wo.state not in _LIVE_STATES or wo.id in self._orders:
                continue
            order = _Order(order=wo, seq=next(self._seq), attempt=int(wo.attempts), state=int(wo.state))
            self._orders[wo.id] = order
            adopted += 1
            if wo.state == WorkOrder.STATE_DISPATCHED or wo.robot_id not in self._robots:
                self._requeue(order)
            else:
                order.robot_id = wo.robot_id
                order.recover_until = deadline
                self._recovering = True
        if adopted:
            self.get_logger().info("%s: re-adopted %d orders from the store", self.zone_id, adopted)

    def _check_recovering(self, now: float) -> None:
        if not self._recovering:
            return
        for order in list(self._orders.values()):
            if not order.recover_until:
                continue
            robot = self._robots[order.robot_id]
            if robot.status is not None and robot.status.current_order_id == order.order_id:
                order.recover_until = 0.0
                robot.adopted = order.order_id
                if order.state == WorkOrder.STATE_ASSIGNED:
                    order.state = WorkOrder.STATE_EXECUTING
                    self._emit(order, WorkOrder.STATE_EXECUTING)
                self.get_logger().info(
                    "%s: %s is still executing %s; following it", self.zone_id, robot.robot_id, order.order_id
                )
            elif robot.status is not None or now > order.recover_until:
                order.recover_until = 0.0
                order.robot_id = ""
                self._requeue(order)
        self._recovering = any(order.recover_until for order in self._orders.values())

    def _adopted_ended(self, robot: _Robot, msg: RobotStatus) -> None:
        order = self._orders.get(robot.adopted)
        robot.adopted = ""
        if order is None:
            return
        order.robot_id = ""
        if not msg.errors and msg.state != _ERROR:
            self._finish(order, WorkOrder.STATE_COMPLETED, "finished while the zone restarted", progress=1.0)
        else:
            self._retry(order, f"{robot.robot_id} ended it with errors")

    # -- upward --------------------------------------------------------------------------
    def _emit(self, order: _Order, state: int, *, note: str = "", progress: float = 0.0) -> None:
        wo = order.order
        update = WorkOrderUpdate(
            order_id=wo.id,
            attempt=order.attempt,
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
        assert self._events is not None
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
        assert self._events is not None
        for update in updates:
            for delay in (0.1, 0.5, 1.0, 2.0, 0.0):
                try:
                    await self._events.publish(update)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    if not delay:
                        log.exception(
                            "%s: event %s/%d/%s lost",
                            self.zone_id,
                            update.order_id,
                            update.attempt,
                            state_name(update.state),
                        )
                        break
                    await asyncio.sleep(delay)

    async def _publish_summary(self) -> None:
        if self._summary_pub is None or self._table_pub is None:
            return
        await self._summary_pub.publish(self.summary())
        await self._table_pub.publish(self.robot_table())

    def summary(self) -> ZoneSummary:
        """The zone's ``ZoneSummary`` now."""
        counts = [0, 0, 0, 0]
        batteries: list[float] = []
        online = 0
        now = time.monotonic()
        for robot in self._robots.values():
            if not robot.online or robot.status is None:
                continue
            online += 1
            batteries.append(float(robot.status.battery_percent))
            if robot.status.state < len(counts):
                counts[robot.status.state] += 1
        return self._summary_cls(
            zone_id=self.zone_id,
            area_id=self.config.area_id,
            stamp=now_stamp(),
            robots_total=len(self._robots),
            robots_online=online,
            robots_idle=counts[_IDLE],
            robots_busy=counts[_EXECUTING],
            robots_charging=counts[_CHARGING],
            robots_error=counts[_ERROR],
            orders_queued=len(self._queue),
            orders_active=len(self._orders) - len(self._queue),
            battery_mean_percent=sum(batteries) / len(batteries) if batteries else 0.0,
            capacity=len(
                candidates(
                    self._snapshots(), now=now, min_battery_percent=self.config.assignment.min_battery_percent
                )
            ),
        )

    def robot_table(self) -> RobotTable:
        """The zone's ``RobotTable`` now (one entry per configured robot, in config order)."""
        robots = list(self._robots.values())
        seen = [(r.status, r.online) for r in robots if r.status is not None]
        if len(seen) == len(robots):  # every robot reported: one pass per column, no branches
            statuses = [status for status, _ in seen]
            poses = [status.pose for status in statuses]
            table: dict[str, list[Any]] = {
                "x": [float(p.x) for p in poses],
                "y": [float(p.y) for p in poses],
                "theta": [float(p.theta) for p in poses],
                "battery_percent": [float(st.battery_percent) for st in statuses],
                "states": [int(st.state) if online else _OFFLINE for st, online in seen],
                "operating_modes": [int(st.operating_mode) for st in statuses],
                "current_order_ids": [str(st.current_order_id) for st in statuses],
                "order_progress": [float(st.order_progress) for st in statuses],
                "error_counts": [len(st.errors) for st in statuses],
            }
        else:
            table = {
                k: []
                for k in (
                    "x", "y", "theta", "battery_percent", "states", "operating_modes",
                    "current_order_ids", "order_progress", "error_counts",
                )
            }  # fmt: skip
            for robot in robots:
                s = robot.status
                table["x"].append(float(s.pose.x) if s else 0.0)
                table["y"].append(float(s.pose.y) if s else 0.0)
                table["theta"].append(float(s.pose.theta) if s else 0.0)
                table["battery_percent"].append(float(s.battery_percent) if s else 0.0)
                table["states"].append(int(s.state) if s and robot.online else _OFFLINE)
                table["operating_modes"].append(int(s.operating_mode) if s else 0)
                table["current_order_ids"].append(str(s.current_order_id) if s else "")
                table["order_progress"].append(float(s.order_progress) if s else 0.0)
                table["error_counts"].append(len(s.errors) if s else 0)
        return self._table_cls(
            zone_id=self.zone_id,
            area_id=self.config.area_id,
            stamp=now_stamp(),
            robot_ids=[r.robot_id for r in robots],
            **table,
        )

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
