"""RobotFleetOS: a ROS 2-style node framework on NATS, and the robot fleet built on it.

Importing the package installs the interface import hook (cheap: nothing is compiled
until a type is first looked up), so ``from std_msgs.msg import String`` works after
``import robotfleet_nodes``.
"""

from __future__ import annotations

import robotfleet_nodes.idl as _idl  # noqa: F401 - installs the import hook

__version__ = "0.1.0"

__all__ = ["__version__"]
