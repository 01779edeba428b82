"""ROS 2 client-library compatibility: this package's ``rclpy``, served as the top-level ``rclpy``
(and ``ament_index_python``, ``launch``, ``launch_ros`` the same way).

Import it as ``rclpy`` (``robotfleet_nodes._import_hook.CompatFinder`` serves
``compat/rclpy/`` under that name, see docs/ros2-compat.md, "Coexistence"), never as
``robotfleet_nodes.compat.rclpy``: that would be a second, separate copy of its state
(for ``launch``: of its classes, which ``isinstance`` checks rely on).
"""

from __future__ import annotations

__all__: list[str] = []
