"""``launch_ros`` over RobotFleetOS's launch runtime (served as the top-level ``launch_ros``).

ROS nodes, lifecycle nodes, Python component containers, namespaces and global parameters
for launch files written against ros2/launch_ros (Jazzy signatures); built on this
package's ``launch`` adapters. See docs/ros2-compat.md.
"""

from __future__ import annotations

from . import actions, descriptions, parameter_descriptions, substitutions

__all__ = ["actions", "descriptions", "parameter_descriptions", "substitutions"]
