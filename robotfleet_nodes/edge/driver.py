"""The interface between an edge node and the one robot it owns.

An edge node owns exactly one robot through a :class:`RobotDriver`. The default driver is
:class:`robotfleet_nodes.edge.sim.SimulatedRobot`; a DDS bridge (the robot's own ROS 2 bus)
implements the same interface.

Time is driven by the owner: nothing in a driver runs on its own. The owner calls
:meth:`RobotDriver.step` with a monotonic time in seconds, and the driver advances to that
time and returns what happened. One timer can therefore step a thousand drivers, and a
simulated run is reproducible from its seed and the times passed in.

The value types here are plain slotted dataclasses (cheap to build at 1000 robots per
process); ``robotfleet_nodes`` message types are built from them by the edge node.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias

from robotfleet_nodes.errors import RobotFleetError

__all__ = [
    "DriverBusy",
    "DriverError",
    "DriverEvent",
    "DriverRejected",
    "DriverStatus",
    "ErrorLevel",
    "OperatingMode",
    "Pose2D",
    "RobotDriver",
    "RobotDriverError",
    "RobotState",
    "SnapshotDriver",
    "StatusChanged",
    "TaskFinished",
    "TaskOutcome",
    "TaskProgress",
    "TaskRejected",
    "TaskRequest",
]

ErrorLevel: TypeAlias = Literal["WARNING", "FATAL"]
"""VDA 5050 error levels: WARNING keeps the robot usable, FATAL needs recovery."""


class RobotDriverError(RobotFleetError, RuntimeError):
    """A driver refused a request; the message says why and what to do."""


class DriverBusy(RobotDriverError):
    """The robot is already executing a task; cancel it or wait for :class:`TaskFinished`."""


class DriverRejected(RobotDriverError):
    """The robot cannot take this task now (battery, ERROR/OFFLINE state, mode, bad request)."""


class TaskRejected(DriverRejected):
    """The request itself is bad (invalid target, unknown or invalid task): no robot would
    take it, so another robot will not help; fix the order."""


class RobotState(enum.Enum):
    """What the robot is doing."""

    IDLE = "IDLE"
    EXECUTING = "EXECUTING"
    CHARGING = "CHARGING"
    ERROR = "ERROR"
    OFFLINE = "OFFLINE"


class OperatingMode(enum.Enum):
    """VDA 5050 operating mode; tasks are only accepted in AUTOMATIC and SEMIAUTOMATIC."""

    AUTOMATIC = "AUTOMATIC"
    SEMIAUTOMATIC = "SEMIAUTOMATIC"
    MANUAL = "MANUAL"
    SERVICE = "SERVICE"
    TEACHIN = "TEACHIN"


@dataclass(frozen=True, slots=True)
class Pose2D:
    """A planar pose: metres in the map frame, ``theta`` in radians (counter-clockwise)."""

    x: float
    y: float
    theta: float = 0.0


@dataclass(frozen=True, slots=True)
class DriverError:
    """One active error on the robot (VDA 5050 style): a stable ``code`` plus a readable text."""

    code: str
    level: ErrorLevel
    description: str


@dataclass(frozen=True, slots=True)
class DriverStatus:
    """An immutable snapshot of the robot.

    ``seq`` increases by one on every change of any other field, so two snapshots with the
    same ``seq`` from the same driver are equal. ``current_task_id`` is None and
    ``progress`` 0.0 when no task is running.
    """

    seq: int
    pose: Pose2D
    battery_percent: float
    charging: bool
    state: RobotState
    mode: OperatingMode
    current_task_id: str | None
    progress: float
    velocity: float
    errors: tuple[DriverError, ...]
    #: the node the robot passed last (VDA 5050 ``lastNodeId``); empty: unknown
    last_node_id: str = ""
    #: the map ``pose`` is on (VDA 5050 ``mapId``); empty: the zone's default map
    map_id: str = ""
    #: how many loads the robot carries (VDA 5050 ``loads``); 0: none or unknown
    loads: int = 0
    #: whether the wheels turn (VDA 5050 ``driving``); None: ``velocity > 0`` says it
    driving: bool | None = None


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """A task for the robot. ``target`` None lets the driver choose (a simulator picks one).

    ``attempt`` is the order's attempt (the lease's fencing token; 0 from a zone without
    fencing): a driver whose robot ignores a repeated order id (VDA 5050's ``orderId``)
    makes the id it sends from both.
    """

    task_id: str
    task: str
    target: Pose2D | None = None
    priority: int = 0
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """How a task ended: success, or why not (``"cancelled"``, a failure text)."""

    task_id: str
    success: bool
    message: str
    final_pose: Pose2D


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The status changed during the step; ``status`` is the snapshot at the step's end."""

    status: DriverStatus


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """The running task advanced to ``progress`` (0..1, never decreasing for one task)."""

    task_id: str
    progress: float


@dataclass(frozen=True, slots=True)
class TaskFinished:
    """A task ended (success, failure or cancel). Reported exactly once per accepted task."""

    outcome: TaskOutcome


DriverEvent: TypeAlias = StatusChanged | TaskProgress | TaskFinished


class RobotDriver(abc.ABC):
    """One robot, as seen by its edge node.

    Contract:

    * **Who calls what.** The owner (the edge node, or a container stepping many edges) calls
      every method from one thread / event loop; drivers are not thread-safe.
    * **Time.** :meth:`step` is the only place time passes. ``now`` is monotonic seconds;
      a ``now`` not greater than the previous one advances nothing. Any gap is handled
      exactly (a 5 s pause is the same as fifty 0.1 s steps, up to rounding).
    * **Events.** :meth:`step` returns what happened since the previous step, in order:
      task events (:class:`TaskProgress`, :class:`TaskFinished`) in the order they
      happened, including finishes caused between steps by :meth:`cancel_task`; then at most
      one :class:`StatusChanged` carrying the snapshot as of ``now`` (also emitted for
      changes made between steps, e.g. by :meth:`start_task`).
    * **Exactly once.** Every task accepted by :meth:`start_task` produces exactly one
      :class:`TaskFinished`, and never one for a rejected task.
    * **Returned lists** may be shared between calls and drivers: read them, never mutate.
    """

    __slots__ = ()

    @property
    @abc.abstractmethod
    def robot_id(self) -> str:
        """The robot this driver controls."""

    #: What kind of robot this is, as the API shows it (``RobotStatus.kind``): ``sim``,
    #: ``dds`` (a ROS 2 robot behind the DDS bridge), ``vda5050`` (a VDA 5050 vehicle).
    kind: ClassVar[str] = "sim"

    #: True: the edge goes on publishing status (state OFFLINE) while the robot is OFFLINE,
    #: so the zone learns it at once and keeps renewing the lease of an order the robot
    #: keeps (a VDA 5050 vehicle). False (the default): the edge falls silent and the zone
    #: times the robot out.
    reports_offline: ClassVar[bool] = False

    @property
    def factsheet(self) -> Mapping[str, Any] | None:
        """What the robot says of itself (a VDA 5050 ``factsheet``), once known; None by
        default. The same object until it changes (the edge compares identity)."""
        return None

    @property
    @abc.abstractmethod
    def status(self) -> DriverStatus:
        """The current snapshot (cheap; the same object until something changes)."""

    @abc.abstractmethod
    def start_task(self, req: TaskRequest) -> None:
        """Begin ``req`` now (at the driver's current time).

        Raises:
            DriverBusy: a task is already running (the message names it).
            DriverRejected: the robot cannot take it: battery too low, ERROR or OFFLINE,
                a manual operating mode. Nothing changes.
            TaskRejected: the request is invalid (bad target, unknown or invalid task).
                Nothing changes.
        """

    @abc.abstractmethod
    def cancel_task(self, task_id: str) -> bool:
        """Stop task ``task_id`` where the robot is.

        Returns True if that task was running; its ``TaskFinished`` (success False,
        message ``"cancelled"``) comes from the next :meth:`step`. Returns False, and does
        nothing, for a task that is not running (unknown, finished, already cancelled), so
        calling it twice is safe.
        """

    def pause_task(self, task_id: str) -> bool:
        """Hold task ``task_id`` where the robot is: no motion and no progress until
        :meth:`resume_task`; the task stays the robot's (a cancel still ends it).

        Returns True if that task was running and is paused now, False (nothing done) for a
        task that is not running or already paused.

        Raises:
            NotImplementedError: the driver cannot pause (the default); the edge then
                stops the task instead.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot pause a task")

    def resume_task(self, task_id: str) -> bool:
        """Continue task ``task_id`` after :meth:`pause_task`.

        Returns True if that task was paused and runs again, False (nothing done) otherwise.

        Raises:
            NotImplementedError: the driver cannot pause (the default).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot pause a task")

    def resync(self, now: float) -> None:  # noqa: B027 - optional hook, no-op by default
        """The owner did not run since the previous step (its process was stopped, e.g.
        SIGSTOP): go on from ``now`` as if no time had passed since then.

        A robot that lives in the owner's process (a simulator) was stopped with it; the
        default does nothing: a robot with a life of its own (behind a DDS bridge) did go on,
        and the next :meth:`step` catches up.
        """

    @abc.abstractmethod
    def step(self, now: float) -> list[DriverEvent]:
        """Advance to ``now`` (monotonic seconds) and return the events, in order.

        The returned list must not be mutated (an empty result is a shared list).
        """

    async def start(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Connect to the robot (a no-op for drivers that need nothing)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release the robot's resources; safe to call more than once."""


_NO_EVENTS: list[DriverEvent] = []  # shared; callers must not mutate step() results


class SnapshotDriver(RobotDriver):
    """A driver's bookkeeping of snapshots and events, shared by the built-in drivers.

    Subclasses set ``_dirty = True`` whenever something in the status changes, build the
    snapshot in :meth:`_snapshot`, queue task events with :meth:`_emit` and end
    :meth:`~RobotDriver.step` with ``return self._step_result(events)``.
    """

    __slots__ = ("_dirty", "_emitted_seq", "_id", "_pending", "_seq", "_snap")

    def __init__(self, robot_id: str) -> None:
        self._id = robot_id
        self._pending: list[DriverEvent] | None = None
        self._seq = 0
        self._emitted_seq = 0
        self._snap: DriverStatus | None = None
        self._dirty = True

    @property
    def robot_id(self) -> str:
        """The robot this driver controls."""
        return self._id

    @abc.abstractmethod
    def _snapshot(self, seq: int) -> DriverStatus:
        """A new snapshot of the driver's state, numbered ``seq``."""

    @property
    def status(self) -> DriverStatus:
        """The current snapshot (rebuilt only after a change)."""
        snap = self._snap
        if self._dirty or snap is None:
            self._dirty = False
            self._seq += 1
            snap = self._snap = self._snapshot(self._seq)
        return snap

    def _refuse_unless_free(
        self, errors: Iterable[DriverError], running: str | None, *, fix: str = ""
    ) -> None:
        """The checks every driver makes before a task: no FATAL error in ``errors``
        (:class:`DriverRejected`, naming the codes; ``fix`` says what to do), no task
        ``running`` (its id: :class:`DriverBusy`)."""
        fatal = [e.code for e in errors if e.level == "FATAL"]
        if fatal:
            raise DriverRejected(f"robot {self._id} is in ERROR ({', '.join(fatal)}){fix}")
        if running is not None:
            raise DriverBusy(
                f"robot {self._id} is already executing task {running!r}; cancel it or wait for it to finish"
            )

    def _emit(self, event: DriverEvent) -> None:
        """Queue a task event for the next step's result."""
        if self._pending is None:
            self._pending = [event]
        else:
            self._pending.append(event)

    def _step_result(self, events: list[DriverEvent] | None) -> list[DriverEvent]:
        """``events`` (the queued ones, maybe more) and a :class:`StatusChanged` after a change."""
        if self._dirty or self._seq != self._emitted_seq:
            status = self.status
            self._emitted_seq = status.seq
            if events is None:
                events = []
            events.append(StatusChanged(status))
        if events is None:
            return _NO_EVENTS
        self._pending = None
        return events
