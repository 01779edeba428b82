"""RobotFleetOS: a ROS 2-style node framework on NATS, and the robot fleet built on it.

The interface import hook (``_import_hook``) is installed when the interpreter starts
(by ``robotfleet_nodes-import-hook.pth`` in site-packages) and again, idempotently, when
the package is imported, so ``from std_msgs.msg import String`` works on the first line
of a script. Importing the package is cheap: nothing heavy loads until a type is used.
"""

from __future__ import annotations

from robotfleet_nodes import _import_hook

__version__ = "0.1.0"

__all__ = ["__version__"]

_import_hook.install()
