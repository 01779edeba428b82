"""How simulated robots behave: :class:`SimConfig`, checked when built (see
:mod:`robotfleet_nodes.edge.sim` for the model it configures)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from robotfleet_nodes.edge.driver import Pose2D
from robotfleet_nodes.errors import ConfigError

__all__ = ["SimConfig"]

_ORIGIN = Pose2D(0.0, 0.0, 0.0)


def _default_work_times() -> Mapping[str, float]:
    return MappingProxyType({"pick": 5.0, "place": 5.0, "inspect": 10.0, "move": 0.0})


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How simulated robots behave; checked when built (:class:`ConfigError` names the field).

    Rates are in percent of battery per second; times in seconds; distances in metres.
    """

    speed: float = 1.0
    """Travel speed, m/s."""
    battery_drain_per_s: float = 0.05
    """Drain while moving or working, %/s."""
    idle_drain_per_s: float = 0.005
    """Drain while idle or driving nowhere, %/s."""
    charge_rate_per_s: float = 0.5
    """Charge rate on the dock, %/s."""
    min_battery_to_accept: float = 15.0
    """Tasks are refused below this battery level, %."""
    recharge_below_percent: float = 30.0
    """An idle robot at or below this goes charging; 0 disables auto-charging."""
    charge_target_percent: float = 100.0
    """Charging stops (robot IDLE) at this level."""
    dock: Pose2D = _ORIGIN
    """Where robots charge."""
    work_time_s: Mapping[str, float] = field(default_factory=_default_work_times)
    """Seconds of work at the target per task name (e.g. ``pick``)."""
    default_work_time_s: float = 2.0
    """Work time for task names not in ``work_time_s``."""
    area: tuple[float, float, float, float] = (0.0, 0.0, 50.0, 50.0)
    """``(xmin, ymin, xmax, ymax)`` for targets chosen when a request has none."""
    task_failure_probability: float = 0.0
    """Chance that a task fails part-way (``SIM_INJECTED_FAILURE``)."""
    error_probability_per_s: float = 0.0
    """Chance per second of operation of a FATAL random fault (robot in ERROR)."""
    offline_probability_per_s: float = 0.0
    """Chance per second of operation of going OFFLINE."""
    offline_duration_s: float = 10.0
    """How long an OFFLINE spell lasts before the robot is IDLE again."""
    seed: int = 0
    """Seeds every robot's RNG (mixed with its id) and the choice of missing targets."""

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ConfigError(f"sim.{name}: must be {rule}, got {getattr(self, name)!r}")

        def finite(v: float) -> bool:
            return isinstance(v, int | float) and math.isfinite(v)

        need(finite(self.speed) and self.speed > 0, "speed", "a number > 0")
        for name in ("battery_drain_per_s", "idle_drain_per_s", "charge_rate_per_s"):
            need(finite(getattr(self, name)) and getattr(self, name) >= 0, name, "a number >= 0")
        for name in ("min_battery_to_accept", "recharge_below_percent", "charge_target_percent"):
            need(finite(getattr(self, name)) and 0 <= getattr(self, name) <= 100, name, "within 0..100")
        need(
            self.charge_target_percent > self.recharge_below_percent,
            "charge_target_percent",
            f"greater than recharge_below_percent ({self.recharge_below_percent})",
        )
        need(
            0 <= self.task_failure_probability <= 1,
            "task_failure_probability",
            "within 0..1",
        )
        for name in ("error_probability_per_s", "offline_probability_per_s"):
            need(0 <= getattr(self, name) < 1, name, "within 0..1 (1 excluded)")
        need(finite(self.offline_duration_s) and self.offline_duration_s >= 0, "offline_duration_s", ">= 0")
        need(
            finite(self.default_work_time_s) and self.default_work_time_s >= 0,
            "default_work_time_s",
            ">= 0",
        )
        for task, secs in self.work_time_s.items():
            if not (finite(secs) and secs >= 0):
                raise ConfigError(f"sim.work_time_s.{task}: must be >= 0 seconds, got {secs!r}")
        xmin, ymin, xmax, ymax = self.area
        need(xmin <= xmax and ymin <= ymax, "area", "(xmin, ymin, xmax, ymax) with min <= max")
        for name in ("x", "y", "theta"):
            if not finite(getattr(self.dock, name)):
                raise ConfigError(f"sim.dock.{name}: must be a finite number")
