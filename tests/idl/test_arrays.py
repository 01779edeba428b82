"""Numeric sequences are ``array.array`` (idl/_arrays.py): construction, validation, JSON, CDR.

The CDR bytes are compared with rosbags' serialiser (little- and big-endian), the JSON with
the list-of-numbers encoding older peers write and read.
"""

from __future__ import annotations

import array
import json
import math
import struct
from typing import Any, NamedTuple

import numpy as np
import pydantic
import pytest

from robotfleet_nodes.errors import DecodeError, EncodeError
from robotfleet_nodes.idl import Message, TypeRegistry, default_registry
from robotfleet_nodes.idl._arrays import TYPECODES
from robotfleet_nodes.idl.codec import deserialize, serialize
from tests.idl._rosbags_helpers import typestore


class Case(NamedTuple):
    base: str  #: ROS element type
    name: str  #: its std_msgs MultiArray
    code: str  #: rclpy's typecode
    dtype: Any  #: numpy dtype
    sample: list[Any]  #: in-range values
    bad: Any  #: an out-of-range value (integers)


MULTI = [
    Case("int8", "Int8MultiArray", "b", np.int8, [-128, 0, 127], 128),
    Case("int16", "Int16MultiArray", "h", np.int16, [-32768, 1, 32767], -32769),
    Case("int32", "Int32MultiArray", "i", np.int32, [-(2**31), 2, 2**31 - 1], 2**31),
    Case("int64", "Int64MultiArray", "q", np.int64, [-(2**63), 3, 2**63 - 1], 2**63),
    Case("uint16", "UInt16MultiArray", "H", np.uint16, [0, 4, 65535], 65536),
    Case("uint32", "UInt32MultiArray", "I", np.uint32, [0, 5, 2**32 - 1], -1),
    Case("uint64", "UInt64MultiArray", "Q", np.uint64, [0, 6, 2**64 - 1], 2**64),
    Case("float32", "Float32MultiArray", "f", np.float32, [-1.5, 0.0, 3.25], None),
    Case("float64", "Float64MultiArray", "d", np.float64, [-1e300, 0.1, math.pi], None),
]
IDS = [row[0] for row in MULTI]


def _cls(name: str) -> type[Message]:
    return default_registry().get_class(f"std_msgs/msg/{name}")


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    registry = TypeRegistry()
    registry.add_text(
        "arr_test/msg/Seqs",
        "int32[<=3] bounded\nfloat32[] f32\nint16[] with_default [1, -2]\n"
        "float64[3] fixed\nbool[] flags\nstring[] names\nuint8[] blob\nchar[] chars",
    )
    return registry


@pytest.fixture(scope="module")
def seqs(registry: TypeRegistry) -> type[Message]:
    return registry.get_class("arr_test/msg/Seqs")


# --- representation ------------------------------------------------------------------------


@pytest.mark.parametrize("case", MULTI, ids=IDS)
def test_each_numeric_sequence_is_an_array_of_rclpys_typecode(case: Case) -> None:
    base, name, code, dtype, sample, _ = case
    assert TYPECODES[base] == code
    assert array.array(code).itemsize == np.dtype(dtype).itemsize
    msg = _cls(name)(data=sample)
    assert type(msg.data) is array.array
    assert msg.data.typecode == code
    assert msg.data.tolist() == sample
    empty = _cls(name)()
    assert empty.data == array.array(code)
    assert empty.data is not _cls(name)().data  # a fresh default per instance


def test_other_arrays_keep_their_types(seqs: type[Message]) -> None:
    msg = seqs(fixed=[1, 2, 3], flags=[True], names=["a"], blob=[1, 2], chars=[65])
    assert msg.fixed == [1.0, 2.0, 3.0]  # fixed-size arrays stay lists
    assert msg.flags == [True]
    assert msg.names == ["a"]
    assert msg.blob == b"\x01\x02"  # uint8[] stays bytes
    assert msg.chars == [65]
    assert msg.with_default == array.array("h", [1, -2])
    first = seqs()
    first.with_default.append(7)
    assert seqs().with_default == array.array("h", [1, -2])


def test_float32_elements_are_rounded_to_float32() -> None:
    msg = _cls("Float32MultiArray")(data=[0.1, 1e-50])
    assert msg.data[0] == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    assert msg.data[0] != 0.1
    assert msg.data[1] == 0.0


# --- accepted inputs -----------------------------------------------------------------------


def test_an_array_of_the_right_typecode_is_stored_as_is() -> None:
    values = array.array("d", [1.0, 2.0])
    assert _cls("Float64MultiArray")(data=values).data is values


@pytest.mark.parametrize(
    "value",
    [
        (1, -2, 3),
        array.array("b", [1, -2, 3]),
        array.array("q", [1, -2, 3]),
        np.array([1, -2, 3], dtype=np.int64),
        np.array([1, -2, 3], dtype=">i4"),  # byte order converted
        np.array([9, 1, 9, -2, 9, 3], dtype=np.int16)[1::2],  # not contiguous
        memoryview(array.array("i", [1, -2, 3])),
        memoryview(array.array("q", [1, -2, 3])),  # another format: values converted
        iter([1, -2, 3]),
    ],
    ids=[
        "tuple",
        "array-b",
        "array-q",
        "numpy-int64",
        "numpy-be",
        "numpy-strided",
        "mv-i",
        "mv-q",
        "iterator",
    ],
)
def test_int32_sequences_accept_any_sequence_of_integers(value: Any) -> None:
    msg = _cls("Int32MultiArray")(data=value)
    assert msg.data == array.array("i", [1, -2, 3])


def test_bytes_are_the_raw_native_memory_of_the_elements() -> None:
    grid = _cls("Int8MultiArray")(data=b"\xff\x00\x7f\x80")
    assert grid.data.tolist() == [-1, 0, 127, -128]
    doubles = _cls("Float64MultiArray")(data=array.array("d", [1.5, -2.0]).tobytes())
    assert doubles.data.tolist() == [1.5, -2.0]
    assert _cls("Int16MultiArray")(data=bytearray(b"\x01\x00")).data.tolist() == [1]


def test_floats_accept_integers_and_numpy_floats() -> None:
    cls = _cls("Float64MultiArray")
    assert cls(data=[1, 2.5]).data == array.array("d", [1.0, 2.5])
    assert cls(data=np.array([1, 2], dtype=np.int8)).data == array.array("d", [1.0, 2.0])
    assert _cls("Float32MultiArray")(data=np.linspace(0, 1, 3)).data == array.array("f", [0.0, 0.5, 1.0])


def test_a_16m_element_occupancy_grid_from_numpy_and_bytes() -> None:
    grid_cls = default_registry().get_class("nav_msgs/msg/OccupancyGrid")
    cells = np.tile(np.array([0, 100, -1, 42], dtype=np.int8), 4_000_000)
    grid = grid_cls(data=cells)
    assert grid.data.typecode == "b"
    assert len(grid.data) == 16_000_000
    assert grid.data[:4].tolist() == [0, 100, -1, 42] and grid.data[-1] == 42
    assert grid_cls(data=cells.tobytes()).data == grid.data
    raw = serialize(grid, "cdr")
    assert raw.endswith(struct.pack("<I", 16_000_000) + cells.tobytes())
    back = deserialize(grid_cls, raw, "cdr")
    assert type(back.data) is array.array and back.data.typecode == "b"
    assert len(back.data) == 16_000_000
    assert back.data == grid.data
    assert np.array_equal(np.frombuffer(back.data, dtype=np.int8), cells)


# --- validation errors ---------------------------------------------------------------------


@pytest.mark.parametrize("case", MULTI[:7], ids=IDS[:7])
def test_out_of_range_integers_are_validation_errors(case: Case) -> None:
    base, name, bad = case.base, case.name, case.bad
    with pytest.raises(pydantic.ValidationError, match=rf"element 2 \({bad}\) is out of range for {base}"):
        _cls(name)(data=[0, 0, bad])
    with pytest.raises(DecodeError, match="data"):
        deserialize(_cls(name), json.dumps({"data": [bad]}).encode())


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("Int32MultiArray", [1, True], r"element 1 \(True, bool\) should be an integer \(int32\)"),
        ("Int32MultiArray", [1.5], r"element 0 \(1.5, float\) should be an integer"),
        ("Int32MultiArray", ["1"], r"element 0 \('1', str\) should be an integer"),
        ("Float64MultiArray", [1.0, False], r"element 1 \(False, bool\) should be a number \(float64\)"),
        ("Float64MultiArray", [None], r"element 0 \(None, NoneType\) should be a number"),
        ("Float32MultiArray", [1.0, 1e39], r"element 1 \(1e\+39\) is beyond float32's range"),
        ("Float32MultiArray", np.array([1e39]), r"element 0 \(1e\+39\) is beyond float32's range"),
        ("Int8MultiArray", np.array([1, 300], dtype=np.int16), r"element 1 \(300\) is out of range for int8"),
        ("UInt16MultiArray", np.array([-1], dtype=np.int64), r"element 0 \(-1\) is out of range for uint16"),
        ("Int32MultiArray", np.array([1.0]), "expected integers .int32., got a numpy float64 array"),
        ("Float64MultiArray", np.array([True]), "expected numbers .float64., got a numpy bool array"),
        ("Int8MultiArray", np.zeros((2, 2), dtype=np.int8), r"1-D numpy array, got shape \(2, 2\)"),
        ("Int32MultiArray", b"\x00\x01\x02", "multiple of 4 bytes, got 3"),
        ("Int32MultiArray", "123", "expected a sequence of int32"),
        ("Int32MultiArray", 5, "expected a sequence of int32"),
        ("Int32MultiArray", {"a": 1}, "expected a sequence of int32"),
        ("Int8MultiArray", array.array("h", [1000]), r"element 0 \(1000\) is out of range for int8"),
    ],
)
def test_wrong_elements_are_validation_errors_naming_the_element(name: str, value: Any, error: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=error) as info:
        _cls(name)(data=value)
    assert info.value.errors()[0]["loc"] == ("data",)


def test_bounded_sequences_hold_at_most_their_bound(seqs: type[Message]) -> None:
    assert seqs(bounded=[1, 2, 3]).bounded == array.array("i", [1, 2, 3])
    with pytest.raises(pydantic.ValidationError, match="at most 3 elements"):
        seqs(bounded=np.arange(4, dtype=np.int32))
    with pytest.raises(DecodeError, match="bounded"):
        deserialize(seqs, b'{"bounded": [1, 2, 3, 4]}')
    msg = seqs()
    msg.bounded = array.array("i", [1, 2, 3, 4])  # assignment is not validated: the encoders check
    with pytest.raises(EncodeError, match="at most 3"):
        serialize(msg, "cdr")
    with pytest.raises(EncodeError, match="bounded"):
        serialize(msg, "json")


# --- JSON ------------------------------------------------------------------------------------


def test_json_is_a_list_of_numbers_as_before() -> None:
    cls = _cls("Float64MultiArray")
    msg = cls(data=[1.5, math.nan, math.inf, -math.inf, 2])
    raw = serialize(msg)
    assert raw.endswith(b'"data":[1.5,NaN,Infinity,-Infinity,2.0]}')
    back = deserialize(cls, raw)
    assert back.data.typecode == "d"
    assert (
        back.data[0] == 1.5
        and math.isnan(back.data[1])
        and back.data[2:].tolist() == [math.inf, -math.inf, 2.0]
    )
    old_writer = b'{"layout": {"dim": [], "data_offset": 0}, "data": [1, 2.5]}'  # ints and floats
    assert deserialize(cls, old_writer).data == array.array("d", [1.0, 2.5])
    assert json.loads(serialize(_cls("UInt64MultiArray")(data=[2**64 - 1])))["data"] == [2**64 - 1]
    assert msg.model_dump(mode="json")["data"][0] == 1.5
    assert msg.model_dump()["data"] is msg.data


def test_json_of_a_list_assigned_without_validation_is_unchanged() -> None:
    msg = _cls("Int16MultiArray")()
    msg.data = [1, 2]  # type: ignore[assignment]
    assert serialize(msg).endswith(b'"data":[1,2]}')
    msg.data = [1, 70000]  # type: ignore[assignment]
    with pytest.raises(EncodeError, match="data"):
        serialize(msg)


# --- CDR -------------------------------------------------------------------------------------


def _rosbags_bytes(name: str, values: list[Any], dtype: Any, *, little_endian: bool) -> bytes:
    store = typestore()
    types = store.types
    layout = types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
    msg = types[f"std_msgs/msg/{name}"](layout=layout, data=np.array(values, dtype=dtype))
    return bytes(store.serialize_cdr(msg, f"std_msgs/msg/{name}", little_endian=little_endian))


@pytest.mark.parametrize("case", MULTI, ids=IDS)
def test_cdr_bytes_match_rosbags_and_decode_both_endiannesses(case: Case) -> None:
    _, name, code, dtype, sample, _ = case
    cls = _cls(name)
    for values in (sample, [], sample[:1]):
        msg = cls(data=values)
        expected = _rosbags_bytes(name, values, dtype, little_endian=True)
        assert serialize(msg, "cdr") == expected
        listed = cls()
        listed.data = list(values)  # type: ignore[assignment]  # a list assigned: same bytes
        assert serialize(listed, "cdr") == expected
        for data in (expected, _rosbags_bytes(name, values, dtype, little_endian=False)):
            back = deserialize(cls, data, "cdr")
            assert type(back.data) is array.array and back.data.typecode == code
            assert back.data.tolist() == msg.data.tolist()
            assert back == msg


def test_cdr_of_bounded_and_mixed_sequences_in_both_endiannesses(seqs: type[Message]) -> None:
    msg = seqs(bounded=[1, -2], f32=[0.5], fixed=[1.0, 2.0, 3.0])
    # bounded (count, 2 x int32), f32 (count, float32), with_default (count, 2 x int16), pad to 8,
    # fixed (3 x float64), then four empty sequences: flags, names, blob, chars
    layout = "I2iIfI2h4x3dIIII"
    values = (2, 1, -2, 1, 0.5, 2, 1, -2, 1.0, 2.0, 3.0, 0, 0, 0, 0)
    little = b"\x00\x01\x00\x00" + struct.pack("<" + layout, *values)
    big = b"\x00\x00\x00\x00" + struct.pack(">" + layout, *values)
    assert serialize(msg, "cdr") == little
    for data in (little, big):
        back = deserialize(seqs, data, "cdr")
        assert back == msg
        assert back.with_default == array.array("h", [1, -2])
    with pytest.raises(DecodeError, match="bounded"):
        deserialize(seqs, little[:10], "cdr")  # truncated inside a sequence


def test_truncated_numeric_sequence_is_a_decode_error() -> None:
    raw = serialize(_cls("Float64MultiArray")(data=[1.0, 2.0]), "cdr")
    with pytest.raises(DecodeError, match="data"):
        deserialize(_cls("Float64MultiArray"), raw[:-4], "cdr")
