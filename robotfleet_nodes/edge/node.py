"""``EdgeNode``: one robot on the fleet's bus (``/robots/<robot_id>/edge``).

The edge owns one :class:`~robotfleet_nodes.edge.driver.RobotDriver` (the simulator by
default) and offers, as ``docs/fleet.md`` describes:

- ``/robots/<robot_id>/status`` (``RobotStatus``): every ``1 / status_rate_hz`` seconds as
  a heartbeat, and at once when the driver reports a change (at most one per step). While
  the driver is OFFLINE nothing is published, so the zone sees the heartbeats stop; a
  driver that ``reports_offline`` (a VDA 5050 vehicle) goes on with state OFFLINE instead,
  so the zone knows at once and keeps renewing the lease of the order the vehicle keeps.
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
- the robot's factsheet (``RobotDriver.factsheet``, a VDA 5050 vehicle's): each new one is
  stored under the robot id in the fleet's factsheet bucket (``_factsheet``), which
  ``GET /api/robots/{robot_id}/factsheet`` reads.

:class:`EdgeNode` here is the facade: its life, the driver's stepping and the status
messages. The machinery behind it is private to the package: ``_executor`` (the execute
action: fencing, journal, refusals, feedback; and the execution lease), ``_journal_service``
(``GetExecutions``), ``_lease`` (the zone's renewals, one listener per context and zone),
``_stepper`` (one timer for many edges) and ``_drivers`` (:func:`driver_from_config`).

Cost per edge (thousands of edges may share one process): no timer and no task of its own
while idle. The edges of one context that share a step period are stepped by one timer
(:class:`~robotfleet_nodes.edge._stepper.Stepper`), which publishes the status messages of
one pass together. The action status topic is VOLATILE (a transient-local topic costs a
JetStream subject each).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from robotfleet_nodes.action import ActionServer, ExecuteTask
from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.edge import _journal_service, _lease, _stepper
from robotfleet_nodes.edge._drivers import driver_from_config
from robotfleet_nodes.edge._executor import Executor, RunningOrder
from robotfleet_nodes.edge._factsheet import FactsheetWriter
from robotfleet_nodes.edge._stepper import STOPPED_GAP_S, Stepper, release_stepper, stepper_for
from robotfleet_nodes.edge.driver import (
    DriverEvent,
    DriverStatus,
    OperatingMode,
    RobotDriver,
    RobotState,
    StatusChanged,
    TaskFinished,
    TaskProgress,
)
from robotfleet_nodes.edge.journal import ExecutionJournal, journal_dir
from robotfleet_nodes.fleet.protocol import now_stamp, robot_name
from robotfleet_nodes.idl import standard
from robotfleet_nodes.msg import RobotError, RobotStatus
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.srv import GetExecutions

__all__ = ["DEFAULT_STEP_PERIOD_S", "STATUS_QOS", "STOPPED_GAP_S", "EdgeNode", "driver_from_config"]

log = logging.getLogger(__name__)

#: context -> step period -> its stepper (robotfleet_nodes/edge/_stepper.py; tests inspect it here)
_STEPPERS = _stepper.STEPPERS

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
        self.driver: RobotDriver = driver if driver is not None else driver_from_config(config, context)
        self._status_period = 1.0 / config.status_rate_hz
        self._step_period = step_period_s or min(DEFAULT_STEP_PERIOD_S, self._status_period)
        self._idle_step_period = max(self._step_period, self._status_period)
        self._status_cls = RobotStatus
        self._error_cls = RobotError
        self._pose_cls = standard.Pose2D
        self._action = ExecuteTask
        self._status_pub: Publisher[RobotStatus] | None = None
        self._server: ActionServer | None = None
        self._stepper: Stepper | None = None
        self._journal: ExecutionJournal | None = None
        self._leasing = False
        #: monotonic time from which the stepper steps this edge again
        self._due = float("inf")
        self._executor = Executor(self)  # the execute action and the lease of the order running
        self._factsheet = FactsheetWriter(context.transport, config.robot_id)  # into the fleet's bucket
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = 0
        self._last_status_at = -float("inf")
        self._publishing = False
        self._republish = False
        self._offline = False

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
                self._executor.execute,
                goal_callback=self._executor.on_goal,
                cancel_callback=self._executor.on_cancel,
                status_qos=STATUS_QOS,
            ),
        )
        now = time.monotonic()
        self.driver.step(now)  # sets the driver's clock
        self._due = now + self._step_period - self._step_period / 2
        self._stepper = stepper_for(self.context, self._step_period)
        self._stepper.add(self)
        status = self.driver.status
        if status.state is not RobotState.OFFLINE or self.driver.reports_offline:  # else silent
            self._send_status(status)
        self.get_logger().info("%s: edge up (zone %s)", self.robot_id, self.config.zone_id)

    async def destroy_node(self) -> None:
        """Stop stepping and the action server (a running task is aborted), close the driver
        and the journal (a task that was running is found INTERRUPTED at the next start)."""
        if self._stepper is not None:
            release_stepper(self.context, self._stepper, self)
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
        await self._factsheet.close()
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

    @property
    def _task(self) -> RunningOrder | None:
        """The order being executed (``None``: none); the executor keeps it."""
        return self._executor.task

    # -- stepping ------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        """Step the driver (only up to a lease's end first, if it passed); publish status on
        change (coalesced) or when the heartbeat is due."""
        changed = self._executor.expire_lease(now)
        stepped = self._handle(self.driver.step(now))
        self._factsheet.check(self.driver.factsheet)
        if stepped is not None:
            changed = stepped
        status = changed if changed is not None else self.driver.status
        offline = status.state is RobotState.OFFLINE
        if offline != self._offline:
            self._offline = offline
            if offline:
                self.get_logger().warning(
                    "%s: robot is OFFLINE; status publishing %s",
                    self.robot_id,
                    "goes on (state OFFLINE)" if self.driver.reports_offline else "paused",
                )
            else:
                self.get_logger().info("%s: robot is back online", self.robot_id)
        # The stepper's passes fall on its own grid: half a step of slack keeps an edge
        # due every `period` from slipping to the pass after.
        slack = self._step_period / 2
        idle = status.state in (RobotState.IDLE, RobotState.OFFLINE) and self._task is None
        if offline and not self.driver.reports_offline:
            self._due = now + self._step_period - slack
            return
        if changed is not None or now - self._last_status_at >= self._status_period - slack:
            self._send_status(status)
        # An idle robot changes only slowly (battery): step it once per status period, and
        # fast again as soon as it has work (see _step_soon).
        self._due = now + (self._idle_step_period if idle else self._step_period) - slack

    def _handle(self, events: Sequence[DriverEvent]) -> DriverStatus | None:
        """Act on the driver's events; the last status change among them, if any."""
        changed: DriverStatus | None = None
        for event in events:
            if isinstance(event, StatusChanged):
                changed = event.status
            elif isinstance(event, TaskProgress):
                self._executor.on_progress(event)
            elif isinstance(event, TaskFinished):
                self._executor.on_finished(event.outcome)
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
            map_id=status.map_id,
            driving=status.driving if status.driving is not None else status.velocity > 0.0,
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
            last_node_id=status.last_node_id,
            kind=self.driver.kind,
            loads=min(status.loads, 65535),
        )

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- leases (the listener calls these; the executor keeps the lease) ------------------
    def on_lease_renewed(
        self, order_id: str, attempt: int, *, status_seq: int, lease_s: float, granter: str, now: float
    ) -> None:
        """A renewal listing this robot's ``order_id`` at ``attempt`` arrived at ``now``."""
        self._executor.on_lease_renewed(
            order_id, attempt, status_seq=status_seq, lease_s=lease_s, granter=granter, now=now
        )

    def on_lease_revoked(self, order_id: str, attempt: int, granter: str, now: float) -> None:
        """A revocation of ``order_id`` at ``attempt`` (or older) for this robot arrived."""
        self._executor.on_lease_revoked(order_id, attempt, granter, now)

    # -- the journal service -------------------------------------------------------------
    async def _on_journal_question(self, request: GetExecutions.Request) -> GetExecutions.Response:
        """What this robot executed of each asked order; fence (durably) those it never ran."""
        return await _journal_service.answer(
            request, journal=self._journal, task=self._task, robot_id=self.robot_id, logger=self.get_logger()
        )
