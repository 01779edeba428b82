"""``rclpy.action``: action servers and clients whose callbacks run on executors.

Built on RobotFleetOS's asyncio actions (wire-compatible with ROS 2's ``_action/*``
services and topics); the user's callbacks run on the executors, as in rclpy.
"""

from __future__ import annotations

from .client import ActionClient
from .server import ActionServer, CancelResponse, GoalResponse

__all__ = ["ActionClient", "ActionServer", "CancelResponse", "GoalResponse"]
