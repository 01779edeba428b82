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
- At an edge site (``site:``, docs/fleet.md "Edge sites") the zone talks to its site's leaf
  server: its order events go to the site's own stream (the hub sources them), the order
  bucket is read in the hub's domain, and an area grant holds ``site.site_offline_grace_s``.

:class:`ZoneNode` here is the facade: start-up, status subscriptions, heartbeats,
assignment passes, lease renewals and summaries. The machinery behind it is private to the
package: ``_intake`` (the ``assign`` and ``cancel`` services and the target check),
``_recovery`` (re-adopting orders from the order bucket after a restart), ``_executions``
(the order state machine: goals, results, releases, journal questions, retries),
``_journal`` (asking a robot's journal), ``_slots`` (the per-robot and per-order records),
``_leases`` (lease bookkeeping), ``_events`` (the order-event publisher) and ``_reports``
(summaries and robot tables).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from robotfleet_nodes.config import ZoneConfig
from robotfleet_nodes.edge.node import STATUS_QOS
from robotfleet_nodes.fleet.protocol import (
    OrderEvents,
    OrderStore,
    area_name,
    nats_transport_of,
    robot_name,
    zone_name,
)
from robotfleet_nodes.fleet.sites import SiteOrderEvents
from robotfleet_nodes.msg import LeaseRenewal, RobotStatus, RobotTable, ZoneSummary
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder
from robotfleet_nodes.transport import ConnectionState
from robotfleet_nodes.zone._events import EventPublisher
from robotfleet_nodes.zone._executions import GOAL_TIMEOUT_S, MISMATCH_GRACE_S, REFUSAL_COOLDOWN_S, Executions
from robotfleet_nodes.zone._intake import MAX_TARGET_M, Intake
from robotfleet_nodes.zone._leases import Grant
from robotfleet_nodes.zone._recovery import open_store, recover_orders
from robotfleet_nodes.zone._reports import robot_table, zone_summary
from robotfleet_nodes.zone._slots import OrderSlot, RobotSlot
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
        self._seq = itertools.count()
        self._intake = Intake(self._ex, config, seq=self._seq, assign_soon=self._assign_soon)
        self._rr = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._summary_pub: Publisher[ZoneSummary] | None = None
        self._table_pub: Publisher[RobotTable] | None = None
        self._lease_pub: Publisher[LeaseRenewal] | None = None
        self._store: OrderStore | None = None

    # -- life --------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Connect to the order stream and bucket, subscribe, serve, recover, start timers."""
        transport = nats_transport_of(self.context.transport)
        site = self.config.site
        # At an edge site the events go to the site's own stream; the hub sources them.
        events = (
            OrderEvents(transport, self.zone_id) if site is None else SiteOrderEvents(transport, self.zone_id)
        )
        await events.ensure()
        self._store = OrderStore(transport, jetstream_domain=site.hub_domain if site is not None else None)
        await open_store(self._store, self.zone_id, at_site=site is not None)
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
        await self.create_service(AssignWorkOrder, "assign", self._intake.on_assign)
        await self.create_service(CancelWorkOrder, "cancel", self._intake.on_cancel)
        self._ex.started_at = time.monotonic()
        self._ex.recovery_until = self._ex.started_at + self.config.heartbeat_timeout_s
        if self._recover:
            await recover_orders(self._store, self._ex, seq=self._seq)
        self._intake.ready = self._ex.running = True
        self.create_timer(self._assign_period, self._tick)
        self.create_timer(self.config.leases.renew_period_s, self._renew)
        self._spawn(self._ex.prepare_clients())
        self.create_timer(self.config.summary_period_s, self._publish_summary)
        self.get_logger().info(
            "%s: zone up with %d robots (area %s)", self.zone_id, len(self._ex.robots), self.config.area_id
        )

    async def destroy_node(self) -> None:
        """Stop timers and tasks, flush pending order events (up to 2 s), leave the graph."""
        self._intake.ready = self._ex.running = False
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
