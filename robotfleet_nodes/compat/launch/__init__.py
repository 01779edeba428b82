"""``launch`` over RobotFleetOS's launch runtime (served as the top-level ``launch``).

ROS 2's Python launch API (ros2/launch, Jazzy signatures) as adapters: building a
description records what the launch file wrote; when our runtime
(:mod:`robotfleet_nodes.launch`) visits an adapter, its substitutions are performed and the
work is done by our entities. ``rfos launch file.launch.py`` binds this package while it
loads the file, whatever else is importable. See docs/ros2-compat.md.
"""

from __future__ import annotations

from robotfleet_nodes.launch import LaunchEntity as LaunchDescriptionEntity

from . import (
    actions,
    conditions,
    event_handlers,
    events,
    launch_description_sources,
    substitutions,
    utilities,
)
from ._context import LaunchContext, SomeSubstitutionsType
from .actions import Action
from .conditions import Condition
from .launch_description import LaunchDescription
from .launch_service import LaunchService
from .substitutions import Substitution

__all__ = [
    "Action",
    "Condition",
    "LaunchContext",
    "LaunchDescription",
    "LaunchDescriptionEntity",
    "LaunchService",
    "SomeSubstitutionsType",
    "Substitution",
    "actions",
    "conditions",
    "event_handlers",
    "events",
    "launch_description_sources",
    "substitutions",
    "utilities",
]
