"""Test helper (not a test module): a simulated robot that calls itself a VDA 5050 vehicle.

:func:`vda_like` makes a ``small_fleet(drivers=...)`` entry: the robot's driver is a
:class:`VdaLikeRobot` (kind ``vda5050``) with :data:`FACTSHEET`, a factsheet that validates
against the VDA 5050 2.1.0 schema. The real driver (``robotfleet_nodes.edge.vda5050``) is
tested with the vehicle simulator elsewhere.
"""

from __future__ import annotations

import copy
from typing import Any

from robotfleet_nodes import vda5050
from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.edge.sim import SimulatedRobot
from robotfleet_nodes.vda5050.sim import factsheet_body

FACTSHEET: dict[str, Any] = {
    "headerId": 1,
    "timestamp": "2026-12-05T22:00:00.00Z",
    "version": "2.1.0",
    "manufacturer": "RobotFleetSim",
    "serialNumber": "SN.2",
    **factsheet_body(speed=2.0, work_time_s=0.5, state_period_s=5.0),
}


class VdaLikeRobot(SimulatedRobot):
    """A simulated robot that calls itself a VDA 5050 vehicle and has a factsheet."""

    kind = "vda5050"

    def __init__(self, config: EdgeConfig, sheet: dict[str, Any] | None) -> None:
        super().__init__(config.robot_id, config.sim)
        self.sheet = sheet

    @property
    def factsheet(self) -> dict[str, Any] | None:
        return self.sheet


def vda_like(sheet: dict[str, Any] | None = FACTSHEET) -> Any:
    """``EdgeConfig`` -> a :class:`VdaLikeRobot` with (a copy of) ``sheet`` (None: none yet)."""
    if sheet is not None:
        vda5050.validate("factsheet", sheet)  # what the tests store is a real factsheet
    return lambda config: VdaLikeRobot(config, copy.deepcopy(sheet))
