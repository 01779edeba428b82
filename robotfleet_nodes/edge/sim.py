"""A simulated robot: the default :class:`~robotfleet_nodes.edge.driver.RobotDriver`.

The model is deliberately simple and cheap (a thousand robots share one process):

* A task drives straight from the current pose to its target at ``speed`` (heading along
  the line of travel), takes on the target's ``theta`` on arrival, then works there for
  ``work_time_s[task]`` seconds. Progress is the fraction of that travel + work time done.
* Battery drains at ``battery_drain_per_s`` while moving or working and at
  ``idle_drain_per_s`` otherwise. An idle robot at or below ``recharge_below_percent``
  drives to ``dock`` (state CHARGING), charges at ``charge_rate_per_s`` up to
  ``charge_target_percent`` and becomes IDLE again. A charging robot still accepts tasks
  if its battery is at least ``min_battery_to_accept``. An empty battery is a FATAL
  ``BATTERY_DEPLETED`` error: the task fails and the robot is in ERROR.
* :meth:`SimulatedRobot.pause_task` holds the running task (an execution lease ran out):
  no motion, no progress, idle drain, no trip to the charger, until
  :meth:`SimulatedRobot.resume_task` or a cancel.
* Failure injection, all drawn from the robot's own seeded RNG so runs repeat exactly:
  a task fails part-way with probability ``task_failure_probability`` (WARNING
  ``SIM_INJECTED_FAILURE``; the robot stays usable), and per second of operation the robot
  goes to ERROR (FATAL ``SIM_RANDOM_FAULT``) or OFFLINE (for ``offline_duration_s``) with
  the given probabilities. Fault times are drawn as exponential waiting times, so they do
  not depend on how often :meth:`SimulatedRobot.step` is called.

Nothing runs on its own: :meth:`SimulatedRobot.step` advances the model to the time given,
jumping straight between events (arrival, task end, empty battery, fault), so a long pause
costs the same as a short step and never overshoots.
"""

from __future__ import annotations

import hashlib
import math
import random

from robotfleet_nodes.edge._sim_config import SimConfig
from robotfleet_nodes.edge.driver import (
    DriverError,
    DriverEvent,
    DriverRejected,
    DriverStatus,
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

__all__ = [
    "BATTERY_DEPLETED",
    "SIM_INJECTED_FAILURE",
    "SIM_RANDOM_FAULT",
    "SimConfig",
    "SimulatedRobot",
]

BATTERY_DEPLETED = "BATTERY_DEPLETED"
"""Error code: the battery reached 0 % (FATAL)."""
SIM_INJECTED_FAILURE = "SIM_INJECTED_FAILURE"
"""Error code: a task failed by failure injection (WARNING)."""
SIM_RANDOM_FAULT = "SIM_RANDOM_FAULT"
"""Error code: a random per-second fault put the robot in ERROR (FATAL)."""

_INF = math.inf

_IDLE = RobotState.IDLE
_EXECUTING = RobotState.EXECUTING
_CHARGING = RobotState.CHARGING
_ERROR = RobotState.ERROR
_OFFLINE = RobotState.OFFLINE
_ORIGIN = Pose2D(0.0, 0.0, 0.0)
_ACCEPTING_MODES = frozenset({OperatingMode.AUTOMATIC, OperatingMode.SEMIAUTOMATIC})

# What ends a stretch of simulated time (see SimulatedRobot._advance).
_K_NONE, _K_FAULT, _K_DEPLETED, _K_FAIL, _K_DONE, _K_ARRIVE, _K_FULL, _K_LOW = range(8)


class SimulatedRobot(SnapshotDriver):
    """A deterministic, step-driven simulated robot (see the module docstring for the model).

    Args:
        robot_id: The robot's id (also mixed into its RNG seed).
        config: Behaviour; defaults to ``SimConfig()``.
        start_pose: Where it starts; defaults to the dock.
        rng: Its random source; defaults to ``random.Random(f"{config.seed}:{robot_id}")``.
        battery_percent: Initial charge.
        mode: Initial VDA 5050 operating mode.

    The first :meth:`step` only sets the clock (nothing moves); a task started before it
    begins then. Battery is reported rounded to 0.1 %, so an idle robot's slow drain does
    not produce a status change on every step.
    """

    __slots__ = (
        "_battery",
        "_cfg",
        "_charging",
        "_elapsed",
        "_errors",
        "_fail_at",
        "_leg_s",
        "_mode",
        "_next_fault_at",
        "_offline_until",
        "_paused",
        "_reported_battery",
        "_reported_progress",
        "_rng",
        "_state",
        "_sx",
        "_sy",
        "_t",
        "_task",
        "_theta",
        "_total",
        "_tth",
        "_tx",
        "_ty",
        "_velocity",
        "_vx",
        "_vy",
        "_x",
        "_y",
    )

    def __init__(
        self,
        robot_id: str,
        config: SimConfig | None = None,
        start_pose: Pose2D | None = None,
        *,
        rng: random.Random | None = None,
        battery_percent: float = 100.0,
        mode: OperatingMode = OperatingMode.AUTOMATIC,
    ) -> None:
        cfg = config if config is not None else SimConfig()
        pose = start_pose if start_pose is not None else cfg.dock
        if not (math.isfinite(battery_percent) and 0 <= battery_percent <= 100):
            raise ValueError(f"battery_percent must be within 0..100, got {battery_percent!r}")
        super().__init__(robot_id)
        self._cfg = cfg
        self._rng = rng if rng is not None else random.Random(f"{cfg.seed}:{robot_id}")
        self._t: float | None = None
        self._state = _IDLE
        self._mode = mode
        self._x, self._y, self._theta = pose.x, pose.y, pose.theta
        self._battery = float(battery_percent)
        self._reported_battery = round(self._battery, 1)
        self._charging = False
        self._velocity = 0.0
        self._errors: tuple[DriverError, ...] = ()
        self._task: TaskRequest | None = None
        self._elapsed = 0.0
        self._total = 0.0
        self._fail_at = _INF
        self._reported_progress = 0.0
        self._leg_s = 0.0
        self._sx = self._sy = self._vx = self._vy = 0.0
        self._tx, self._ty, self._tth = pose.x, pose.y, pose.theta
        self._next_fault_at = _INF
        self._offline_until = _INF
        self._paused = False

    # -- RobotDriver -------------------------------------------------------------------

    @property
    def config(self) -> SimConfig:
        """The behaviour this robot was built with."""
        return self._cfg

    def _snapshot(self, seq: int) -> DriverStatus:
        task = self._task
        return DriverStatus(
            seq=seq,
            pose=Pose2D(self._x, self._y, self._theta),
            battery_percent=self._reported_battery,
            charging=self._charging,
            state=self._state,
            mode=self._mode,
            current_task_id=task.task_id if task is not None else None,
            progress=self._reported_progress if task is not None else 0.0,
            velocity=self._velocity,
            errors=self._errors,
        )

    def start_task(self, req: TaskRequest) -> None:
        """Start ``req`` from the current pose (see :meth:`RobotDriver.start_task`).

        Accepted while IDLE or CHARGING. Accepting clears WARNING errors left by the
        previous task.
        """
        state = self._state
        if state is _ERROR:
            codes = ", ".join(e.code for e in self._errors) or "unknown"
            raise DriverRejected(
                f"robot {self._id} is in ERROR ({codes}); resolve it and call clear_errors() first"
            )
        if state is _OFFLINE:
            raise DriverRejected(f"robot {self._id} is OFFLINE; wait until it is back")
        if self._mode not in _ACCEPTING_MODES:
            raise DriverRejected(
                f"robot {self._id} is in {self._mode.value} mode; tasks need AUTOMATIC or SEMIAUTOMATIC"
            )
        self._refuse_unless_free((), self._task.task_id if self._task is not None else None)
        cfg = self._cfg
        if self._battery < cfg.min_battery_to_accept:
            raise DriverRejected(
                f"robot {self._id} battery too low: {self._battery:.1f}% < "
                f"{cfg.min_battery_to_accept:.1f}% needed to accept a task; let it charge"
            )
        if not req.task_id:
            raise TaskRejected("task_id must not be empty")
        target = req.target
        if target is None:
            target = self._random_target(req.task_id)
        elif not (math.isfinite(target.x) and math.isfinite(target.y) and math.isfinite(target.theta)):
            raise TaskRejected(f"task {req.task_id!r}: target must be finite, got {target}")

        self._begin_leg(target)
        self._total = self._leg_s + cfg.work_time_s.get(req.task, cfg.default_work_time_s)
        p = cfg.task_failure_probability
        self._fail_at = self._rng.random() * self._total if p > 0 and self._rng.random() < p else _INF
        self._task = req
        self._reported_progress = 0.0
        self._state = _EXECUTING
        self._charging = False
        if self._errors:
            self._errors = tuple(e for e in self._errors if e.level == "FATAL")
        self._dirty = True

    def cancel_task(self, task_id: str) -> bool:
        """Stop ``task_id`` where the robot is (see :meth:`RobotDriver.cancel_task`)."""
        task = self._task
        if task is None or task.task_id != task_id:
            return False
        self._end_task(False, "cancelled")
        self._state = _IDLE
        return True

    def pause_task(self, task_id: str) -> bool:
        """Hold ``task_id`` where the robot is (see :meth:`RobotDriver.pause_task`).

        While paused the robot does not move, the task does not progress (nor fail by
        injection), and the battery drains at ``idle_drain_per_s``; it does not go charging.
        """
        task = self._task
        if task is None or task.task_id != task_id or self._paused:
            return False
        self._paused = True
        self._dirty = True
        return True

    def resume_task(self, task_id: str) -> bool:
        """Continue ``task_id`` after :meth:`pause_task` (see :meth:`RobotDriver.resume_task`)."""
        task = self._task
        if task is None or task.task_id != task_id or not self._paused:
            return False
        self._paused = False
        self._dirty = True
        return True

    @property
    def paused(self) -> bool:
        """A task is held by :meth:`pause_task`."""
        return self._paused

    def resync(self, now: float) -> None:
        """The simulated robot lives in its edge's process: stopped with it, it goes on from
        ``now`` where it was (see :meth:`RobotDriver.resync`)."""
        if self._t is not None and now > self._t:
            skipped = now - self._t
            self._t = now
            self._next_fault_at += skipped  # what was due stays as far ahead as it was
            self._offline_until += skipped

    def step(self, now: float) -> list[DriverEvent]:
        """Advance to ``now`` (see :meth:`RobotDriver.step`); the first call only sets the clock.

        Raises:
            ValueError: the first ``now`` is not a finite number.
        """
        t = self._t
        if t is None:
            if not math.isfinite(now):
                raise ValueError(f"step(now): now must be finite monotonic seconds, got {now!r}")
            self._t = now
            self._schedule_fault(now)
        elif now > t:
            advance = self._advance
            while t < now:
                t = advance(t, now)
            self._t = now
            # Velocity only changes at discrete points; fold it in once per step.
            v = self._cfg.speed if self._moving() else 0.0
            if v != self._velocity:
                self._velocity = v
                self._dirty = True
            b = round(self._battery, 1)
            if b != self._reported_battery:
                self._reported_battery = b
                self._dirty = True

        events = self._pending
        task = self._task
        if task is not None:
            total = self._total
            p = self._elapsed / total if total > 0 else 0.0
            p = min(p, 1.0)
            if p != self._reported_progress:
                self._reported_progress = p
                self._dirty = True
                if events is None:
                    events = []
                events.append(TaskProgress(task.task_id, p))
        return self._step_result(events)

    # -- simulator extras ----------------------------------------------------------------

    def clear_errors(self) -> None:
        """Acknowledge all errors; a robot in ERROR becomes IDLE.

        A robot whose battery is empty is taken to its dock (an operator pushes it there)
        and is CHARGING instead. Does nothing when there are no errors and the robot is
        not in ERROR.
        """
        if not self._errors and self._state is not _ERROR:
            return
        self._errors = ()
        if self._state is _ERROR:
            self._state = _IDLE
            if self._battery <= 0.0:
                dock = self._cfg.dock
                self._x, self._y, self._theta = dock.x, dock.y, dock.theta
                self._begin_charging()
            if self._t is not None:
                self._schedule_fault(self._t)
        self._dirty = True

    def set_mode(self, mode: OperatingMode) -> None:
        """Switch the operating mode; only AUTOMATIC and SEMIAUTOMATIC accept new tasks.

        A running task keeps running.
        """
        if mode is not self._mode:
            self._mode = mode
            self._dirty = True

    # -- internals ----------------------------------------------------------------------

    def _moving(self) -> bool:
        state = self._state
        return (
            (state is _EXECUTING and not self._paused) or (state is _CHARGING and not self._charging)
        ) and (self._elapsed < self._leg_s)

    def _random_target(self, task_id: str) -> Pose2D:
        digest = hashlib.blake2b(f"{self._cfg.seed}:{task_id}".encode(), digest_size=16).digest()
        fx = int.from_bytes(digest[:8], "little") / 2.0**64
        fy = int.from_bytes(digest[8:], "little") / 2.0**64
        xmin, ymin, xmax, ymax = self._cfg.area
        x = xmin + fx * (xmax - xmin)
        y = ymin + fy * (ymax - ymin)
        theta = math.atan2(y - self._y, x - self._x) if (x, y) != (self._x, self._y) else self._theta
        return Pose2D(x, y, theta)

    def _begin_leg(self, target: Pose2D) -> None:
        x, y = self._x, self._y
        dx, dy = target.x - x, target.y - y
        dist = math.hypot(dx, dy)
        speed = self._cfg.speed
        self._sx, self._sy = x, y
        self._tx, self._ty, self._tth = target.x, target.y, target.theta
        self._elapsed = 0.0
        if dist > 0.0:
            self._leg_s = dist / speed
            self._vx, self._vy = dx / dist * speed, dy / dist * speed
            theta = math.atan2(dy, dx)
            if theta != self._theta:
                self._theta = theta
                self._dirty = True
        else:
            self._leg_s = 0.0
            self._vx = self._vy = 0.0

    def _sync_pose(self) -> None:
        e = self._elapsed
        if e >= self._leg_s:
            self._x, self._y, self._theta = self._tx, self._ty, self._tth
        else:
            self._x = self._sx + self._vx * e
            self._y = self._sy + self._vy * e

    def _begin_charging(self) -> None:
        self._state = _CHARGING
        self._dirty = True
        dock = self._cfg.dock
        if self._x == dock.x and self._y == dock.y:
            self._charging = True
            self._leg_s = self._elapsed = 0.0
        else:
            self._charging = False
            self._begin_leg(dock)

    def _schedule_fault(self, t: float) -> None:
        cfg = self._cfg
        if cfg.error_probability_per_s == 0.0 and cfg.offline_probability_per_s == 0.0:
            self._next_fault_at = _INF
            return
        rate = -math.log1p(-cfg.error_probability_per_s) - math.log1p(-cfg.offline_probability_per_s)
        self._next_fault_at = t + self._rng.expovariate(rate)

    def _end_task(self, success: bool, message: str) -> None:
        """Report the running task finished (once) and stop; the caller sets the state."""
        task = self._task
        assert task is not None
        if success and self._reported_progress < 1.0:
            self._reported_progress = 1.0
            self._emit(TaskProgress(task.task_id, 1.0))
        final = Pose2D(self._x, self._y, self._theta)
        self._emit(TaskFinished(TaskOutcome(task.task_id, success, message, final)))
        self._task = None
        self._paused = False
        self._fail_at = _INF
        self._velocity = 0.0
        self._leg_s = self._elapsed = 0.0
        self._dirty = True

    def _fault(self, code: str, description: str) -> None:
        """A FATAL error: fail the task if any, robot in ERROR."""
        self._errors = (*self._errors, DriverError(code, "FATAL", description))
        if self._task is not None:
            self._end_task(False, description)
        self._state = _ERROR
        self._charging = False
        self._next_fault_at = _INF
        self._dirty = True

    def _advance(self, t: float, now: float) -> float:
        """Simulate from ``t`` towards ``now`` up to the first event; return the time reached."""
        state = self._state
        if state is _ERROR:
            return now
        if state is _OFFLINE:
            back = self._offline_until
            if back > now:
                return now
            self._state = _IDLE
            self._dirty = True
            self._schedule_fault(back)
            return back
        cfg = self._cfg
        b = self._battery
        if state is _IDLE and b <= cfg.recharge_below_percent and cfg.recharge_below_percent > 0:
            self._begin_charging()
            return t

        # Find the first event in (t, now]; later checks win ties (higher priority).
        end, kind = now, _K_NONE
        if self._next_fault_at <= end:
            end, kind = self._next_fault_at, _K_FAULT
        moving = False
        working = state is _EXECUTING and not self._paused
        if working:
            rate = -cfg.battery_drain_per_s
            moving = True
        elif state is _CHARGING and self._charging:
            rate = cfg.charge_rate_per_s
        elif state is _CHARGING:
            rate = -cfg.battery_drain_per_s
            moving = True
        else:  # idle, or holding a paused task (which never goes charging)
            rate = -cfg.idle_drain_per_s
            if state is _IDLE and rate < 0 and cfg.recharge_below_percent > 0:
                tl = t + (b - cfg.recharge_below_percent) / -rate
                if tl <= end:
                    end, kind = tl, _K_LOW
        if rate < 0:
            tz = t + b / -rate
            if tz <= end:
                end, kind = tz, _K_DEPLETED
        elif rate > 0:
            tf = t + (cfg.charge_target_percent - b) / rate
            if tf <= end:
                end, kind = tf, _K_FULL
        if working:
            if self._fail_at != _INF:
                tf = t + (self._fail_at - self._elapsed)
                if tf <= end:
                    end, kind = tf, _K_FAIL
            td = t + (self._total - self._elapsed)
            if td <= end:
                end, kind = td, _K_DONE
        elif moving:
            ta = t + (self._leg_s - self._elapsed)
            if ta <= end:
                end, kind = ta, _K_ARRIVE

        dt = end - t
        if dt > 0.0:
            if rate:
                b += rate * dt
                self._battery = 0.0 if b < 0.0 else (100.0 if b > 100.0 else b)
            if moving:
                was_moving = self._elapsed < self._leg_s
                self._elapsed += dt
                if was_moving:
                    self._sync_pose()
                    self._dirty = True

        if kind == _K_NONE:
            return end
        if kind == _K_DONE:
            self._elapsed = self._total
            self._sync_pose()
            self._end_task(True, "completed")
            self._state = _IDLE
        elif kind == _K_ARRIVE:
            self._elapsed = self._leg_s
            self._sync_pose()
            self._charging = True
            self._dirty = True
        elif kind == _K_FULL:
            self._battery = cfg.charge_target_percent
            self._charging = False
            self._state = _IDLE
            self._dirty = True
        elif kind == _K_LOW:
            self._battery = cfg.recharge_below_percent
            self._begin_charging()
        elif kind == _K_FAIL:
            self._elapsed = self._fail_at
            self._sync_pose()
            desc = "injected task failure (simulation)"
            self._errors = (*self._errors, DriverError(SIM_INJECTED_FAILURE, "WARNING", desc))
            self._end_task(False, desc)
            self._state = _IDLE
        elif kind == _K_DEPLETED:
            self._battery = 0.0
            self._fault(BATTERY_DEPLETED, "battery depleted (0%)")
        else:  # _K_FAULT
            rng = self._rng
            p_err = -math.log1p(-cfg.error_probability_per_s)
            p_off = -math.log1p(-cfg.offline_probability_per_s)
            if rng.random() * (p_err + p_off) < p_off:
                if self._task is not None:
                    self._end_task(False, "robot went offline")
                self._state = _OFFLINE
                self._charging = False
                self._offline_until = end + cfg.offline_duration_s
                self._next_fault_at = _INF
                self._dirty = True
            else:
                self._fault(SIM_RANDOM_FAULT, "random fault (simulation)")
        return end
