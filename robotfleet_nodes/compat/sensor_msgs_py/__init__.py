"""``sensor_msgs_py``: the Python companion of ``sensor_msgs`` (served as the top-level name).

Only :mod:`sensor_msgs_py.point_cloud2` (PointCloud2 <-> numpy), written from the message
definition.
"""

from __future__ import annotations

__all__: list[str] = []
