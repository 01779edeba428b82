"""``DdsBridgeDriver``: a real ROS 2 robot, reached over its own DDS bus (``driver: dds``).

The edge runs on the robot's computer; the robot's ROS 2 stack (any rmw_cyclonedds or
otherwise DDS-interoperable nodes) runs next to it. The driver joins the robot's DDS domain
(``dds.domain_id``) as one small node, ``<dds.namespace>/fleet_bridge``, with this
package's DDS transport (ROS 2 wire conventions), and maps:

Robot -> fleet (status)
    * ``battery_topic`` (``sensor_msgs/msg/BatteryState``): ``percentage`` 0..1 -> battery
      0..100 %; NaN means unknown: ``charge / capacity`` when both are known, else the last
      known level (``battery_unknown_percent`` until there is one). A value in (1, 100] is
      taken as percent already (some drivers send that; logged once). ``power_supply_status``
      CHARGING -> charging; ``power_supply_health`` other than GOOD/UNKNOWN -> an error
      ``BATTERY_<HEALTH>`` (DEAD is FATAL: state ERROR; the rest are warnings).
    * ``pose_topic`` of ``pose_type``: ``nav_msgs/msg/Odometry`` (pose and speed; the
      default, ``odom``), ``geometry_msgs/msg/PoseStamped`` or ``PoseWithCovarianceStamped``
      (e.g. ``amcl_pose``: the map frame), or ``geometry_msgs/msg/Pose2D``. Yaw comes from
      the quaternion.
    * state: EXECUTING while an order runs, else CHARGING while charging, else IDLE; ERROR
      with a FATAL error; OFFLINE until the first sample arrives and whenever nothing arrived
      on the robot's topics for ``offline_timeout_s`` (the robot's ROS stack died): the edge
      then stops its heartbeats and the zone sees the robot go offline. A running order
      fails with "robot went offline".
    * Both topics are read best effort (depth 5), which matches reliable and best-effort
      publishers alike. Values are rounded (1 mm, 1 mrad, 0.01 m/s, 0.1 %) so that sensor
      noise does not make every step a status change; ``seq`` grows on every change.

Fleet -> robot (work orders)
    :meth:`RobotDriver.start_task` is synchronous, talking to the robot is not. So the driver
    checks what it can at once (not OFFLINE or ERROR, not busy, a valid request), *accepts
    the order locally* (state EXECUTING) and hands it to the robot in the background. Whatever
    goes wrong there (no server, goal rejected, robot silent) is reported as
    ``TaskFinished(success=False, message=<why>)`` by a later :meth:`step`, exactly once, like
    any other failure; the zone then reassigns the order.

    * ``orders: action`` (default): a goal of ``robotfleet_nodes/action/ExecuteTask`` (this
      package's ``action/ExecuteTask.action``; build it in the robot's workspace) to the
      robot's server ``action_name``, waiting up to ``server_wait_s`` for it. Feedback
      ``progress`` -> :class:`TaskProgress` (never decreasing); the result -> ``TaskFinished``
      (success when the goal SUCCEEDED and ``result.success``; ``final_pose`` from the result).
    * ``orders: topic``: a ``robotfleet_nodes/msg/WorkOrder`` (``id``, ``robot_id``, ``task``,
      ``priority``, target; ``state`` ASSIGNED) written reliably on ``order_topic``. The robot
      reports on ``order_status_topic`` with ``robotfleet_nodes/msg/WorkOrderUpdate``
      (``order_id``; ``state`` EXECUTING with ``progress``, COMPLETED, FAILED or CANCELLED;
      ``note`` as the message). Without a report within ``order_ack_timeout_s`` the order
      fails. With ``order_status_topic: ""`` nothing comes back: the order counts as
      completed once written (fire and forget; the robot must not need supervision).
    * :meth:`cancel_task` ends the order at once (``TaskFinished`` "cancelled" on the next
      step, as the contract says) and tells the robot in the background: a cancel request
      for the goal (sent as soon as the goal is accepted, if it was still in flight), or the
      ``WorkOrder`` again with ``state`` CANCELLED on ``order_topic``.

Malformed input (undecodable samples are dropped by the transport; here: out-of-range
percentages, non-finite poses, a zero quaternion, an unknown goal status) is logged once
per topic, counted in :attr:`DdsBridgeDriver.malformed` and otherwise ignored: a sample
still proves that the robot's stack is alive.

cyclonedds is an optional extra: building the driver without it raises
:class:`~robotfleet_nodes.transport.dds.DdsUnavailable` with the install hint, so an edge
configured with ``driver: dds`` fails at start with that message.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.config import DdsDriverConfig
from robotfleet_nodes.edge.driver import (
    DriverError,
    DriverEvent,
    DriverRejected,
    DriverStatus,
    ErrorLevel,
    OperatingMode,
    Pose2D,
    RobotState,
    SnapshotDriver,
    TaskFinished,
    TaskOutcome,
    TaskProgress,
    TaskRejected,
    TaskRequest,
)
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.standard import BatteryState
from robotfleet_nodes.msg import WorkOrder, WorkOrderUpdate
from robotfleet_nodes.qos import QOS_DEFAULT, QOS_SENSOR_DATA

if TYPE_CHECKING:
    from robotfleet_nodes.action import ActionClient, ClientGoalHandle
    from robotfleet_nodes.node.context import Context
    from robotfleet_nodes.node.node import Node
    from robotfleet_nodes.node.publisher import Publisher
    from robotfleet_nodes.transport import Transport

__all__ = ["BRIDGE_NODE_NAME", "DdsBridgeDriver", "battery_percent", "pose_from"]

log = logging.getLogger(__name__)

#: Name of the driver's node on the robot's bus (in ``dds.namespace``).
BRIDGE_NODE_NAME = "fleet_bridge"

_ORIGIN = Pose2D(0.0, 0.0, 0.0)
_CHARGING = 1  # sensor_msgs/BatteryState.POWER_SUPPLY_STATUS_CHARGING
_HEALTH: dict[
    int, tuple[str, ErrorLevel]
] = {  # sensor_msgs/BatteryState.POWER_SUPPLY_HEALTH_* -> (code, level)
    2: ("BATTERY_OVERHEAT", "WARNING"),
    3: ("BATTERY_DEAD", "FATAL"),
    4: ("BATTERY_OVERVOLTAGE", "WARNING"),
    5: ("BATTERY_UNSPEC_FAILURE", "WARNING"),
    6: ("BATTERY_COLD", "WARNING"),
    7: ("BATTERY_WATCHDOG_TIMER_EXPIRE", "WARNING"),
    8: ("BATTERY_SAFETY_TIMER_EXPIRE", "WARNING"),
}
# robotfleet_nodes/msg/WorkOrder.STATE_*
_ASSIGNED, _EXECUTING, _COMPLETED, _FAILED, _CANCELLED = 2, 3, 4, 5, 6
_SUCCEEDED = 4  # action_msgs/msg/GoalStatus.STATUS_SUCCEEDED


class _Malformed(ValueError):
    """A sample that decoded but makes no sense; the message says why."""


def battery_percent(msg: BatteryState) -> float | None:
    """State of charge [%] of a ``sensor_msgs/msg/BatteryState``; None when unknown.

    A ``percentage`` in (1, 100] is taken as percent already (some drivers send that).

    Raises:
        ValueError: ``percentage`` is negative or above 100.
    """
    p = float(msg.percentage)
    if math.isnan(p):
        charge, capacity = float(msg.charge), float(msg.capacity)
        if math.isfinite(charge) and math.isfinite(capacity) and capacity > 0 and charge >= 0:
            return min(100.0, 100.0 * charge / capacity)
        return None
    if 0.0 <= p <= 1.0:
        return 100.0 * p
    if 1.0 < p <= 100.0:
        return p
    raise _Malformed(f"percentage {p!r} is not within 0..1")


def _yaw(q: Any) -> float:
    x, y, z, w = float(q.x), float(q.y), float(q.z), float(q.w)
    if not all(math.isfinite(v) for v in (x, y, z, w)):
        raise _Malformed("orientation is not finite")
    if x * x + y * y + z * z + w * w < 1e-12:
        raise _Malformed("orientation is a zero quaternion")
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def pose_from(msg: Any, pose_type: str) -> tuple[Pose2D, float | None]:
    """The planar pose and, for ``Odometry``, the speed [m/s] of a pose message.

    Raises:
        ValueError: non-finite values or a zero quaternion.
    """
    if pose_type == "geometry_msgs/msg/Pose2D":
        x, y, theta = float(msg.x), float(msg.y), float(msg.theta)
        if not _finite(x, y, theta):
            raise _Malformed("pose is not finite")
        return Pose2D(x, y, theta), None
    speed: float | None = None
    if pose_type == "nav_msgs/msg/Odometry":
        pose = msg.pose.pose
        linear = msg.twist.twist.linear
        speed = math.hypot(float(linear.x), float(linear.y))
        if not math.isfinite(speed):
            raise _Malformed("twist is not finite")
    elif pose_type == "geometry_msgs/msg/PoseWithCovarianceStamped":
        pose = msg.pose.pose
    else:  # geometry_msgs/msg/PoseStamped
        pose = msg.pose
    x, y = float(pose.position.x), float(pose.position.y)
    if not _finite(x, y):
        raise _Malformed("position is not finite")
    return Pose2D(x, y, _yaw(pose.orientation)), speed


@dataclass(slots=True)
class _Order:
    """The order being handed to / executed by the robot."""

    request: TaskRequest
    progress: float = 0.0
    goal: ClientGoalHandle | None = None
    cancelled: bool = False  #: cancel_task() came while the goal was still in flight
    reported: asyncio.Event = field(default_factory=asyncio.Event)  #: topic mode: robot reported
    runner: asyncio.Task[Any] | None = None  #: hands the order to the robot and follows it


class DdsBridgeDriver(SnapshotDriver):
    """One ROS 2 robot on its DDS bus (see the module docstring for the mapping).

    Args:
        robot_id: the fleet's id of the robot.
        config: the ``dds:`` section of the edge's config.
        transport: the DDS transport to use (tests); default a ``DdsTransport`` on
            ``config.domain_id``, created by :meth:`start`.
        clock: monotonic seconds, the clock ``step(now)`` is called with (tests).

    Raises:
        DdsUnavailable: cyclonedds is not installed (the message has the install hint).
    """

    kind = "dds"

    def __init__(
        self,
        robot_id: str,
        config: DdsDriverConfig | None = None,
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import robotfleet_nodes.transport.dds  # noqa: F401 - fail now, with the install hint

        super().__init__(robot_id)
        self._cfg = config if config is not None else DdsDriverConfig()
        self._given_transport = transport
        self._transport: Transport | None = None
        self._clock = clock
        from robotfleet_nodes.action import ExecuteTask

        self._action = ExecuteTask
        self._work_order_cls = WorkOrder
        self._context: Context | None = None
        self._node: Node | None = None
        self._client: ActionClient | None = None
        self._order_pub: Publisher[WorkOrder] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        # what the robot said
        self._last_heard: float | None = None
        self._offline = True
        self._pose = _ORIGIN
        self._velocity = 0.0
        self._battery = round(self._cfg.battery_unknown_percent, 1)
        self._charging = False
        self._errors: tuple[DriverError, ...] = ()
        self._order: _Order | None = None
        self._malformed: dict[str, int] = {}
        self._percent_scale_warned = False

    # -- RobotDriver -------------------------------------------------------------------
    @property
    def config(self) -> DdsDriverConfig:
        """The ``dds:`` settings this driver was built with."""
        return self._cfg

    @property
    def node(self) -> Node | None:
        """The driver's node on the robot's bus (None before :meth:`start`)."""
        return self._node

    @property
    def malformed(self) -> int:
        """Samples ignored because their content made no sense (see the module docstring)."""
        return sum(self._malformed.values())

    def _snapshot(self, seq: int) -> DriverStatus:
        order = self._order
        return DriverStatus(
            seq=seq,
            pose=self._pose,
            battery_percent=self._battery,
            charging=self._charging,
            state=self._state(),
            mode=OperatingMode.AUTOMATIC,
            current_task_id=order.request.task_id if order is not None else None,
            progress=order.progress if order is not None else 0.0,
            velocity=self._velocity,
            errors=self._errors,
        )

    def start_task(self, req: TaskRequest) -> None:
        """Accept ``req`` and hand it to the robot in the background (see the module docstring).

        Raises:
            DriverBusy: an order is running.
            DriverRejected: the robot is OFFLINE or in ERROR, the driver is not started,
                or the request is invalid.
        """
        if not req.task_id:
            raise TaskRejected("task_id must not be empty")
        if self._node is None:
            raise DriverRejected(f"robot {self._id}: the DDS bridge is not started")
        if self._offline:
            raise DriverRejected(
                f"robot {self._id} is OFFLINE: nothing on its DDS topics for "
                f"{self._cfg.offline_timeout_s:g} s (is its ROS 2 stack running on "
                f"domain {self._cfg.domain_id}?)"
            )
        self._refuse_unless_free(self._errors, self._order.request.task_id if self._order else None)
        target = req.target
        if target is not None and not _finite(target.x, target.y, target.theta):
            raise TaskRejected(f"task {req.task_id!r}: target must be finite, got {target}")
        order = self._order = _Order(req)
        self._dirty = True
        runner = self._run_goal(order) if self._cfg.orders == "action" else self._run_topic_order(order)
        order.runner = self._spawn(runner)

    def cancel_task(self, task_id: str) -> bool:
        """End ``task_id`` now ("cancelled") and ask the robot to stop it, in the background."""
        order = self._order
        if order is None or order.request.task_id != task_id:
            return False
        self._finish(order, False, "cancelled")
        self._cancel_on_robot(order)
        return True

    def step(self, now: float) -> list[DriverEvent]:
        """Check the robot's liveness at ``now``; return the events since the previous step."""
        last = self._last_heard
        if not self._offline and last is not None and now - last > self._cfg.offline_timeout_s:
            self._go_offline()
        events = self._pending
        return self._step_result(events)

    async def start(self) -> None:
        """Join the robot's DDS domain and create the node, subscriptions and order channel."""
        if self._node is not None:
            return
        if self._closed:
            raise RuntimeError(f"robot {self._id}: the DDS bridge is closed")
        from robotfleet_nodes.action import ActionClient
        from robotfleet_nodes.node.context import Context
        from robotfleet_nodes.node.node import Node
        from robotfleet_nodes.transport.dds import DdsTransport

        cfg = self._cfg
        transport = self._given_transport or DdsTransport(cfg.domain_id)
        self._transport = transport
        context = self._context = Context(transport=transport, enable_rosout=False)
        try:
            await context.start()
            node = Node(
                BRIDGE_NODE_NAME,
                context=context,
                namespace=cfg.namespace or "/",
                use_global_arguments=False,
                start_parameter_services=False,
                start_parameter_event_publisher=False,
            )
            await node.start()
            self._node = node
            registry = default_registry()
            if cfg.battery_topic:
                await node.create_subscription(
                    BatteryState, cfg.battery_topic, self._on_battery, QOS_SENSOR_DATA
                )
            if cfg.pose_topic:
                pose_cls = registry.get_class(cfg.pose_type)
                await node.create_subscription(pose_cls, cfg.pose_topic, self._on_pose, QOS_SENSOR_DATA)
            if cfg.orders == "action":
                self._client = await ActionClient.create(node, self._action, cfg.action_name)
            else:
                self._order_pub = await node.create_publisher(
                    self._work_order_cls, cfg.order_topic, QOS_DEFAULT
                )
                if cfg.order_status_topic:
                    await node.create_subscription(
                        WorkOrderUpdate, cfg.order_status_topic, self._on_order_status, QOS_DEFAULT
                    )
        except BaseException:
            await self.close()
            raise
        log.info(
            "%s: DDS bridge on domain %d as %s (orders via %s %s)",
            self._id,
            cfg.domain_id,
            node.get_fully_qualified_name(),
            cfg.orders,
            node.resolve_name(cfg.action_name if cfg.orders == "action" else cfg.order_topic),
        )

    async def close(self) -> None:
        """Leave the robot's bus: background work, node, context and transport; idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.destroy()
            self._client = None
        if self._node is not None:
            await self._node.destroy_node()
            self._node = None
        if self._context is not None:
            await self._context.close()
            self._context = None
        if self._transport is not None and self._given_transport is None:
            await self._transport.close()
        self._transport = None
        self._order_pub = None

    # -- the robot's topics ----------------------------------------------------------------
    def _heard(self) -> None:
        self._last_heard = self._clock()
        if self._offline:
            self._offline = False
            self._dirty = True
            log.info("%s: robot is on the DDS bus", self._id)

    def _bad(self, topic: str, reason: object) -> None:
        count = self._malformed.get(topic, 0) + 1
        self._malformed[topic] = count
        if count == 1:
            log.warning("%s: ignoring a malformed message on %s: %s (logged once)", self._id, topic, reason)
        else:
            log.debug("%s: malformed message #%d on %s: %s", self._id, count, topic, reason)

    def _on_battery(self, msg: BatteryState) -> None:
        self._heard()
        try:
            percent = battery_percent(msg)
        except (ValueError, TypeError) as exc:
            self._bad(self._cfg.battery_topic, exc)
            return
        if percent is not None and msg.percentage > 1.0 and not self._percent_scale_warned:
            self._percent_scale_warned = True
            log.warning(
                "%s: %s: percentage %r is above 1: taken as percent (ROS 2 says 0..1; logged once)",
                self._id,
                self._cfg.battery_topic,
                msg.percentage,
            )
        if percent is not None:
            battery = round(percent, 1)
            if battery != self._battery:
                self._battery = battery
                self._dirty = True
        charging = int(msg.power_supply_status) == _CHARGING
        if charging != self._charging:
            self._charging = charging
            self._dirty = True
        health = _HEALTH.get(int(msg.power_supply_health))
        errors: tuple[DriverError, ...] = ()
        if health is not None:
            code, level = health
            what = code.removeprefix("BATTERY_").lower()
            errors = (DriverError(code, level, f"battery health: {what} (from {self._cfg.battery_topic})"),)
        if errors != self._errors:
            self._errors = errors
            self._dirty = True

    def _on_pose(self, msg: Any) -> None:
        self._heard()
        try:
            pose, speed = pose_from(msg, self._cfg.pose_type)
        except (ValueError, TypeError, AttributeError) as exc:
            self._bad(self._cfg.pose_topic, exc)
            return
        rounded = Pose2D(round(pose.x, 3), round(pose.y, 3), round(pose.theta, 3))
        if rounded != self._pose:
            self._pose = rounded
            self._dirty = True
        if speed is not None:
            velocity = round(speed, 2)
            if velocity != self._velocity:
                self._velocity = velocity
                self._dirty = True

    def _on_order_status(self, msg: WorkOrderUpdate) -> None:
        self._heard()
        order = self._order
        if order is None or msg.order_id != order.request.task_id:
            log.debug("%s: report on unknown order %r ignored", self._id, msg.order_id)
            return
        order.reported.set()
        state = int(msg.state)
        if state == _EXECUTING:
            self._progress(order, float(msg.progress))
        elif state == _COMPLETED:
            self._finish(order, True, msg.note or "completed")
        elif state == _FAILED:
            self._finish(order, False, msg.note or "failed on the robot")
        elif state == _CANCELLED:
            self._finish(order, False, f"cancelled on the robot{': ' + msg.note if msg.note else ''}")
        elif state > _CANCELLED:
            self._bad(self._cfg.order_status_topic, f"unknown order state {state}")

    # -- orders ----------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _progress(self, order: _Order, value: float) -> None:
        if order is not self._order or not math.isfinite(value):
            return
        value = min(max(value, 0.0), 1.0)
        if value > order.progress:
            order.progress = value
            self._dirty = True
            self._emit(TaskProgress(order.request.task_id, value))

    def _finish(self, order: _Order, success: bool, message: str, final: Pose2D | None = None) -> None:
        """Report ``order`` finished, once; later outcomes of the same order are ignored."""
        if order is not self._order:
            return
        if success and order.progress < 1.0:
            order.progress = 1.0
            self._emit(TaskProgress(order.request.task_id, 1.0))
        self._emit(TaskFinished(TaskOutcome(order.request.task_id, success, message, final or self._pose)))
        self._order = None
        self._dirty = True
        if not success:
            log.info("%s: task %s ended: %s", self._id, order.request.task_id, message)

    def _go_offline(self) -> None:
        self._offline = True
        self._dirty = True
        timeout = self._cfg.offline_timeout_s
        log.warning("%s: nothing from the robot on DDS for %g s: OFFLINE", self._id, timeout)
        order = self._order
        if order is not None:
            self._finish(order, False, f"robot went offline (no DDS messages for {timeout:g} s)")
            if order.runner is not None:
                order.runner.cancel()  # a dead robot never answers get_result
            self._cancel_on_robot(order)

    def _state(self) -> RobotState:
        if self._offline:
            return RobotState.OFFLINE
        if any(e.level == "FATAL" for e in self._errors):
            return RobotState.ERROR
        if self._order is not None:
            return RobotState.EXECUTING
        return RobotState.CHARGING if self._charging else RobotState.IDLE

    def _cancel_on_robot(self, order: _Order) -> None:
        if self._cfg.orders == "action":
            if order.goal is not None:
                self._spawn(self._cancel_goal(order.goal, order.request.task_id))
            else:
                order.cancelled = True  # _run_goal cancels it once the goal is accepted
        elif self._order_pub is not None:
            self._spawn(self._write_order(order.request, _CANCELLED))

    async def _cancel_goal(self, goal: ClientGoalHandle, task_id: str) -> None:
        try:
            await goal.cancel_goal()
        except Exception as exc:
            log.warning("%s: could not cancel the goal of task %s on the robot: %s", self._id, task_id, exc)

    async def _run_goal(self, order: _Order) -> None:
        """Send ``order`` as a goal, follow it, report its outcome (action mode)."""
        client = self._client
        cfg = self._cfg
        req = order.request
        assert client is not None
        try:
            if not await client.wait_for_server(timeout=cfg.server_wait_s):
                name = self._node.resolve_name(cfg.action_name) if self._node is not None else cfg.action_name
                self._finish(
                    order,
                    False,
                    f"no action server {name} on DDS domain {cfg.domain_id} within {cfg.server_wait_s:g} s",
                )
                return
            target = req.target
            goal = self._action.Goal(
                order_id=req.task_id,
                task=req.task,
                has_target=target is not None,
                target_x=target.x if target is not None else 0.0,
                target_y=target.y if target is not None else 0.0,
                priority=min(max(req.priority, 0), 9),
            )
            handle = await client.send_goal(goal, feedback_callback=lambda m: self._on_feedback(order, m))
            if not handle.accepted:
                self._finish(order, False, "the robot rejected the goal")
                return
            order.goal = handle
            if order.cancelled or order is not self._order:
                await self._cancel_goal(handle, req.task_id)
                return
            response = await handle.get_result()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._finish(order, False, f"goal failed: {exc}")
            return
        result = response.result
        success = int(response.status) == _SUCCEEDED and bool(result.success)
        message = result.message or (
            "completed" if success else f"goal ended with status {int(response.status)}"
        )
        final = result.final_pose
        pose = Pose2D(final.x, final.y, final.theta) if _finite(final.x, final.y, final.theta) else None
        self._finish(order, success, message, pose)

    def _on_feedback(self, order: _Order, message: Any) -> None:
        self._heard()
        self._progress(order, float(message.feedback.progress))

    async def _write_order(self, req: TaskRequest, state: int) -> None:
        from robotfleet_nodes.fleet.protocol import now_stamp

        pub = self._order_pub
        if pub is None:
            return
        target = req.target
        stamp = now_stamp()
        msg = self._work_order_cls(
            id=req.task_id,
            robot_id=self._id,
            task=req.task,
            priority=min(max(req.priority, 0), 9),
            has_target=target is not None,
            target_x=target.x if target is not None else 0.0,
            target_y=target.y if target is not None else 0.0,
            state=state,
            created=stamp,
            updated=stamp,
        )
        await pub.publish(msg)

    async def _run_topic_order(self, order: _Order) -> None:
        """Write ``order`` on ``order_topic``; wait for the robot's first report (topic mode)."""
        cfg = self._cfg
        try:
            await self._write_order(order.request, _ASSIGNED)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._finish(order, False, f"could not write the order on {cfg.order_topic}: {exc}")
            return
        if not cfg.order_status_topic:
            self._finish(
                order, True, f"written on {cfg.order_topic} (no order_status_topic: outcome not reported)"
            )
            return
        try:
            await asyncio.wait_for(order.reported.wait(), cfg.order_ack_timeout_s)
        except TimeoutError:
            self._finish(
                order,
                False,
                f"the robot did not report on {cfg.order_status_topic} within {cfg.order_ack_timeout_s:g} s",
            )
