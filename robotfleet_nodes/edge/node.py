"""``EdgeNode``: one robot on the fleet's bus (``/robots/<robot_id>/edge``).

The edge owns one :class:`~robotfleet_nodes.edge.driver.RobotDriver` (the simulator by
default) and offers, as ``docs/fleet.md`` describes:

- ``/robots/<robot_id>/status`` (``RobotStatus``): every ``1 / status_rate_hz`` seconds as
  a heartbeat, and at once when the driver reports a change (at most one per step). While
  the driver is OFFLINE nothing is published, so the zone sees the heartbeats stop.
- action ``/robots/<robot_id>/execute`` (``ExecuteTask``): a goal starts a task on the
  driver (a refusal rejects the goal and logs why), feedback follows the task's progress,
  the result is the task's outcome, a cancel stops the task. A second goal for the order
  being executed is rejected, so an order never runs twice on one robot.

Cost per edge (thousands of edges may share one process): no timer and no task of its own
while idle. The edges of one context that share a step period are stepped by one timer
(:class:`_Stepper`): an idle edge is stepped once per status period, a busy one every step
period, and the status messages of one pass are published together by one task, so the
connection writes them to the broker in one go instead of one system call per robot. The
action status topic is VOLATILE (a transient-local topic costs a JetStream subject each).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from robotfleet_nodes.action import ActionServer, CancelResponse, ExecuteTask, GoalResponse, ServerGoalHandle
from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.edge.driver import (
    DriverStatus,
    OperatingMode,
    Pose2D,
    RobotDriver,
    RobotDriverError,
    RobotState,
    StatusChanged,
    TaskFinished,
    TaskOutcome,
    TaskProgress,
    TaskRequest,
)
from robotfleet_nodes.edge.sim import SimConfig, SimulatedRobot
from robotfleet_nodes.fleet.protocol import now_stamp, robot_name
from robotfleet_nodes.idl import standard
from robotfleet_nodes.msg import RobotError, RobotStatus
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.node.timer import Timer
from robotfleet_nodes.qos import QoSProfile

__all__ = ["DEFAULT_STEP_PERIOD_S", "STATUS_QOS", "EdgeNode", "driver_from_config"]

log = logging.getLogger(__name__)

#: How often the driver is stepped when ``status_rate_hz`` does not ask for more [s].
DEFAULT_STEP_PERIOD_S = 0.2
#: QoS of the robot's status topic and of the action's goal-status topic (volatile, depth 1).
STATUS_QOS = QoSProfile(depth=1)

_STATES: dict[RobotState, int] = {
    RobotState.IDLE: 0,
    RobotState.EXECUTING: 1,
    RobotState.CHARGING: 2,
    RobotState.ERROR: 3,
    RobotState.OFFLINE: 4,
}
_MODES: dict[OperatingMode, int] = {
    OperatingMode.AUTOMATIC: 0,
    OperatingMode.SEMIAUTOMATIC: 1,
    OperatingMode.MANUAL: 2,
    OperatingMode.SERVICE: 3,
    OperatingMode.TEACHIN: 4,
}
_FEEDBACK_FINISHING_AT = 0.999  # progress from which feedback reports FINISHING


def driver_from_config(config: EdgeConfig) -> RobotDriver:
    """The driver ``config`` asks for: a :class:`SimulatedRobot` for ``driver: sim``, a
    :class:`~robotfleet_nodes.edge.dds_bridge.DdsBridgeDriver` for ``driver: dds``.

    Raises:
        DdsUnavailable: ``driver: dds`` without cyclonedds installed (says how to install it).
    """
    if config.driver == "dds":
        from robotfleet_nodes.edge.dds_bridge import DdsBridgeDriver  # DDS is an optional extra

        return DdsBridgeDriver(config.robot_id, config.dds)
    sim = config.sim
    kwargs = sim.sim_kwargs()
    dock = sim.dock
    kwargs["dock"] = Pose2D(dock.x, dock.y, dock.theta)
    kwargs["work_time_s"] = dict(sim.work_time_s)
    kwargs["area"] = tuple(sim.area)
    start = sim.start_pose
    return SimulatedRobot(
        config.robot_id,
        SimConfig(**kwargs),  # type: ignore[arg-type]
        Pose2D(start.x, start.y, start.theta) if start is not None else _parking_spot(config),
        battery_percent=sim.battery_start_percent,
    )


def _parking_spot(config: EdgeConfig) -> Pose2D:
    """Where a simulated robot without ``sim.start_pose`` starts: a spot of its own in ``sim.area``.

    Derived from the robot id (stable across restarts), so a fleet does not start with
    every robot stacked on the dock.
    """
    digest = hashlib.blake2b(config.robot_id.encode(), digest_size=8).digest()
    fx = int.from_bytes(digest[:4], "little") / 2**32
    fy = int.from_bytes(digest[4:], "little") / 2**32
    x0, y0, x1, y1 = config.sim.area
    return Pose2D(x0 + fx * (x1 - x0), y0 + fy * (y1 - y0), 0.0)


class _Stepper:
    """Steps every edge of one context with the same step period, from one timer.

    Each pass steps the edges that are due (see ``EdgeNode._due``) and publishes the status
    messages the pass produced from one task, one after the other: they reach the broker
    in one write. Edges join with :meth:`add` and leave with :meth:`remove`; the timer
    stops when the last one leaves.
    """

    def __init__(self, period: float) -> None:
        self.period = period
        self._edges: dict[EdgeNode, None] = {}  # insertion-ordered set
        self._timer: Timer | None = None
        self._batch: list[tuple[EdgeNode, DriverStatus]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._edges)

    @property
    def batch(self) -> list[tuple[EdgeNode, DriverStatus]] | None:
        """Status messages of the pass running now (``None`` outside a pass)."""
        return self._batch

    def add(self, edge: EdgeNode) -> None:
        self._edges[edge] = None
        if self._timer is None:
            self._timer = Timer(self.period, self._step, name=f"edge stepper {self.period:g}s")

    def remove(self, edge: EdgeNode) -> None:
        self._edges.pop(edge, None)
        if not self._edges and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _step(self) -> None:
        now = time.monotonic()
        batch: list[tuple[EdgeNode, DriverStatus]] = []
        self._batch = batch
        try:
            for edge in list(self._edges):
                if now >= edge._due:
                    try:
                        edge._tick(now)
                    except Exception:
                        log.exception("%s: stepping the driver failed", edge.robot_id)
        finally:
            self._batch = None
        if batch:
            task = asyncio.ensure_future(self._publish(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _publish(batch: list[tuple[EdgeNode, DriverStatus]]) -> None:
        for edge, status in batch:
            await edge._publish_status(status)


#: context -> step period -> the stepper of that context's edges with that period.
_STEPPERS: weakref.WeakKeyDictionary[Context, dict[float, _Stepper]] = weakref.WeakKeyDictionary()


def _stepper_for(context: Context, period: float) -> _Stepper:
    steppers = _STEPPERS.setdefault(context, {})
    stepper = steppers.get(period)
    if stepper is None:
        stepper = steppers[period] = _Stepper(period)
    return stepper


def _release_stepper(context: Context, stepper: _Stepper, edge: EdgeNode) -> None:
    stepper.remove(edge)
    steppers = _STEPPERS.get(context)
    if not stepper and steppers is not None and steppers.get(stepper.period) is stepper:
        del steppers[stepper.period]


@dataclass(slots=True)
class _Task:
    """The goal being executed: its order, the driver's outcome once known, its handle."""

    order_id: str
    done: asyncio.Future[TaskOutcome]
    handle: ServerGoalHandle | None = None
    progress: float = 0.0
    feedback: set[asyncio.Task[Any]] = field(default_factory=set)


class EdgeNode(Node):
    """The edge of one robot: status publisher and ``execute`` action server.

    Args:
        config: the robot's configuration (``robot_id``, ``zone_id``, ``status_rate_hz``,
            driver settings).
        context: the context to run in (many edges may share one).
        driver: the robot; default :func:`driver_from_config` (the simulator).
        step_period_s: how often the driver is stepped; default the smaller of
            :data:`DEFAULT_STEP_PERIOD_S` and the status period.
        cli_args: this node's own ``--ros-args``.
    """

    def __init__(
        self,
        config: EdgeConfig,
        *,
        context: Context,
        driver: RobotDriver | None = None,
        step_period_s: float | None = None,
        cli_args: Sequence[str] | None = None,
    ) -> None:
        super().__init__("edge", context=context, namespace=robot_name(config.robot_id), cli_args=cli_args)
        self.config = config
        self.robot_id = config.robot_id
        self.driver: RobotDriver = driver if driver is not None else driver_from_config(config)
        self._status_period = 1.0 / config.status_rate_hz
        self._step_period = step_period_s or min(DEFAULT_STEP_PERIOD_S, self._status_period)
        self._idle_step_period = max(self._step_period, self._status_period)
        self._status_cls = RobotStatus
        self._error_cls = RobotError
        self._pose_cls = standard.Pose2D
        self._action = ExecuteTask
        self._status_pub: Publisher[RobotStatus] | None = None
        self._server: ActionServer | None = None
        self._stepper: _Stepper | None = None
        #: monotonic time from which the stepper steps this edge again
        self._due = float("inf")
        self._task: _Task | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = 0
        self._last_status_at = -float("inf")
        self._publishing = False
        self._republish = False
        self._offline = False

    # -- life --------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Start the driver, create the status publisher, the action server and the timer."""
        await self.driver.start()
        self._status_pub = await self.create_publisher(self._status_cls, "status", STATUS_QOS)
        self._server = await ActionServer.create(
            self,
            self._action,
            "execute",
            self._execute,
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
            status_qos=STATUS_QOS,
        )
        now = time.monotonic()
        self.driver.step(now)  # sets the driver's clock
        self._due = now + self._step_period - self._step_period / 2
        self._stepper = _stepper_for(self.context, self._step_period)
        self._stepper.add(self)
        if self.driver.status.state is not RobotState.OFFLINE:  # an OFFLINE robot stays silent
            self._send_status(self.driver.status)
        self.get_logger().info("%s: edge up (zone %s)", self.robot_id, self.config.zone_id)

    async def destroy_node(self) -> None:
        """Stop stepping and the action server (a running task is aborted), close the driver."""
        if self._stepper is not None:
            _release_stepper(self.context, self._stepper, self)
            self._stepper = None
        self._due = float("inf")
        if self._server is not None:
            await self._server.destroy()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._status_pub = None
        await super().destroy_node()
        await self.driver.close()

    @property
    def current_order_id(self) -> str:
        """The order being executed; empty when none."""
        return self._task.order_id if self._task is not None else ""

    # -- stepping ------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        """Step the driver; publish status on change (coalesced) or when the heartbeat is due."""
        changed: DriverStatus | None = None
        for event in self.driver.step(now):
            if isinstance(event, StatusChanged):
                changed = event.status
            elif isinstance(event, TaskProgress):
                self._on_progress(event)
            elif isinstance(event, TaskFinished):
                self._on_finished(event.outcome)
        status = changed if changed is not None else self.driver.status
        offline = status.state is RobotState.OFFLINE
        if offline != self._offline:
            self._offline = offline
            if offline:
                self.get_logger().warning("%s: robot is OFFLINE; status publishing paused", self.robot_id)
            else:
                self.get_logger().info("%s: robot is back online", self.robot_id)
        # The stepper's passes fall on its own grid: half a step of slack keeps an edge
        # due every `period` from slipping to the pass after.
        slack = self._step_period / 2
        idle = status.state is RobotState.IDLE and self._task is None
        if offline:
            self._due = now + self._step_period - slack
            return
        if changed is not None or now - self._last_status_at >= self._status_period - slack:
            self._send_status(status)
        # An idle robot changes only slowly (battery): step it once per status period, and
        # fast again as soon as it has work (see _on_goal).
        self._due = now + (self._idle_step_period if idle else self._step_period) - slack

    def _step_soon(self) -> None:
        """Step this edge in the stepper's next pass (it has work now)."""
        if self._stepper is not None:
            self._due = 0.0

    def _send_status(self, status: DriverStatus) -> None:
        self._last_status_at = time.monotonic()
        if self._publishing:  # one publish at a time; the latest snapshot goes out next
            self._republish = True
            return
        self._publishing = True
        batch = self._stepper.batch if self._stepper is not None else None
        if batch is not None:  # in a stepper pass: published with the pass's other messages
            batch.append((self, status))
        else:
            self._spawn(self._publish_status(status))

    async def _publish_status(self, status: DriverStatus) -> None:
        try:
            while True:
                if self._status_pub is None:
                    return
                try:
                    await self._status_pub.publish(self._status_msg(status))
                except Exception:
                    log.warning("%s: could not publish status", self.robot_id, exc_info=True)
                if not self._republish:
                    return
                self._republish = False
                status = self.driver.status
        finally:
            self._publishing = False

    def _status_msg(self, status: DriverStatus) -> RobotStatus:
        self._seq += 1
        pose = status.pose
        return self._status_cls(
            robot_id=self.robot_id,
            zone_id=self.config.zone_id,
            stamp=now_stamp(),
            seq=self._seq,
            pose=self._pose_cls(x=pose.x, y=pose.y, theta=pose.theta),
            driving=status.velocity > 0.0,
            linear_velocity=status.velocity,
            battery_percent=status.battery_percent,
            charging=status.charging,
            operating_mode=_MODES[status.mode],
            state=_STATES[status.state],
            current_order_id=status.current_task_id or "",
            order_progress=status.progress,
            errors=[
                self._error_cls(code=e.code, level=1 if e.level == "FATAL" else 0, description=e.description)
                for e in status.errors
            ],
        )

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the execute action --------------------------------------------------------------
    def _on_goal(self, goal: ExecuteTask.Goal) -> GoalResponse:
        """Log the command, refuse duplicates, start the task on the driver."""
        target = f"({goal.target_x}, {goal.target_y})" if goal.has_target else "auto"
        self.get_logger().info(
            "%s: received work order %s (task=%s, target=%s)", self.robot_id, goal.order_id, goal.task, target
        )
        running = self._task
        if running is not None and running.order_id == goal.order_id:
            self.get_logger().warning(
                "%s: rejected work order %s: already executing it", self.robot_id, goal.order_id
            )
            return GoalResponse.REJECT
        request = TaskRequest(
            task_id=goal.order_id,
            task=goal.task,
            target=Pose2D(goal.target_x, goal.target_y, 0.0) if goal.has_target else None,
            priority=int(goal.priority),
        )
        try:
            self.driver.start_task(request)
            self._step_soon()
        except RobotDriverError as exc:
            self.get_logger().warning("%s: rejected work order %s: %s", self.robot_id, goal.order_id, exc)
            return GoalResponse.REJECT
        self._task = _Task(goal.order_id, asyncio.get_running_loop().create_future())
        self._send_status(self.driver.status)  # EXECUTING, at once
        return GoalResponse.ACCEPT

    def _on_cancel(self, handle: ServerGoalHandle) -> CancelResponse:
        order_id = handle.request.order_id
        if self.driver.cancel_task(order_id):
            self.get_logger().info("%s: cancelling work order %s", self.robot_id, order_id)
            return CancelResponse.ACCEPT
        return CancelResponse.REJECT

    async def _execute(self, handle: ServerGoalHandle) -> ExecuteTask.Result:
        """Wait for the driver's outcome of the goal's task and end the goal with it."""
        task = self._task
        order_id = handle.request.order_id
        if task is None or task.order_id != order_id:  # finished before the goal was handed over
            handle.abort()
            return self._action.Result(success=False, message="task ended before execution began")
        task.handle = handle
        try:
            outcome = await task.done
        finally:
            if self._task is task:
                self._task = None
        if task.feedback:
            await asyncio.gather(*task.feedback, return_exceptions=True)
        final = outcome.final_pose
        result = self._action.Result(
            success=outcome.success,
            message=outcome.message,
            final_pose=self._pose_cls(x=final.x, y=final.y, theta=final.theta),
        )
        if outcome.success:
            handle.succeed()
        elif handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.abort()
        self.get_logger().info(
            "%s: work order %s %s%s",
            self.robot_id,
            order_id,
            "completed" if outcome.success else "ended",
            "" if outcome.success else f": {outcome.message}",
        )
        return result

    def _on_progress(self, event: TaskProgress) -> None:
        task = self._task
        if task is None or task.order_id != event.task_id:
            return
        task.progress = event.progress
        handle = task.handle
        if handle is None or not handle.is_active:
            return
        status = self.driver.status
        pose = status.pose
        if event.progress >= _FEEDBACK_FINISHING_AT:
            state = self._action.Feedback.STATE_FINISHING
        elif status.velocity > 0.0:
            state = self._action.Feedback.STATE_DRIVING
        else:
            state = self._action.Feedback.STATE_WORKING
        feedback = self._action.Feedback(
            progress=event.progress, pose=self._pose_cls(x=pose.x, y=pose.y, theta=pose.theta), state=state
        )
        t = self._spawn(self._publish_feedback(handle, feedback))
        task.feedback.add(t)
        t.add_done_callback(task.feedback.discard)

    async def _publish_feedback(self, handle: ServerGoalHandle, feedback: ExecuteTask.Feedback) -> None:
        try:
            await handle.publish_feedback(feedback)
        except Exception:
            log.debug("%s: feedback not published", self.robot_id, exc_info=True)

    def _on_finished(self, outcome: TaskOutcome) -> None:
        task = self._task
        if task is None or task.order_id != outcome.task_id:
            log.debug("%s: outcome of unknown task %s ignored", self.robot_id, outcome.task_id)
            return
        if not task.done.done():
            task.done.set_result(outcome)
