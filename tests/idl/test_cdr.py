"""CDR codec: byte-identical to rosbags, lossless round trips, clean errors on bad input."""

from __future__ import annotations

import keyword
import math
import struct
from typing import Any

import numpy as np
import pytest
from _rosbags_helpers import spec_from_rosbags
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_typestore

from robotfleet_nodes.errors import DecodeError, EncodeError
from robotfleet_nodes.idl._cdr import CdrCodec, compile_codec
from robotfleet_nodes.idl._registry import TypeRegistry
from robotfleet_nodes.idl._spec import INTEGER_RANGES, ArrayKind, Field, FieldType, MessageSpec, python_name

PRIMS = [
    "bool",
    "byte",
    "char",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
]
DTYPES = {"bool": np.bool_, "byte": np.uint8, "char": np.uint8, "float32": np.float32, "float64": np.float64}

INNER = MessageSpec(
    "rfos_test/msg/Inner",
    (
        Field("flag", FieldType("uint8")),
        Field("value", FieldType("float64")),
        Field("label", FieldType("string")),
    ),
)
EMPTY = MessageSpec("rfos_test/msg/Nothing", ())


def _all_kinds_fields() -> tuple[Field, ...]:
    fields = []
    for prim in PRIMS:
        fields += [
            Field(f"{prim}_scalar", FieldType(prim)),
            Field(f"{prim}_fixed", FieldType(prim, None, ArrayKind.FIXED, 3)),
            Field(f"{prim}_bounded", FieldType(prim, None, ArrayKind.BOUNDED, 4)),
            Field(f"{prim}_unbounded", FieldType(prim, None, ArrayKind.UNBOUNDED)),
        ]
    fields += [
        Field("text", FieldType("string")),
        Field("short_text", FieldType("string", 8)),
        Field("wide", FieldType("wstring")),
        Field("short_wide", FieldType("wstring", 5)),
        Field("text_fixed", FieldType("string", None, ArrayKind.FIXED, 2)),
        Field("text_bounded", FieldType("string", 5, ArrayKind.BOUNDED, 3)),
        Field("text_unbounded", FieldType("string", None, ArrayKind.UNBOUNDED)),
        Field("inner", FieldType(INNER.full_name)),
        Field("inner_fixed", FieldType(INNER.full_name, None, ArrayKind.FIXED, 2)),
        Field("inner_bounded", FieldType(INNER.full_name, None, ArrayKind.BOUNDED, 2)),
        Field("inner_unbounded", FieldType(INNER.full_name, None, ArrayKind.UNBOUNDED)),
        Field("nothing", FieldType(EMPTY.full_name)),
        Field("nothings", FieldType(EMPTY.full_name, None, ArrayKind.UNBOUNDED)),
        Field("stamp", FieldType("builtin_interfaces/msg/Time")),
        Field("tail", FieldType("uint8")),
        Field("from", FieldType("int16")),  # a Python keyword: attribute ``from_``
    ]
    return tuple(fields)


ALL_KINDS = MessageSpec("rfos_test/msg/AllKinds", _all_kinds_fields())
# rosbags cannot serialise wstring: compare bytes on everything else.
NO_WIDE = MessageSpec(
    "rfos_test/msg/AllKindsNoWide", tuple(f for f in ALL_KINDS.fields if f.type.base != "wstring")
)
TEST_SPECS = (INNER, EMPTY, ALL_KINDS, NO_WIDE)
ROSBAGS_SPECS = (INNER, EMPTY, NO_WIDE)


# --- rosbags side ---------------------------------------------------------------------------


def _rosbags_node(ftype: FieldType) -> Any:
    if ftype.is_primitive:
        elem: Any = (Nodetype.BASE, (ftype.base, ftype.string_bound or 0))
    else:
        elem = (Nodetype.NAME, ftype.base)
    if ftype.array is ArrayKind.NONE:
        return elem
    if ftype.array is ArrayKind.FIXED:
        return (Nodetype.ARRAY, (elem, ftype.array_size))
    return (Nodetype.SEQUENCE, (elem, ftype.array_size or 0))


def _rosbags_fielddefs(spec: MessageSpec) -> Any:
    fields = [(f.name, _rosbags_node(f.type)) for f in spec.fields]
    if not fields:
        fields = [("structure_needs_at_least_one_member", (Nodetype.BASE, ("uint8", 0)))]
    return ([], fields)


@pytest.fixture(scope="module")
def store() -> Any:
    ts = get_typestore(Stores.LATEST)
    ts.register({spec.full_name: _rosbags_fielddefs(spec) for spec in ROSBAGS_SPECS})
    return ts


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    reg = TypeRegistry()
    for spec in TEST_SPECS:
        reg.add_spec(spec, validate=False)
    reg.validate()
    return reg


def _codec(registry: TypeRegistry, name: str) -> CdrCodec:
    return compile_codec(registry.message_spec(name), registry.message_spec, registry.get_class)


def to_ours(registry: TypeRegistry, spec: MessageSpec, values: dict[str, Any]) -> Any:
    """Build the generated class instance from ROS-named plain values."""
    kwargs = {}
    for f in spec.fields:
        value = values[f.name]
        if not f.type.is_primitive:
            nested = registry.message_spec(f.type.base)
            if f.type.is_array:
                value = [to_ours(registry, nested, v) for v in value]
            else:
                value = to_ours(registry, nested, value)
        kwargs[python_name(f.name)] = value
    return registry.get_class(spec.full_name)(**kwargs)


def to_rosbags(store: Any, registry: TypeRegistry, spec: MessageSpec, values: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in spec.fields:
        value = values[f.name]
        ftype = f.type
        if not ftype.is_primitive:
            nested = registry.message_spec(ftype.base)
            if ftype.is_array:
                value = [to_rosbags(store, registry, nested, v) for v in value]
            else:
                value = to_rosbags(store, registry, nested, value)
        elif ftype.base == "byte" and not ftype.is_array:
            value = value - 256 if value > 127 else value  # rosbags packs byte scalars signed
        elif ftype.is_array and ftype.base not in ("string", "wstring"):
            dtype = DTYPES.get(ftype.base, getattr(np, ftype.base, None))
            value = (
                np.frombuffer(value, np.uint8) if isinstance(value, bytes) else np.array(value, dtype=dtype)
            )
        kwargs[f.name + "_" if keyword.iskeyword(f.name) else f.name] = value
    if not spec.fields:
        kwargs["structure_needs_at_least_one_member"] = 0
    return store.types[spec.full_name](**kwargs)


# --- value strategies -------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def _scalar(ftype: FieldType, registry: TypeRegistry) -> st.SearchStrategy[Any]:
    base = ftype.base
    if base == "bool":
        return st.booleans()
    if base in INTEGER_RANGES:
        low, high = INTEGER_RANGES[base]
        return st.integers(low, high)
    if base == "float32":
        return st.floats(width=32, allow_nan=False)
    if base == "float64":
        return st.floats(allow_nan=False)
    if base in ("string", "wstring"):
        if ftype.string_bound is not None:
            return st.text(
                st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=ftype.string_bound,
            )
        return _TEXT
    return values_of(registry.message_spec(base), registry)


def _field(ftype: FieldType, registry: TypeRegistry) -> st.SearchStrategy[Any]:
    if not ftype.is_array:
        return _scalar(ftype, registry)
    fixed = ftype.array is ArrayKind.FIXED
    low = ftype.array_size if fixed else 0
    high = ftype.array_size if ftype.array is not ArrayKind.UNBOUNDED else 4
    if ftype.base in ("uint8", "byte"):
        return st.binary(min_size=low or 0, max_size=high)
    return st.lists(_scalar(ftype.element, registry), min_size=low or 0, max_size=high)


def values_of(spec: MessageSpec, registry: TypeRegistry) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({f.name: _field(f.type, registry) for f in spec.fields})


# --- tests ------------------------------------------------------------------------------------


def test_string_layout_is_exactly_cdr(registry: TypeRegistry) -> None:
    cls = registry.get_class("std_msgs/msg/String")
    codec = _codec(registry, "std_msgs/msg/String")
    assert codec.encode(cls(data="a")) == bytes.fromhex("00010000020000006100")
    assert codec.decode(bytes.fromhex("00010000020000006100")) == cls(data="a")


def test_empty_message_has_one_byte(registry: TypeRegistry, store: Any) -> None:
    codec = _codec(registry, "std_msgs/msg/Empty")
    cls = registry.get_class("std_msgs/msg/Empty")
    data = codec.encode(cls())
    assert data == bytes(store.serialize_cdr(store.types["std_msgs/msg/Empty"](), "std_msgs/msg/Empty"))
    assert codec.decode(data) == cls()


def test_every_typestore_message_default_matches_rosbags(registry: TypeRegistry, store: Any) -> None:
    """All standard types, default-valued: same bytes as rosbags and a lossless round trip."""
    names = [n for n in sorted(get_typestore(Stores.LATEST).fielddefs) if "/msg/" in n and n in registry]
    assert len(names) > 80
    for name in names:
        spec = spec_from_rosbags(name)
        cls = registry.get_class(name)
        msg = cls()
        values = {f.name: _plain(getattr(msg, python_name(f.name))) for f in spec.fields}
        codec = _codec(registry, name)
        ours = codec.encode(msg)
        assert ours == bytes(store.serialize_cdr(to_rosbags(store, registry, spec, values), name)), name
        assert codec.decode(ours) == msg, name


def _plain(value: Any) -> Any:
    if hasattr(value, "__ros_spec__"):
        return {f.name: _plain(getattr(value, python_name(f.name))) for f in value.__ros_spec__.fields}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_all_kinds_round_trip_and_match_rosbags(
    registry: TypeRegistry, store: Any, data: st.DataObject
) -> None:
    values = data.draw(values_of(ALL_KINDS, registry))
    msg = to_ours(registry, ALL_KINDS, values)
    codec = _codec_cached(registry)
    assert codec.decode(codec.encode(msg)) == msg
    assert codec.decode(memoryview(bytearray(codec.encode(msg)))) == msg

    narrow = {f.name: values[f.name] for f in NO_WIDE.fields}
    msg = to_ours(registry, NO_WIDE, narrow)
    codec = _codec_cached(registry, NO_WIDE.full_name)
    ours = codec.encode(msg)
    theirs = store.serialize_cdr(to_rosbags(store, registry, NO_WIDE, narrow), NO_WIDE.full_name)
    assert ours == bytes(theirs)
    assert codec.decode(ours) == msg
    big_endian = store.serialize_cdr(
        to_rosbags(store, registry, NO_WIDE, narrow), NO_WIDE.full_name, little_endian=False
    )
    assert codec.decode(bytes(big_endian)) == msg


_CODECS: dict[tuple[int, str], CdrCodec] = {}


def _codec_cached(registry: TypeRegistry, name: str = ALL_KINDS.full_name) -> CdrCodec:
    key = (id(registry), name)
    if key not in _CODECS:
        _CODECS[key] = _codec(registry, name)
    return _CODECS[key]


def test_wstring_layout(registry: TypeRegistry) -> None:
    spec = MessageSpec(
        "rfos_test/msg/Wide", (Field("w", FieldType("wstring")), Field("x", FieldType("uint16")))
    )
    registry.add_spec(spec)
    codec = _codec(registry, spec.full_name)
    msg = registry.get_class(spec.full_name)(w="h\u00e9\U0001f600", x=7)
    data = codec.encode(msg)
    units = "h\u00e9\U0001f600".encode("utf-16-le")
    assert data == b"\x00\x01\x00\x00" + struct.pack("<I", 4) + units + struct.pack("<H", 7)
    assert codec.decode(data) == msg
    big = b"\x00\x00\x00\x00" + struct.pack(">I", 4) + "h\u00e9\U0001f600".encode("utf-16-be") + b"\x00\x07"
    assert codec.decode(big) == msg
    with pytest.raises(DecodeError, match="UTF-16"):
        codec.decode(b"\x00\x01\x00\x00" + struct.pack("<I", 1) + b"\x00\xd8" + b"\x00\x00")


def _sample(registry: TypeRegistry) -> Any:
    inner = registry.get_class(INNER.full_name)
    return registry.get_class(ALL_KINDS.full_name)(
        text="hello",
        wide="wïde ✓",
        float64_unbounded=[1.0, math.inf],
        uint8_unbounded=b"\x01\x02\x03",
        text_unbounded=["a", "bc"],
        inner_unbounded=[inner(flag=1, value=2.5, label="x")],
    )


def test_truncated_at_every_offset_raises_decode_error(registry: TypeRegistry) -> None:
    codec = _codec_cached(registry)
    data = codec.encode(_sample(registry))
    assert codec.decode(data) == _sample(registry)
    for end in range(len(data)):
        with pytest.raises(DecodeError):
            codec.decode(data[:end])


def test_trailing_padding_is_accepted(registry: TypeRegistry) -> None:
    codec = _codec_cached(registry)
    data = codec.encode(_sample(registry))
    assert codec.decode(data + b"\x00\x00\x00") == _sample(registry)


@pytest.mark.parametrize(
    "header", [b"", b"\x00", b"\x00\x01\x00", b"\x00\x02\x00\x00", b"\x01\x01\x00\x00", b"\x00\x03\x00\x00"]
)
def test_bad_header_raises(registry: TypeRegistry, header: bytes) -> None:
    codec = _codec(registry, "std_msgs/msg/String")
    with pytest.raises(DecodeError):
        codec.decode(header + b"\x02\x00\x00\x00a\x00")


def test_huge_sequence_length_raises(registry: TypeRegistry) -> None:
    codec = _codec(registry, "std_msgs/msg/Float64MultiArray")
    cls = registry.get_class("std_msgs/msg/Float64MultiArray")
    data = bytearray(codec.encode(cls(data=[1.0, 2.0])))
    # layout: header | dim count (0) | data_offset | data count | data...
    count_at = 4 + 4 + 4
    assert struct.unpack_from("<I", data, count_at)[0] == 2
    struct.pack_into("<I", data, count_at, 0xFFFFFFFF)
    with pytest.raises(DecodeError, match="sequence length 4294967295"):
        codec.decode(bytes(data))
    struct.pack_into("<I", data, 4, 0x7FFFFFFF)  # dims: sequence of structs
    with pytest.raises(DecodeError, match="sequence length"):
        codec.decode(bytes(data))


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"\x03\x00\x00\x00\xff\xfe\x00", "UTF-8"),
        (b"\x00\x00\x00\x00", "length 0"),
        (b"\x03\x00\x00\x00abc", "NUL"),
        (b"\x09\x00\x00\x00abc\x00", "runs past"),
    ],
)
def test_bad_strings_raise(registry: TypeRegistry, payload: bytes, match: str) -> None:
    codec = _codec(registry, "std_msgs/msg/String")
    with pytest.raises(DecodeError, match=match):
        codec.decode(b"\x00\x01\x00\x00" + payload)


def test_bounds_are_checked_on_decode(registry: TypeRegistry) -> None:
    spec = MessageSpec(
        "rfos_test/msg/Loose",
        (Field("text", FieldType("string")), Field("items", FieldType("int32", None, ArrayKind.UNBOUNDED))),
    )
    strict = MessageSpec(
        "rfos_test/msg/Tight",
        (
            Field("text", FieldType("string", 2)),
            Field("items", FieldType("int32", None, ArrayKind.BOUNDED, 1)),
        ),
    )
    registry.add_spec(spec)
    registry.add_spec(strict)
    loose = _codec(registry, spec.full_name)
    tight = _codec(registry, strict.full_name)
    cls = registry.get_class(spec.full_name)
    with pytest.raises(DecodeError, match="bound 2"):
        tight.decode(loose.encode(cls(text="abc", items=[])))
    with pytest.raises(DecodeError, match="bound 1"):
        tight.decode(loose.encode(cls(text="ab", items=[1, 2])))
    assert tight.decode(loose.encode(cls(text="ab", items=[1]))).items.tolist() == [1]


def test_values_that_do_not_fit_raise_encode_error(registry: TypeRegistry) -> None:
    codec = _codec_cached(registry)
    cls = registry.get_class(ALL_KINDS.full_name)
    good = _sample(registry)
    bad_values: list[dict[str, Any]] = [
        {"int8_scalar": 128},
        {"uint64_scalar": -1},
        {"uint32_unbounded": [2**32]},
        {"float32_scalar": 1e300},
        {"int16_fixed": [1, 2]},
        {"int16_bounded": [1, 2, 3, 4, 5]},
        {"short_text": "much too long"},
        {"uint8_fixed": b"\x01"},
        {"byte_unbounded": [256]},
        {"text": 5},
        {"inner": None},
    ]
    for change in bad_values:
        msg = cls.model_construct(**{**dict(good), **change})
        with pytest.raises(EncodeError, match="rfos_test/msg/AllKinds"):
            codec.encode(msg)


def test_keyword_field_uses_python_name(registry: TypeRegistry) -> None:
    codec = _codec_cached(registry)
    msg = registry.get_class(ALL_KINDS.full_name)(from_=-7)
    assert codec.decode(codec.encode(msg)).from_ == -7


def test_decoded_message_behaves_like_a_validated_one(registry: TypeRegistry) -> None:
    codec = _codec_cached(registry)
    decoded = codec.decode(codec.encode(_sample(registry)))
    assert decoded.model_dump() == _sample(registry).model_dump()
    assert decoded.model_dump_json() == _sample(registry).model_dump_json()
    decoded.text = "changed"
    assert decoded.text == "changed"


def test_facade_cdr_round_trip_and_cache() -> None:
    from robotfleet_nodes.idl._registry import default_registry
    from robotfleet_nodes.idl.codec import Encoding, cdr_codec_of, deserialize, serialize

    reg = default_registry()
    cls = reg.get_class("sensor_msgs/msg/BatteryState")
    msg = cls(voltage=12.5, cell_voltage=[3.5, 3.75], location="bay 3")
    data = serialize(msg, Encoding.CDR)
    assert data == serialize(msg, "cdr")
    assert data[:4] == b"\x00\x01\x00\x00"
    assert deserialize(cls, data, Encoding.CDR) == msg
    assert deserialize(cls, memoryview(data), "cdr") == msg
    assert cdr_codec_of(cls) is cdr_codec_of(cls)
    with pytest.raises(EncodeError, match="unknown encoding"):
        serialize(msg, "yaml")
    with pytest.raises(DecodeError, match="unknown encoding"):
        deserialize(cls, data, "yaml")
