"""The driver an edge builds from its configuration (:func:`driver_from_config`).

Re-exported by :mod:`robotfleet_nodes.edge.node`, where callers import it from.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.edge.driver import Pose2D, RobotDriver
from robotfleet_nodes.edge.sim import SimConfig, SimulatedRobot

if TYPE_CHECKING:
    from robotfleet_nodes.node.context import Context

__all__ = ["driver_from_config", "parking_spot"]


def driver_from_config(config: EdgeConfig, context: Context | None = None) -> RobotDriver:
    """The driver ``config`` asks for: a :class:`SimulatedRobot` for ``driver: sim``, a
    :class:`~robotfleet_nodes.edge.dds_bridge.DdsBridgeDriver` for ``driver: dds``, a
    :class:`~robotfleet_nodes.edge.vda5050.Vda5050Driver` on ``context``'s transport (the
    edge's NATS connection) for ``driver: vda5050``.

    Raises:
        DdsUnavailable: ``driver: dds`` without cyclonedds installed (says how to install it).
    """
    if config.driver == "dds":
        from robotfleet_nodes.edge.dds_bridge import DdsBridgeDriver  # DDS is an optional extra

        return DdsBridgeDriver(config.robot_id, config.dds)
    if config.driver == "vda5050":
        from robotfleet_nodes.edge.vda5050 import Vda5050Driver

        return Vda5050Driver(
            config.robot_id, config.vda5050, None, context=context, tls_ca=config.messaging.tls_ca
        )
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
        Pose2D(start.x, start.y, start.theta) if start is not None else parking_spot(config),
        battery_percent=sim.battery_start_percent,
    )


def parking_spot(config: EdgeConfig) -> Pose2D:
    """Where a simulated robot without ``sim.start_pose`` starts: a spot of its own in ``sim.area``.

    Derived from the robot id (stable across restarts), so a fleet does not start with
    every robot stacked on the dock.
    """
    digest = hashlib.blake2b(config.robot_id.encode(), digest_size=8).digest()
    fx = int.from_bytes(digest[:4], "little") / 2**32
    fy = int.from_bytes(digest[4:], "little") / 2**32
    x0, y0, x1, y1 = config.sim.area
    return Pose2D(x0 + fx * (x1 - x0), y0 + fy * (y1 - y0), 0.0)
