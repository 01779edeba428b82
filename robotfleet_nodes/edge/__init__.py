"""The edge tier: :class:`EdgeNode` (one robot on the bus), :class:`EdgeComponent` (many in one
container), and the driver interface a robot implements (:class:`RobotDriver` and its value
types; :class:`SimulatedRobot` is the default driver). The ``edge`` executable is :mod:`.main`.

Names are imported on first access (the package stays cheap to import): the other tiers
import single modules of it, and :mod:`.main` loads :mod:`.node` only when it starts one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes._lazy import lazy_attributes

if TYPE_CHECKING:
    from robotfleet_nodes.edge.component import EdgeComponent
    from robotfleet_nodes.edge.driver import (
        DriverBusy,
        DriverError,
        DriverEvent,
        DriverRejected,
        DriverStatus,
        ErrorLevel,
        OperatingMode,
        Pose2D,
        RobotDriver,
        RobotDriverError,
        RobotState,
        SnapshotDriver,
        StatusChanged,
        TaskFinished,
        TaskOutcome,
        TaskProgress,
        TaskRejected,
        TaskRequest,
    )
    from robotfleet_nodes.edge.journal import ExecutionJournal
    from robotfleet_nodes.edge.node import EdgeNode
    from robotfleet_nodes.edge.sim import SimConfig, SimulatedRobot

_WHERE = {
    "DriverBusy": "driver",
    "DriverError": "driver",
    "DriverEvent": "driver",
    "DriverRejected": "driver",
    "DriverStatus": "driver",
    "EdgeComponent": "component",
    "EdgeNode": "node",
    "ExecutionJournal": "journal",
    "ErrorLevel": "driver",
    "OperatingMode": "driver",
    "Pose2D": "driver",
    "RobotDriver": "driver",
    "RobotDriverError": "driver",
    "RobotState": "driver",
    "SimConfig": "sim",
    "SimulatedRobot": "sim",
    "SnapshotDriver": "driver",
    "StatusChanged": "driver",
    "TaskFinished": "driver",
    "TaskOutcome": "driver",
    "TaskProgress": "driver",
    "TaskRejected": "driver",
    "TaskRequest": "driver",
}

__all__ = [
    "DriverBusy",
    "DriverError",
    "DriverEvent",
    "DriverRejected",
    "DriverStatus",
    "EdgeComponent",
    "EdgeNode",
    "ErrorLevel",
    "ExecutionJournal",
    "OperatingMode",
    "Pose2D",
    "RobotDriver",
    "RobotDriverError",
    "RobotState",
    "SimConfig",
    "SimulatedRobot",
    "SnapshotDriver",
    "StatusChanged",
    "TaskFinished",
    "TaskOutcome",
    "TaskProgress",
    "TaskRejected",
    "TaskRequest",
]

__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
