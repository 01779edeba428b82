"""``EdgeNode``: one robot on the fleet's bus (``/robots/<robot_id>/edge``).

The edge owns one :class:`~robotfleet_nodes.edge.driver.RobotDriver` (the simulator by
default) and offers, as ``docs/fleet.md`` describes:

- ``/robots/<robot_id>/status`` (``RobotStatus``): every ``1 / status_rate_hz`` seconds as
  a heartbeat, and at once when the driver reports a change (at most one per step). While
  the driver is OFFLINE nothing is published, so the zone sees the heartbeats stop.
- action ``/robots/<robot_id>/execute`` (``ExecuteTask``): every goal is accepted; one the
  robot will not run ends at once with ``refused`` saying why (REFUSED_DONE: this robot
  already did the order; REFUSED_STALE: it knows the order at the goal's attempt or later,
  started, ended or fenced; REFUSED_ROBOT: busy, battery, ERROR/OFFLINE, mode;
  REFUSED_ORDER: the request itself is bad). Otherwise the start is written to the robot's
  :class:`~robotfleet_nodes.edge.journal.ExecutionJournal` (durable) before the driver
  starts the task, feedback follows the task's progress, the end is journaled (durable)
  before the result is sent, a cancel stops the task. A goal with ``attempt`` 0 comes from a
  zone without fencing tokens: it is rejected when refused, as before, and not fenced.
- execution leases (``lease_s`` > 0 in the goal): the task runs while the zone renews the
  lease (``LeaseRenewal`` on ``/zones/<zone_id>/leases``, one subscription per context and
  zone); at its end the edge applies ``on_lease_loss`` (PAUSE, STOP, FINISH) and a
  revocation cancels at once (docs/fleet.md, "Leases").
- ``/robots/<robot_id>/journal`` (``GetExecutions``): what the journal says of the asked
  orders; an order it knows nothing of is fenced (durably) before the answer.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from robotfleet_nodes.action import ActionServer, CancelResponse, ExecuteTask, GoalResponse, ServerGoalHandle
from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.edge import _lease
from robotfleet_nodes.edge.driver import (
    DriverEvent,
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
    TaskRejected,
    TaskRequest,
)
from robotfleet_nodes.edge.journal import ExecutionJournal, JournalError, journal_dir
from robotfleet_nodes.edge.sim import SimConfig, SimulatedRobot
from robotfleet_nodes.fleet.protocol import now_stamp, robot_name
from robotfleet_nodes.idl import standard
from robotfleet_nodes.msg import ExecutionRecord, RobotError, RobotStatus
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.node.timer import Timer
from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.srv import GetExecutions

__all__ = ["DEFAULT_STEP_PERIOD_S", "STATUS_QOS", "EdgeNode", "driver_from_config"]

log = logging.getLogger(__name__)

#: How often the driver is stepped when ``status_rate_hz`` does not ask for more [s].
DEFAULT_STEP_PERIOD_S = 0.2
#: A stepper pass this much later than its period means the process was stopped [s].
STOPPED_GAP_S = 2.0
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
_PAUSE, _STOP, _FINISH = 0, 1, 2  # ExecuteTask.Goal.LEASE_LOSS_*
_REFUSED_NONE, _REFUSED_ROBOT, _REFUSED_ORDER, _REFUSED_STALE, _REFUSED_DONE = range(5)
_LOSS_NAMES = {_PAUSE: "pause", _STOP: "stop", _FINISH: "finish"}
#: journal state -> ExecutionRecord state (REFUSED and FENCED: never ran here, UNKNOWN)
_RECORD_STATES = {"RUNNING": 1, "SUCCEEDED": 3, "FAILED": 4, "CANCELLED": 5, "INTERRUPTED": 6}


def _wall_time(monotonic_at: float) -> float:
    """The unix time of the monotonic moment ``monotonic_at`` (for journal records)."""
    return time.time() - (time.monotonic() - monotonic_at)


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
        self._last_pass = time.monotonic()

    def __len__(self) -> int:
        return len(self._edges)

    def catch_up(self, now: float) -> None:
        """If the process did not run for a while (SIGSTOP: no pass for more than
        :data:`STOPPED_GAP_S` beyond the period), tell every driver (``resync``) before
        anything steps it, so a robot stopped with its process does not work in the past."""
        gap = now - self._last_pass - self.period
        self._last_pass = now
        if gap <= STOPPED_GAP_S:
            return
        log.warning("edges did not run for %.1f s (process stopped?): robots go on from where they were", gap)
        for edge in self._edges:
            edge.driver.resync(now)

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
        self.catch_up(now)
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
    """The goal being executed: its order and attempt, the driver's outcome once known, its
    handle, and its lease (``lease_s`` 0: none)."""

    order_id: str
    attempt: int
    done: asyncio.Future[TaskOutcome]
    handle: ServerGoalHandle | None = None
    progress: float = 0.0
    feedback: set[asyncio.Task[Any]] = field(default_factory=set)
    started: bool = False  # the driver runs it (its start is durable in the journal)
    lease_s: float = 0.0
    on_loss: int = _PAUSE
    deadline: float = float("inf")  # monotonic end of the lease
    lost: bool = False  # the lease ran out (and was not renewed since)
    paused: bool = False  # held by the driver after the loss
    resume_seq: int | None = None  # seq of the first status published after the loss
    stop_reason: str = ""  # why the edge (not the zone) ends it: "lease lost", "revoked by zone-1"


@dataclass(frozen=True, slots=True)
class _Refusal:
    """Why a goal is not executed: one of REFUSED_*, the attempt to report, and the message."""

    refused: int
    attempt: int
    message: str
    success: bool = False


class EdgeNode(Node):
    """The edge of one robot: status publisher, ``execute`` action server, execution journal.

    Args:
        config: the robot's configuration (``robot_id``, ``zone_id``, ``status_rate_hz``,
            ``journal_dir``, driver settings).
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
        self._journal: ExecutionJournal | None = None
        self._leasing = False
        #: monotonic time from which the stepper steps this edge again
        self._due = float("inf")
        self._task: _Task | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = 0
        self._last_status_at = -float("inf")
        self._publishing = False
        self._republish = False
        self._offline = False
        self._pause_unsupported_logged = False

    # -- life --------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Open the journal, start the driver, create the status publisher, the action
        server, the journal service, join the zone's lease listener and the stepper."""
        self._journal = await ExecutionJournal.open(self.robot_id, journal_dir(self.config.journal_dir))
        await self.driver.start()
        self._leasing = True  # (leaving a listener not joined is harmless)
        # created together: they share the broker round trips (docs/architecture.md)
        self._status_pub, _, _, self._server = await asyncio.gather(
            self.create_publisher(self._status_cls, "status", STATUS_QOS),
            self.create_service(GetExecutions, "journal", self._on_journal_question),
            _lease.join(self.context, self.config.zone_id, self.robot_id, self),
            ActionServer.create(
                self,
                self._action,
                "execute",
                self._execute,
                goal_callback=self._on_goal,
                cancel_callback=self._on_cancel,
                status_qos=STATUS_QOS,
            ),
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
        """Stop stepping and the action server (a running task is aborted), close the driver
        and the journal (a task that was running is found INTERRUPTED at the next start)."""
        if self._stepper is not None:
            _release_stepper(self.context, self._stepper, self)
            self._stepper = None
        self._due = float("inf")
        if self._leasing:
            self._leasing = False
            await _lease.leave(self.context, self.config.zone_id, self.robot_id)
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
        if self._journal is not None:
            await self._journal.close()

    @property
    def current_order_id(self) -> str:
        """The order being executed; empty when none."""
        return self._task.order_id if self._task is not None else ""

    @property
    def journal(self) -> ExecutionJournal | None:
        """The robot's execution journal (``None`` before :meth:`start`)."""
        return self._journal

    # -- stepping ------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        """Step the driver (only up to a lease's end first, if it passed); publish status on
        change (coalesced) or when the heartbeat is due."""
        changed = self._expire_lease(now)
        stepped = self._handle(self.driver.step(now))
        if stepped is not None:
            changed = stepped
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

    def _handle(self, events: Sequence[DriverEvent]) -> DriverStatus | None:
        """Act on the driver's events; the last status change among them, if any."""
        changed: DriverStatus | None = None
        for event in events:
            if isinstance(event, StatusChanged):
                changed = event.status
            elif isinstance(event, TaskProgress):
                self._on_progress(event)
            elif isinstance(event, TaskFinished):
                self._on_finished(event.outcome)
        return changed

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
        task = self._task
        held = task is not None and task.started and status.current_task_id == task.order_id
        if task is not None and task.paused and task.resume_seq is None:
            task.resume_seq = self._seq  # the first status after the loss: renewals must answer it
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
            current_attempt=task.attempt if held and task is not None else 0,
            paused=held and task is not None and task.paused,
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

    # -- leases --------------------------------------------------------------------------
    def _expire_lease(self, now: float) -> DriverStatus | None:
        """If the running task's lease ended before ``now``: step the driver to its end,
        apply ``on_lease_loss``; the status change that makes, if any."""
        task = self._task
        if task is None or not task.started or task.lost or now < task.deadline:
            return None
        changed = self._handle(self.driver.step(task.deadline))
        if self._task is not task:  # it ended before the lease did
            return changed
        task.lost = True
        loss = task.on_loss
        self.get_logger().warning(
            "%s: lease of work order %s (attempt %d) lost; %s",
            self.robot_id,
            _shown(task.order_id),
            task.attempt,
            _LOSS_NAMES.get(loss, "stop"),
        )
        if loss == _FINISH:
            return changed
        if loss == _PAUSE:
            try:
                if self.driver.pause_task(task.order_id):
                    task.paused = True
                    task.resume_seq = None
                    self._audit(lambda j: j.pause(task.order_id, task.attempt, at=_wall_time(task.deadline)))
                    return self.driver.status  # paused=true goes out at once
            except NotImplementedError:
                if not self._pause_unsupported_logged:
                    self._pause_unsupported_logged = True
                    self.get_logger().warning(
                        "%s: driver %s cannot pause; lease losses stop tasks instead",
                        self.robot_id,
                        type(self.driver).__name__,
                    )
        self._stop(task, "lease lost")
        return changed

    def _audit(self, write: Callable[[ExecutionJournal], asyncio.Future[None]]) -> None:
        """Write an audit record (pause, resume) to the journal; a failure is logged."""
        if self._journal is None:
            return
        future = write(self._journal)
        future.add_done_callback(self._audit_done)

    def _audit_done(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("%s: journal record not written: %s", self.robot_id, future.exception())

    def _stop(self, task: _Task, reason: str) -> None:
        """End ``task`` on the edge's own account (journal: CANCELLED ``reason``)."""
        if task.stop_reason:
            return
        task.stop_reason = reason
        if task.started:
            self.driver.cancel_task(task.order_id)
            self._step_soon()

    def on_lease_renewed(
        self, order_id: str, attempt: int, *, status_seq: int, lease_s: float, granter: str, now: float
    ) -> None:
        """A renewal listing this robot's ``order_id`` at ``attempt`` arrived at ``now``."""
        task = self._task
        if task is None or task.order_id != order_id or task.attempt != attempt or task.lease_s <= 0:
            return
        # A renewal read after a stop (SIGSTOP) must not extend a lease that ran out meanwhile.
        if self._stepper is not None:
            self._stepper.catch_up(now)
        changed = self._expire_lease(now)
        if self._task is not task or task.stop_reason:
            if changed is not None:
                self._send_status(changed)
            return
        lease = lease_s if lease_s > 0 else task.lease_s
        if not task.lost:
            task.deadline = now + lease
        elif task.paused:
            if (
                task.resume_seq is not None
                and status_seq >= task.resume_seq
                and self.driver.resume_task(order_id)
            ):
                task.lost = task.paused = False
                task.resume_seq = None
                task.deadline = now + lease
                self._audit(lambda j: j.resume(order_id, attempt))
                self.get_logger().info(
                    "%s: lease of work order %s (attempt %d) renewed by %r; resumed",
                    self.robot_id,
                    _shown(order_id),
                    attempt,
                    granter,
                )
                self._step_soon()
                changed = self.driver.status
        else:  # FINISH: it ran on; the lease holds again
            task.lost = False
            task.deadline = now + lease
        if changed is not None:
            self._send_status(changed)

    def on_lease_revoked(self, order_id: str, attempt: int, granter: str, now: float) -> None:
        """A revocation of ``order_id`` at ``attempt`` (or older) for this robot arrived."""
        task = self._task
        if task is None or task.order_id != order_id or attempt < task.attempt or task.stop_reason:
            return
        self.get_logger().warning(
            "%s: work order %s (attempt %d) revoked by %r; cancelling",
            self.robot_id,
            _shown(order_id),
            task.attempt,
            granter,
        )
        self._stop(task, f"revoked by {granter}")

    # -- the execute action --------------------------------------------------------------
    async def _on_goal(self, goal: ExecuteTask.Goal) -> GoalResponse:
        """Log the command. Accept it (refusals end it with a result); a goal without an
        attempt (an older zone) is started here and rejected if refused, as before."""
        target = f"({goal.target_x}, {goal.target_y})" if goal.has_target else "auto"
        self.get_logger().info(
            "%s: received work order %s (task=%r, target=%s, attempt=%d)",
            self.robot_id,
            _shown(goal.order_id),
            goal.task,
            target,
            goal.attempt,
        )
        if goal.attempt > 0:
            return GoalResponse.ACCEPT
        outcome = await self._begin(goal, None)
        if isinstance(outcome, _Refusal):
            self.get_logger().warning(
                "%s: rejected work order %s: %r", self.robot_id, _shown(goal.order_id), outcome.message
            )
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _fence(self, goal: ExecuteTask.Goal) -> _Refusal | None:
        """DONE / STALE / busy, from what this robot knows; ``None``: it may start."""
        order_id, attempt = goal.order_id, int(goal.attempt)
        task = self._task
        entry = self._journal.get(order_id) if self._journal is not None else None
        if entry is not None and entry.succeeded:
            return _Refusal(
                _REFUSED_DONE, entry.attempt, f"already done here (attempt {entry.attempt})", True
            )
        known = entry.known_attempt if entry is not None else 0
        if task is not None and task.order_id == order_id:
            known = max(known, task.attempt)
        if known >= attempt:
            return _Refusal(_REFUSED_STALE, known, f"known here at attempt {known} >= {attempt}")
        if task is not None:
            return _Refusal(_REFUSED_ROBOT, attempt, f"busy with work order {task.order_id!r}")
        return None

    async def _begin(self, goal: ExecuteTask.Goal, handle: ServerGoalHandle | None) -> _Task | _Refusal:
        """Journal the start (durable), then start the task on the driver. Goals with an
        attempt (and a ``handle``: they are accepted already) are fenced first."""
        order_id, attempt = goal.order_id, int(goal.attempt)
        fenced = handle is not None
        running = self._task
        if not fenced and running is not None and running.order_id == order_id:
            return _Refusal(_REFUSED_STALE, running.attempt, "already executing it")
        refusal = self._fence(goal) if fenced else None
        if refusal is not None:
            return refusal
        if running is not None:
            return _Refusal(_REFUSED_ROBOT, attempt, f"busy with work order {running.order_id!r}")
        journal = self._journal
        if journal is None:
            return _Refusal(_REFUSED_ROBOT, attempt, "the edge is not started")
        task = _Task(order_id, attempt, asyncio.get_running_loop().create_future(), handle)
        if goal.lease_s > 0:
            task.lease_s = float(goal.lease_s)
            task.on_loss = int(goal.on_lease_loss)
            task.deadline = time.monotonic() + task.lease_s
        self._task = task  # before the write: a question meanwhile sees it RUNNING, a goal busy
        try:
            await journal.start(order_id, attempt)
        except JournalError as exc:
            self._task = None
            self.get_logger().error("%s: %s", self.robot_id, exc)
            return _Refusal(_REFUSED_ROBOT, attempt, f"execution journal not writable: {exc}")
        if self._task is not task:  # the edge was destroyed meanwhile
            return _Refusal(_REFUSED_ROBOT, attempt, "the edge stopped")
        if task.stop_reason:  # revoked or cancelled while the start was written
            self._task = None
            await self._journal_end(task, "CANCELLED", task.stop_reason)
            return _Refusal(_REFUSED_NONE, attempt, task.stop_reason)
        request = TaskRequest(
            task_id=order_id,
            task=goal.task,
            target=Pose2D(goal.target_x, goal.target_y, 0.0) if goal.has_target else None,
            priority=int(goal.priority),
        )
        try:
            self.driver.start_task(request)
        except RobotDriverError as exc:
            self._task = None
            await self._journal_end(task, "REFUSED", str(exc))
            kind = _REFUSED_ORDER if isinstance(exc, TaskRejected) else _REFUSED_ROBOT
            return _Refusal(kind, attempt, str(exc))
        task.started = True
        self._step_soon()
        self._send_status(self.driver.status)  # EXECUTING, at once
        return task

    async def _journal_end(self, task: _Task, state: Any, message: str) -> None:
        journal = self._journal
        if journal is None:
            return
        try:
            await journal.end(task.order_id, task.attempt, state, message)
        except JournalError as exc:
            self.get_logger().error("%s: %s", self.robot_id, exc)

    def _on_cancel(self, handle: ServerGoalHandle) -> CancelResponse:
        order_id = handle.request.order_id
        task = self._task
        if (
            task is None
            or task.order_id != order_id
            or (task.handle is not None and task.handle is not handle)
        ):
            return CancelResponse.REJECT  # not the goal being executed (e.g. one refused at once)
        if not task.started:  # its start is being written: it ends before the driver sees it
            task.stop_reason = task.stop_reason or "cancelled"
            return CancelResponse.ACCEPT
        if self.driver.cancel_task(order_id):
            self.get_logger().info("%s: cancelling work order %s", self.robot_id, _shown(order_id))
            return CancelResponse.ACCEPT
        return CancelResponse.REJECT

    def _result(self, refusal: _Refusal, handle: ServerGoalHandle) -> ExecuteTask.Result:
        """End a goal that was not executed."""
        pose = self.driver.status.pose
        if refusal.success:
            handle.succeed()
        elif handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.abort()
        if refusal.refused != _REFUSED_NONE:
            self.get_logger().warning(
                "%s: refused work order %s (attempt %d): %r",
                self.robot_id,
                _shown(handle.request.order_id),
                handle.request.attempt,
                refusal.message,
            )
        return self._action.Result(
            success=refusal.success,
            message=refusal.message,
            final_pose=self._pose_cls(x=pose.x, y=pose.y, theta=pose.theta),
            refused=refusal.refused,
            attempt=refusal.attempt,
        )

    async def _execute(self, handle: ServerGoalHandle) -> ExecuteTask.Result:
        """Run the goal's task (fenced, journaled) and end the goal with its outcome."""
        goal = handle.request
        order_id = goal.order_id
        if goal.attempt > 0:
            begun = await self._begin(goal, handle)
            if isinstance(begun, _Refusal):
                return self._result(begun, handle)
            task = begun
            task.handle = handle
            started = self._action.Feedback(progress=0.0, state=self._action.Feedback.STATE_STARTING)
            self._track_feedback(task, self._spawn(self._publish_feedback(handle, started)))
        else:
            current = self._task
            if current is None or current.order_id != order_id:  # finished before the goal was handed over
                handle.abort()
                return self._action.Result(success=False, message="task ended before execution began")
            task = current
        task.handle = handle
        try:
            outcome = await task.done
        finally:
            if self._task is task:
                self._task = None
        if task.feedback:
            await asyncio.gather(*task.feedback, return_exceptions=True)
        message = outcome.message
        if outcome.success:
            state = "SUCCEEDED"
        elif task.stop_reason:
            state, message = "CANCELLED", task.stop_reason
        elif handle.is_cancel_requested:
            state = "CANCELLED"
        else:
            state = "FAILED"
        await self._journal_end(task, state, message)
        final = outcome.final_pose
        result = self._action.Result(
            success=outcome.success,
            message=message,
            final_pose=self._pose_cls(x=final.x, y=final.y, theta=final.theta),
            refused=_REFUSED_NONE,
            attempt=task.attempt,
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
            _shown(order_id),
            "completed" if outcome.success else "ended",
            "" if outcome.success else f": {message!r}",
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
        self._track_feedback(task, self._spawn(self._publish_feedback(handle, feedback)))

    @staticmethod
    def _track_feedback(task: _Task, publishing: asyncio.Task[Any]) -> None:
        """The result waits for ``publishing`` (feedback never arrives after the result)."""
        task.feedback.add(publishing)
        publishing.add_done_callback(task.feedback.discard)

    async def _publish_feedback(self, handle: ServerGoalHandle, feedback: ExecuteTask.Feedback) -> None:
        try:
            await handle.publish_feedback(feedback)
        except Exception:
            log.debug("%s: feedback not published", self.robot_id, exc_info=True)

    def _on_finished(self, outcome: TaskOutcome) -> None:
        task = self._task
        if task is None or task.order_id != outcome.task_id:
            log.debug("%s: outcome of unknown task %s ignored", self.robot_id, _shown(outcome.task_id))
            return
        if not task.done.done():
            task.done.set_result(outcome)

    # -- the journal service -------------------------------------------------------------
    async def _on_journal_question(self, request: GetExecutions.Request) -> GetExecutions.Response:
        """What this robot executed of each asked order; fence (durably) those it never ran."""
        journal = self._journal
        records: list[ExecutionRecord] = []
        writes: list[asyncio.Future[None]] = []
        attempts = list(request.attempts)
        for i, order_id in enumerate(request.order_ids):
            asked = int(attempts[i]) if i < len(attempts) else 0
            task = self._task
            entry = journal.get(order_id) if journal is not None else None
            if task is not None and task.order_id == order_id:
                state = ExecutionRecord.STATE_PAUSED if task.paused else ExecutionRecord.STATE_RUNNING
                started = entry.started if entry is not None and entry.attempt == task.attempt else None
                records.append(self._record(order_id, task.attempt, state, started=started))
                continue
            if (
                entry is not None
                and entry.state not in ("FENCED", "REFUSED")
                and (entry.attempt >= asked or entry.succeeded)
            ):
                records.append(
                    self._record(
                        order_id,
                        entry.attempt,
                        _RECORD_STATES.get(entry.state, ExecutionRecord.STATE_FAILED),
                        message=entry.message,
                        started=entry.started,
                        ended=entry.ended,
                    )
                )
                continue
            if journal is not None:  # durable before the answer, even if fenced already (maybe in flight)
                writes.append(
                    journal.fence(order_id, max(asked, entry.known_attempt if entry is not None else 0))
                )
            records.append(self._record(order_id, 0, ExecutionRecord.STATE_UNKNOWN))
        if writes:
            results = await asyncio.gather(*writes, return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:  # no answer beats a fence that is not durable: the asker waits instead
                raise JournalError(f"{self.robot_id}: could not fence: {failed[0]}")
            self.get_logger().info(
                "%s: fenced %d order(s) a question found unknown here",
                self.robot_id,
                len(writes),
            )
        return GetExecutions.Response(records=records)

    @staticmethod
    def _record(
        order_id: str,
        attempt: int,
        state: int,
        *,
        message: str = "",
        started: float | None = None,
        ended: float | None = None,
    ) -> ExecutionRecord:
        return ExecutionRecord(
            order_id=order_id,
            attempt=attempt,
            state=state,
            message=message,
            started=_stamp(started),
            ended=_stamp(ended),
        )


def _shown(text: str) -> str:
    """``text`` for a log line: as it is when printable (order ids, as README.md and tests
    quote them), else its ``repr`` (a newline or other control character cannot forge a line)."""
    return text if text.isprintable() else repr(text)


def _stamp(t: float | None) -> Any:
    """``builtin_interfaces/Time`` of unix time ``t`` (zero when ``None``)."""
    if t is None:
        return standard.Time()
    ns = round(t * 1e9)
    return standard.Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
