"""``sensor_msgs_py.point_cloud2`` (served by the compat finder): clouds to and from numpy.

Real ROS 2 here has no sensor_msgs_py: the reference is the PointCloud2 definition itself
(bytes built by hand with ``struct``).
"""

from __future__ import annotations

import importlib
import math
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robotfleet_nodes.idl.codec import Encoding, deserialize, serialize

pc2: Any = importlib.import_module("sensor_msgs_py.point_cloud2")
sensor_msgs: Any = importlib.import_module("sensor_msgs.msg")
std_msgs: Any = importlib.import_module("std_msgs.msg")
PointField = sensor_msgs.PointField

XYZ = [(1.0, 2.0, 3.0), (-1.5, 0.25, 1e6), (0.0, -0.0, 7.0)]


def header() -> Any:
    return std_msgs.Header(frame_id="map")


def mixed_fields() -> list[Any]:
    """x, y, z float32, a gap, rgb uint8 x3, time float64, ring uint16 (point_step 32)."""
    return [
        PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name="y", offset=4, datatype=PointField.FLOAT32, count=1),
        PointField(name="z", offset=8, datatype=PointField.FLOAT32, count=1),
        PointField(name="rgb", offset=16, datatype=PointField.UINT8, count=3),
        PointField(name="time", offset=20, datatype=PointField.FLOAT64, count=1),
        PointField(name="ring", offset=28, datatype=PointField.UINT16, count=1),
    ]


def mixed_points() -> list[tuple[Any, ...]]:
    return [
        (1.0, 2.0, 3.0, (1, 2, 3), 0.5, 7),
        (math.nan, 0.0, 1.0, (4, 5, 6), 1.5, 8),
        (4.0, 5.0, 6.0, (7, 8, 9), 2.5, 9),
    ]


def test_create_cloud_xyz32_is_byte_for_byte_the_definition() -> None:
    cloud = pc2.create_cloud_xyz32(header(), XYZ)
    assert type(cloud) is sensor_msgs.PointCloud2
    assert bytes(cloud.data) == b"".join(struct.pack("<fff", *p) for p in XYZ)
    assert (cloud.height, cloud.width, cloud.point_step, cloud.row_step) == (1, 3, 12, 36)
    assert (cloud.is_bigendian, cloud.is_dense, cloud.header.frame_id) == (False, False, "map")
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == [
        ("x", 0, 7, 1),
        ("y", 4, 7, 1),
        ("z", 8, 7, 1),
    ]


def test_mixed_fields_round_trip_through_cdr() -> None:
    cloud = pc2.create_cloud(header(), mixed_fields(), mixed_points())
    assert (cloud.point_step, cloud.width, len(cloud.data)) == (30, 3, 90)
    packed = struct.pack("<fff4x3BxdH", 4.0, 5.0, 6.0, 7, 8, 9, 2.5, 9)
    assert bytes(cloud.data)[60:] == packed
    again = deserialize(sensor_msgs.PointCloud2, serialize(cloud, Encoding.CDR), Encoding.CDR)
    points = pc2.read_points(again)
    assert points.dtype.names == ("x", "y", "z", "rgb", "time", "ring")
    assert points["rgb"].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert points["ring"].tolist() == [7, 8, 9]
    assert points["time"].tolist() == [0.5, 1.5, 2.5]
    listed = pc2.read_points_list(again, field_names=["x", "ring"], skip_nans=True)
    assert [(p.x, p.ring) for p in listed] == [(1.0, 7), (4.0, 9)]
    assert pc2.read_points(again, field_names=["z"], uvs=[(2, 0), (0, 0)])["z"].tolist() == [6.0, 3.0]


def test_read_points_numpy_and_the_demo_cloud() -> None:
    """pointcloud_publisher's cloud: a (N, 4) float array with x, y, z, intensity."""
    fields = [
        PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyzi")
    ]
    x, y = np.meshgrid(np.linspace(-2, 2, 10), np.linspace(-2, 2, 10))
    z = 0.5 * np.sin(2 * x) * np.sin(2 * y)
    points = np.array([x, y, z, z]).reshape(4, -1).T
    cloud = pc2.create_cloud(header(), fields, points)
    assert (cloud.width, cloud.height, cloud.point_step) == (100, 1, 16)
    read = pc2.read_points_numpy(cloud)
    assert read.shape == (100, 4)
    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, points.astype(np.float32))
    assert pc2.read_points_numpy(cloud, field_names=["z", "x"]).shape == (100, 2)
    with pytest.raises(TypeError, match="one datatype"):
        pc2.read_points_numpy(pc2.create_cloud(header(), mixed_fields(), mixed_points()))


def test_organized_structured_and_big_endian_clouds() -> None:
    dtype = pc2.dtype_from_fields(mixed_fields()[:3])
    grid = np.zeros((2, 3), dtype=dtype)
    grid["x"] = np.arange(6, dtype=np.float32).reshape(2, 3)
    cloud = pc2.create_cloud(header(), mixed_fields()[:3], grid)
    assert (cloud.height, cloud.width, cloud.row_step) == (2, 3, 36)
    assert pc2.read_points(cloud, reshape_organized_cloud=True)["x"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert [(f.name, f.offset, f.datatype) for f in pc2.fields_from_dtype(dtype)] == [
        ("x", 0, 7),
        ("y", 4, 7),
        ("z", 8, 7),
    ]
    big = sensor_msgs.PointCloud2(
        height=1,
        width=2,
        fields=mixed_fields()[:3],
        is_bigendian=True,
        point_step=12,
        row_step=24,
        data=struct.pack(">ffffff", 1.0, 2.0, 3.0, 4.0, 5.0, 6.0),
    )
    assert pc2.read_points_numpy(big).tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    with pytest.raises(ValueError, match="datatype 9"):
        pc2.dtype_from_fields([PointField(name="q", offset=0, datatype=9, count=1)])
    with pytest.raises(ValueError, match="no field 'w'"):
        pc2.read_points(big, field_names=["w"])


def _import_in_fresh_python(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RFOS_ROS2")}
    return subprocess.run(
        [sys.executable, "-c", "import sensor_msgs_py.point_cloud2 as m; print(m.__name__)"],
        cwd=tmp_path,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_served_unless_a_real_rclpy_would_get_our_classes(tmp_path: Path) -> None:
    assert _import_in_fresh_python(tmp_path).stdout.strip() == "sensor_msgs_py.point_cloud2"
    real = tmp_path / "ros2"
    (real / "rclpy").mkdir(parents=True)
    (real / "rclpy" / "__init__.py").write_text("WHO = 'real'\n", encoding="utf-8")
    beside_real = _import_in_fresh_python(tmp_path, PYTHONPATH=str(real))
    assert "No module named 'sensor_msgs_py'" in beside_real.stderr
    forced = _import_in_fresh_python(tmp_path, PYTHONPATH=str(real), RFOS_ROS2="rfos")
    assert forced.stdout.strip() == "sensor_msgs_py.point_cloud2", forced.stderr
