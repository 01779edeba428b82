"""The edge's side of an order: the ``execute`` action and the execution lease (:class:`Executor`).

:class:`Executor` runs the goals of :class:`~robotfleet_nodes.edge.node.EdgeNode`'s action
server (docs/fleet.md): it fences a goal against what the robot knows (REFUSED_DONE,
REFUSED_STALE, busy), journals the start (durable) before the driver starts the task, sends
feedback, journals the end before the result, and cancels on request. It keeps the running
order's lease: at its end it applies ``on_lease_loss`` (PAUSE, STOP, FINISH); a renewal
extends or resumes it, a revocation cancels. The edge owns the I/O around it: the driver's
stepping, status publishing, the action server and the lease listener.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from robotfleet_nodes.action import CancelResponse, ExecuteTask, GoalResponse, ServerGoalHandle
from robotfleet_nodes.edge._stepper import Stepper
from robotfleet_nodes.edge.driver import (
    DriverEvent,
    DriverStatus,
    Pose2D,
    RobotDriver,
    RobotDriverError,
    TaskOutcome,
    TaskProgress,
    TaskRejected,
    TaskRequest,
)
from robotfleet_nodes.edge.journal import ExecutionJournal, JournalError
from robotfleet_nodes.idl import standard

__all__ = ["EdgeHost", "Executor", "RunningOrder"]

log = logging.getLogger(__name__)

_FEEDBACK_FINISHING_AT = 0.999  # progress from which feedback reports FINISHING
_PAUSE, _STOP, _FINISH = 0, 1, 2  # ExecuteTask.Goal.LEASE_LOSS_*
_REFUSED_NONE, _REFUSED_ROBOT, _REFUSED_ORDER, _REFUSED_STALE, _REFUSED_DONE = range(5)
_LOSS_NAMES = {_PAUSE: "pause", _STOP: "stop", _FINISH: "finish"}


def _wall_time(monotonic_at: float) -> float:
    """The unix time of the monotonic moment ``monotonic_at`` (for journal records)."""
    return time.time() - (time.monotonic() - monotonic_at)


@dataclass(slots=True)
class RunningOrder:
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


class EdgeHost(Protocol):
    """What an :class:`Executor` uses of its edge (:class:`~robotfleet_nodes.edge.node.EdgeNode`)."""

    robot_id: str
    driver: RobotDriver
    _stepper: Stepper | None

    @property
    def journal(self) -> ExecutionJournal | None: ...

    def get_logger(self) -> logging.Logger: ...

    def _handle(self, events: Sequence[DriverEvent]) -> DriverStatus | None: ...

    def _step_soon(self) -> None: ...

    def _send_status(self, status: DriverStatus) -> None: ...

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class Executor:
    """The goals and the lease of one edge's robot; see the module docstring.

    Args:
        edge: the edge whose driver runs the orders and whose journal records them.
    """

    def __init__(self, edge: EdgeHost) -> None:
        self._edge = edge
        #: the order being executed (``None``: none)
        self.task: RunningOrder | None = None
        self._pause_unsupported_logged = False

    # -- the execute action (fencing, journal, result) ------------------------------------
    async def on_goal(self, goal: ExecuteTask.Goal) -> GoalResponse:
        """Log the command. Accept it (refusals end it with a result); a goal without an
        attempt (an older zone) is started here and rejected if refused, as before."""
        target = f"({goal.target_x}, {goal.target_y})" if goal.has_target else "auto"
        self._edge.get_logger().info(
            "%s: received work order %s (task=%r, target=%s, attempt=%d)",
            self._edge.robot_id,
            _shown(goal.order_id),
            goal.task,
            target,
            goal.attempt,
        )
        if goal.attempt > 0:
            return GoalResponse.ACCEPT
        outcome = await self._begin(goal, None)
        if isinstance(outcome, _Refusal):
            self._edge.get_logger().warning(
                "%s: rejected work order %s: %r", self._edge.robot_id, _shown(goal.order_id), outcome.message
            )
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _fence(self, goal: ExecuteTask.Goal) -> _Refusal | None:
        """DONE / STALE / busy, from what this robot knows; ``None``: it may start."""
        order_id, attempt = goal.order_id, int(goal.attempt)
        task = self.task
        entry = self._edge.journal.get(order_id) if self._edge.journal is not None else None
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

    async def _begin(
        self, goal: ExecuteTask.Goal, handle: ServerGoalHandle | None
    ) -> RunningOrder | _Refusal:
        """Journal the start (durable), then start the task on the driver. Goals with an
        attempt (and a ``handle``: they are accepted already) are fenced first."""
        order_id, attempt = goal.order_id, int(goal.attempt)
        fenced = handle is not None
        running = self.task
        if not fenced and running is not None and running.order_id == order_id:
            return _Refusal(_REFUSED_STALE, running.attempt, "already executing it")
        refusal = self._fence(goal) if fenced else None
        if refusal is not None:
            return refusal
        stepper = self._edge._stepper
        if fenced and stepper is not None and stepper.just_resumed(time.monotonic()):
            return _Refusal(_REFUSED_ROBOT, attempt, "the goal waited while this edge's process was stopped")
        if running is not None:
            return _Refusal(_REFUSED_ROBOT, attempt, f"busy with work order {running.order_id!r}")
        journal = self._edge.journal
        if journal is None:
            return _Refusal(_REFUSED_ROBOT, attempt, "the edge is not started")
        task = RunningOrder(order_id, attempt, asyncio.get_running_loop().create_future(), handle)
        if goal.lease_s > 0:
            task.lease_s = float(goal.lease_s)
            task.on_loss = int(goal.on_lease_loss)
            task.deadline = time.monotonic() + task.lease_s
        self.task = task  # before the write: a question meanwhile sees it RUNNING, a goal busy
        try:
            await journal.start(order_id, attempt)
        except JournalError as exc:
            self.task = None
            self._edge.get_logger().error("%s: %s", self._edge.robot_id, exc)
            return _Refusal(_REFUSED_ROBOT, attempt, f"execution journal not writable: {exc}")
        if self.task is not task:  # the edge was destroyed meanwhile
            return _Refusal(_REFUSED_ROBOT, attempt, "the edge stopped")
        if task.stop_reason:  # revoked or cancelled while the start was written
            self.task = None
            await self._journal_end(task, "CANCELLED", task.stop_reason)
            return _Refusal(_REFUSED_NONE, attempt, task.stop_reason)
        request = TaskRequest(
            task_id=order_id,
            task=goal.task,
            target=Pose2D(goal.target_x, goal.target_y, 0.0) if goal.has_target else None,
            priority=int(goal.priority),
            attempt=attempt,
        )
        try:
            self._edge.driver.start_task(request)
        except RobotDriverError as exc:
            self.task = None
            await self._journal_end(task, "REFUSED", str(exc))
            kind = _REFUSED_ORDER if isinstance(exc, TaskRejected) else _REFUSED_ROBOT
            return _Refusal(kind, attempt, str(exc))
        task.started = True
        self._edge._step_soon()
        self._edge._send_status(self._edge.driver.status)  # EXECUTING, at once
        return task

    async def _journal_end(self, task: RunningOrder, state: Any, message: str) -> None:
        journal = self._edge.journal
        if journal is None:
            return
        try:
            await journal.end(task.order_id, task.attempt, state, message)
        except JournalError as exc:
            self._edge.get_logger().error("%s: %s", self._edge.robot_id, exc)

    def on_cancel(self, handle: ServerGoalHandle) -> CancelResponse:
        order_id = handle.request.order_id
        task = self.task
        if (
            task is None
            or task.order_id != order_id
            or (task.handle is not None and task.handle is not handle)
        ):
            return CancelResponse.REJECT  # not the goal being executed (e.g. one refused at once)
        if not task.started:  # its start is being written: it ends before the driver sees it
            task.stop_reason = task.stop_reason or "cancelled"
            return CancelResponse.ACCEPT
        if self._edge.driver.cancel_task(order_id):
            self._edge.get_logger().info(
                "%s: cancelling work order %s", self._edge.robot_id, _shown(order_id)
            )
            return CancelResponse.ACCEPT
        return CancelResponse.REJECT

    def _result(self, refusal: _Refusal, handle: ServerGoalHandle) -> ExecuteTask.Result:
        """End a goal that was not executed."""
        pose = self._edge.driver.status.pose
        if refusal.success:
            handle.succeed()
        elif handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.abort()
        if refusal.refused != _REFUSED_NONE:
            self._edge.get_logger().warning(
                "%s: refused work order %s (attempt %d): %r",
                self._edge.robot_id,
                _shown(handle.request.order_id),
                handle.request.attempt,
                refusal.message,
            )
        return ExecuteTask.Result(
            success=refusal.success,
            message=refusal.message,
            final_pose=standard.Pose2D(x=pose.x, y=pose.y, theta=pose.theta),
            refused=refusal.refused,
            attempt=refusal.attempt,
        )

    async def execute(self, handle: ServerGoalHandle) -> ExecuteTask.Result:
        """Run the goal's task (fenced, journaled) and end the goal with its outcome."""
        goal = handle.request
        order_id = goal.order_id
        if goal.attempt > 0:
            begun = await self._begin(goal, handle)
            if isinstance(begun, _Refusal):
                return self._result(begun, handle)
            task = begun
            task.handle = handle
            started = ExecuteTask.Feedback(progress=0.0, state=ExecuteTask.Feedback.STATE_STARTING)
            self._track_feedback(task, self._edge._spawn(self._publish_feedback(handle, started)))
        else:
            current = self.task
            if current is None or current.order_id != order_id:  # finished before the goal was handed over
                handle.abort()
                return ExecuteTask.Result(success=False, message="task ended before execution began")
            task = current
        task.handle = handle
        try:
            outcome = await task.done
        finally:
            if self.task is task:
                self.task = None
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
        result = ExecuteTask.Result(
            success=outcome.success,
            message=message,
            final_pose=standard.Pose2D(x=final.x, y=final.y, theta=final.theta),
            refused=_REFUSED_NONE,
            attempt=task.attempt,
        )
        if outcome.success:
            handle.succeed()
        elif handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.abort()
        self._edge.get_logger().info(
            "%s: work order %s %s%s",
            self._edge.robot_id,
            _shown(order_id),
            "completed" if outcome.success else "ended",
            "" if outcome.success else f": {message!r}",
        )
        return result

    def on_progress(self, event: TaskProgress) -> None:
        task = self.task
        if task is None or task.order_id != event.task_id:
            return
        task.progress = event.progress
        handle = task.handle
        if handle is None or not handle.is_active:
            return
        status = self._edge.driver.status
        pose = status.pose
        if event.progress >= _FEEDBACK_FINISHING_AT:
            state = ExecuteTask.Feedback.STATE_FINISHING
        elif status.velocity > 0.0:
            state = ExecuteTask.Feedback.STATE_DRIVING
        else:
            state = ExecuteTask.Feedback.STATE_WORKING
        feedback = ExecuteTask.Feedback(
            progress=event.progress, pose=standard.Pose2D(x=pose.x, y=pose.y, theta=pose.theta), state=state
        )
        self._track_feedback(task, self._edge._spawn(self._publish_feedback(handle, feedback)))

    @staticmethod
    def _track_feedback(task: RunningOrder, publishing: asyncio.Task[Any]) -> None:
        """The result waits for ``publishing`` (feedback never arrives after the result)."""
        task.feedback.add(publishing)
        publishing.add_done_callback(task.feedback.discard)

    async def _publish_feedback(self, handle: ServerGoalHandle, feedback: ExecuteTask.Feedback) -> None:
        try:
            await handle.publish_feedback(feedback)
        except Exception:
            log.debug("%s: feedback not published", self._edge.robot_id, exc_info=True)

    def on_finished(self, outcome: TaskOutcome) -> None:
        task = self.task
        if task is None or task.order_id != outcome.task_id:
            log.debug("%s: outcome of unknown task %s ignored", self._edge.robot_id, _shown(outcome.task_id))
            return
        if not task.done.done():
            task.done.set_result(outcome)

    # -- leases --------------------------------------------------------------------------
    def expire_lease(self, now: float) -> DriverStatus | None:
        """If the running task's lease ended before ``now``: step the driver to its end,
        apply ``on_lease_loss``; the status change that makes, if any."""
        task = self.task
        if task is None or not task.started or task.lost or now < task.deadline:
            return None
        changed = self._edge._handle(self._edge.driver.step(task.deadline))
        if self.task is not task:  # it ended before the lease did
            return changed
        task.lost = True
        loss = task.on_loss
        self._edge.get_logger().warning(
            "%s: lease of work order %s (attempt %d) lost; %s",
            self._edge.robot_id,
            _shown(task.order_id),
            task.attempt,
            _LOSS_NAMES.get(loss, "stop"),
        )
        if loss == _FINISH:
            return changed
        if loss == _PAUSE:
            try:
                if self._edge.driver.pause_task(task.order_id):
                    task.paused = True
                    task.resume_seq = None
                    self._audit(lambda j: j.pause(task.order_id, task.attempt, at=_wall_time(task.deadline)))
                    return self._edge.driver.status  # paused=true goes out at once
            except NotImplementedError:
                if not self._pause_unsupported_logged:
                    self._pause_unsupported_logged = True
                    self._edge.get_logger().warning(
                        "%s: driver %s cannot pause; lease losses stop tasks instead",
                        self._edge.robot_id,
                        type(self._edge.driver).__name__,
                    )
        self._stop(task, "lease lost")
        return changed

    def _audit(self, write: Callable[[ExecutionJournal], asyncio.Future[None]]) -> None:
        """Write an audit record (pause, resume) to the journal; a failure is logged."""
        if self._edge.journal is None:
            return
        future = write(self._edge.journal)
        future.add_done_callback(self._audit_done)

    def _audit_done(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("%s: journal record not written: %s", self._edge.robot_id, future.exception())

    def _stop(self, task: RunningOrder, reason: str) -> None:
        """End ``task`` on the edge's own account (journal: CANCELLED ``reason``)."""
        if task.stop_reason:
            return
        task.stop_reason = reason
        if task.started:
            self._edge.driver.cancel_task(task.order_id)
            self._edge._step_soon()

    def on_lease_renewed(
        self, order_id: str, attempt: int, *, status_seq: int, lease_s: float, granter: str, now: float
    ) -> None:
        """A renewal listing this robot's ``order_id`` at ``attempt`` arrived at ``now``."""
        task = self.task
        if task is None or task.order_id != order_id or task.attempt != attempt or task.lease_s <= 0:
            return
        # A renewal read after a stop (SIGSTOP) must not extend a lease that ran out meanwhile.
        if self._edge._stepper is not None:
            self._edge._stepper.catch_up(now)
        changed = self.expire_lease(now)
        if self.task is not task or task.stop_reason:
            if changed is not None:
                self._edge._send_status(changed)
            return
        lease = lease_s if lease_s > 0 else task.lease_s
        if not task.lost:
            task.deadline = now + lease
        elif task.paused:
            if (
                task.resume_seq is not None
                and status_seq >= task.resume_seq
                and self._edge.driver.resume_task(order_id)
            ):
                task.lost = task.paused = False
                task.resume_seq = None
                task.deadline = now + lease
                self._audit(lambda j: j.resume(order_id, attempt))
                self._edge.get_logger().info(
                    "%s: lease of work order %s (attempt %d) renewed by %r; resumed",
                    self._edge.robot_id,
                    _shown(order_id),
                    attempt,
                    granter,
                )
                self._edge._step_soon()
                changed = self._edge.driver.status
        else:  # FINISH: it ran on; the lease holds again
            task.lost = False
            task.deadline = now + lease
        if changed is not None:
            self._edge._send_status(changed)

    def on_lease_revoked(self, order_id: str, attempt: int, granter: str, now: float) -> None:
        """A revocation of ``order_id`` at ``attempt`` (or older) for this robot arrived."""
        task = self.task
        if task is None or task.order_id != order_id or attempt < task.attempt or task.stop_reason:
            return
        self._edge.get_logger().warning(
            "%s: work order %s (attempt %d) revoked by %r; cancelling",
            self._edge.robot_id,
            _shown(order_id),
            task.attempt,
            granter,
        )
        self._stop(task, f"revoked by {granter}")


def _shown(text: str) -> str:
    """``text`` for a log line: as it is when printable (order ids, as README.md and tests
    quote them), else its ``repr`` (a newline or other control character cannot forge a line)."""
    return text if text.isprintable() else repr(text)
