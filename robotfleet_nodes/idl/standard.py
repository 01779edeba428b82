"""The standard interface classes this package's own code uses, typed.

Library code must not ``from builtin_interfaces.msg import Time``: with a real ROS 2
installation that import returns rosidl's class (a real install wins, see ``_importer``),
which the pydantic messages of this package do not accept as a field value. The classes
here always come from the default registry, looked up on first use (importing this
module costs nothing); mypy sees them through the generated stubs in
``robotfleet_nodes/typings`` (``make stubs``), which ``tests/idl/test_stubs.py`` checks
against these very classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes.idl._message import Message
from robotfleet_nodes.idl._registry import default_registry

__all__ = ["BatteryState", "Log", "Pose2D", "Time"]

#: Name here -> full ROS name (every entry has a stub import below).
STANDARD_TYPES: dict[str, str] = {
    "BatteryState": "sensor_msgs/msg/BatteryState",
    "Log": "rcl_interfaces/msg/Log",
    "Pose2D": "geometry_msgs/msg/Pose2D",
    "Time": "builtin_interfaces/msg/Time",
}

if TYPE_CHECKING:
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import Pose2D
    from rcl_interfaces.msg import Log
    from sensor_msgs.msg import BatteryState
else:

    def __getattr__(name: str) -> type[Message]:
        full_name = STANDARD_TYPES.get(name)
        if full_name is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        cls = default_registry().get_class(full_name)
        globals()[name] = cls  # the next lookup skips __getattr__
        return cls
