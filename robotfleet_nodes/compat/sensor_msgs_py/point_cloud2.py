"""``sensor_msgs_py.point_cloud2``: ``sensor_msgs/PointCloud2`` messages to and from numpy.

A cloud is ``height x width`` points of ``point_step`` bytes each (rows ``row_step`` bytes
apart) in ``data``; each ``sensor_msgs/PointField`` names a value at ``offset`` in a point, of
``datatype`` (INT8 ... FLOAT64), ``count`` times. :func:`dtype_from_fields` turns the fields
into a numpy structured dtype, so reading a cloud is a view of its bytes:

- :func:`read_points`: a structured array (one record per point, named fields);
- :func:`read_points_numpy`: a plain ``(points, fields)`` array (fields of one datatype);
- :func:`read_points_list`: a list of ``Point`` named tuples;
- :func:`create_cloud` / :func:`create_cloud_xyz32`: a message from points (rows of values,
  a 2-D array or a structured array).

Points are in this machine's byte order (``is_bigendian`` is set accordingly); a cloud of the
other byte order is converted when read.
"""

from __future__ import annotations

import sys
from collections import namedtuple
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.lib import recfunctions

from robotfleet_nodes.node.parameters import interface_class

__all__ = [
    "DUMMY_FIELD_PREFIX",
    "create_cloud",
    "create_cloud_xyz32",
    "dtype_from_fields",
    "fields_from_dtype",
    "read_points",
    "read_points_list",
    "read_points_numpy",
]

#: The name of padding bytes in dtypes built from fields with gaps (kept for rclpy users).
DUMMY_FIELD_PREFIX = "unnamed_field"

# sensor_msgs/PointField's datatype constants -> numpy scalar types.
_NUMPY_OF: dict[int, np.dtype[Any]] = {
    1: np.dtype(np.int8),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int16),
    4: np.dtype(np.uint16),
    5: np.dtype(np.int32),
    6: np.dtype(np.uint32),
    7: np.dtype(np.float32),
    8: np.dtype(np.float64),
}
_DATATYPE_OF = {dtype: datatype for datatype, dtype in _NUMPY_OF.items()}
_NATIVE_BIG = sys.byteorder == "big"


def _point_cloud2() -> Any:
    return interface_class("sensor_msgs/msg/PointCloud2")


def _point_field() -> Any:
    return interface_class("sensor_msgs/msg/PointField")


def dtype_from_fields(fields: Iterable[Any], point_step: int | None = None) -> np.dtype[Any]:
    """The numpy structured dtype of points with these ``PointField`` s (``point_step``: the
    record size, else where the last field ends). ``count > 1`` is a sub-array field."""
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    end = 0
    for field in fields:
        if field.datatype not in _NUMPY_OF:
            raise ValueError(
                f"PointField {field.name!r} has datatype {field.datatype}: use one of "
                "PointField.INT8 ... PointField.FLOAT64 (1..8)"
            )
        scalar = _NUMPY_OF[field.datatype]
        count = max(int(field.count), 1)
        names.append(field.name)
        formats.append(scalar if count == 1 else np.dtype((scalar, (count,))))
        offsets.append(int(field.offset))
        end = max(end, int(field.offset) + scalar.itemsize * count)
    itemsize = end if point_step is None else int(point_step)
    if itemsize < end:
        raise ValueError(f"point_step {point_step} is smaller than the fields' extent ({end} bytes)")
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize})


def fields_from_dtype(dtype: np.dtype[Any]) -> list[Any]:
    """The ``PointField`` s of a numpy structured dtype (the inverse of :func:`dtype_from_fields`)."""
    if dtype.names is None:
        raise TypeError(f"{dtype} is not a structured dtype: give one with named fields")
    fields = []
    for name in dtype.names:
        field_dtype, offset = dtype.fields[name][:2]  # type: ignore[index]
        base, shape = field_dtype.base, field_dtype.shape
        datatype = _DATATYPE_OF.get(base.newbyteorder("="))
        if datatype is None:
            raise TypeError(f"field {name!r} is {base}: PointCloud2 holds (u)int8/16/32 and float32/64")
        count = int(np.prod(shape)) if shape else 1
        fields.append(_point_field()(name=name, offset=offset, datatype=datatype, count=count))
    return fields


def read_points(
    cloud: Any,
    field_names: Sequence[str] | None = None,
    skip_nans: bool = False,
    uvs: Iterable[Any] | None = None,
    reshape_organized_cloud: bool = False,
) -> np.ndarray[Any, Any]:
    """The points of ``cloud`` as a numpy structured array (only ``field_names`` if given).

    ``skip_nans``: drop points with a NaN in a (selected) field; ``uvs``: only the points at
    these ``(u, v)`` (column, row) positions, in that order; ``reshape_organized_cloud``: a
    ``(height, width)`` array instead of a flat one (not with ``skip_nans`` or ``uvs``).
    """
    dtype = dtype_from_fields(cloud.fields, cloud.point_step)
    count = int(cloud.width) * int(cloud.height)
    data = bytes(cloud.data)
    if cloud.row_step != cloud.width * cloud.point_step and cloud.height > 1:  # padded rows
        data = b"".join(
            data[row * cloud.row_step : row * cloud.row_step + cloud.width * cloud.point_step]
            for row in range(cloud.height)
        )
    if bool(cloud.is_bigendian) != _NATIVE_BIG:
        dtype = dtype.newbyteorder()
    points: np.ndarray[Any, Any] = np.frombuffer(data, dtype=dtype, count=count)
    if bool(cloud.is_bigendian) != _NATIVE_BIG:
        points = points.astype(dtype.newbyteorder())
    if field_names is not None:
        unknown = [name for name in field_names if name not in (dtype.names or ())]
        if unknown:
            raise ValueError(
                f"the cloud has no field {unknown[0]!r}: its fields are {list(dtype.names or ())}"
            )
        points = recfunctions.repack_fields(points[list(field_names)])
    if uvs is not None:
        indices = [int(v) * int(cloud.width) + int(u) for u, v in uvs]
        points = points[indices]
    if skip_nans:
        keep = np.ones(points.shape, dtype=bool)
        for name in points.dtype.names or ():
            values = points[name]
            if values.dtype.kind == "f":
                nan = np.isnan(values)
                keep &= ~(nan.reshape(len(points), -1).any(axis=1) if values.ndim > 1 else nan)
        points = points[keep]
    if reshape_organized_cloud and cloud.height > 1:
        if skip_nans or uvs is not None:
            raise ValueError("reshape_organized_cloud cannot be combined with skip_nans or uvs")
        points = points.reshape(int(cloud.height), int(cloud.width))
    return points


def read_points_numpy(
    cloud: Any,
    field_names: Sequence[str] | None = None,
    skip_nans: bool = False,
    uvs: Iterable[Any] | None = None,
    reshape_organized_cloud: bool = False,
) -> np.ndarray[Any, Any]:
    """The points as a plain array, one column per field; all fields must share a datatype."""
    selected = [f for f in cloud.fields if field_names is None or f.name in field_names]
    if len({f.datatype for f in selected}) > 1:
        raise TypeError("read_points_numpy needs fields of one datatype; use read_points for mixed datatypes")
    points = read_points(cloud, field_names, skip_nans, uvs, reshape_organized_cloud)
    return recfunctions.structured_to_unstructured(points)


def read_points_list(
    cloud: Any,
    field_names: Sequence[str] | None = None,
    skip_nans: bool = False,
    uvs: Iterable[Any] | None = None,
) -> list[Any]:
    """The points as ``Point`` named tuples (attributes: the field names)."""
    names = list(field_names) if field_names is not None else [f.name for f in cloud.fields]
    point = namedtuple("Point", names)  # type: ignore[misc]  # rclpy's Point
    return [point._make(values) for values in read_points(cloud, names, skip_nans, uvs).tolist()]


def _structured(points: Any, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """``points`` as records of ``dtype``, padding bytes zero (the message bytes are defined)."""
    names = list(dtype.names or ())
    if not (isinstance(points, np.ndarray) and points.dtype.names is not None):
        packed = np.dtype([(name, dtype.fields[name][0]) for name in names])  # type: ignore[index]
        if isinstance(points, np.ndarray) and points.ndim >= 2:
            points = recfunctions.unstructured_to_structured(points, dtype=packed)
        else:
            points = np.array([tuple(point) for point in points], dtype=packed)
    out = np.zeros(points.shape, dtype=dtype)
    for name in names:
        out[name] = points[name]
    return out


def create_cloud(header: Any, fields: Sequence[Any], points: Any, point_step: int | None = None) -> Any:
    """A ``sensor_msgs/PointCloud2`` of ``points`` with these ``fields``: rows of values in
    field order, a ``(points, fields)`` array, or a structured array (2-D: an organized
    ``height x width`` cloud). Unordered clouds are one row (``height`` 1)."""
    dtype = dtype_from_fields(fields, point_step)
    array = _structured(points, dtype)
    height, width = (array.shape[0], array.shape[1]) if array.ndim == 2 else (1, len(array))
    return _point_cloud2()(
        header=header,
        height=height,
        width=width,
        fields=list(fields),
        is_bigendian=_NATIVE_BIG,
        point_step=dtype.itemsize,
        row_step=dtype.itemsize * width,
        data=array.tobytes(),
        is_dense=False,
    )


def create_cloud_xyz32(header: Any, points: Any) -> Any:
    """A cloud of ``(x, y, z)`` points as three FLOAT32 fields (12-byte points)."""
    field = _point_field()
    fields = [field(name=name, offset=4 * i, datatype=7, count=1) for i, name in enumerate("xyz")]
    return create_cloud(header, fields, points)
