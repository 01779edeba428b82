"""The acceptance message: ~50 fields using every grammar feature, against rosbags' CDR.

``Everything.msg`` (tests/idl/data) uses every construct of the grammar. rosbags cannot
serialize ``wstring`` at all, so the byte-for-byte comparison uses the same definition
without its three wstring lines (still > 40 fields); the full type is round-tripped
through both of our encodings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rosbags.typesys import Stores, get_typestore
from test_cdr import _rosbags_fielddefs, to_ours, to_rosbags

from robotfleet_nodes.idl._cdr import compile_codec
from robotfleet_nodes.idl._json import decode_json, encode_json
from robotfleet_nodes.idl._registry import TypeRegistry
from robotfleet_nodes.idl._spec import INTEGER_RANGES, ArrayKind, FieldType, MessageSpec

PACKAGE = Path(__file__).parent / "data" / "rfos_test_msgs"
NARROW = "rfos_test_msgs/msg/EverythingNarrow"
FULL = "rfos_test_msgs/msg/Everything"


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    registry = TypeRegistry()
    registry.load_package("rfos_test_msgs", PACKAGE)
    text = (PACKAGE / "msg" / "Everything.msg").read_text()
    narrow = "\n".join(line for line in text.splitlines() if not line.startswith("wstring"))
    registry.add_text(NARROW, narrow)
    return registry


def _scalar(ftype: FieldType, index: int) -> Any:
    base = ftype.base
    if base == "bool":
        return index % 2 == 0
    if base in INTEGER_RANGES:
        low, high = INTEGER_RANGES[base]
        return (high - index) if index % 2 else max(low, -index - 7)
    if base in ("float32", "float64"):
        return 0.5 + index  # exact in float32 too
    bound = ftype.string_bound or 12
    return ("ä" if base == "wstring" else "s") + "x" * min(bound - 1, index % 5)


def _sample(registry: TypeRegistry, spec: MessageSpec, seed: int = 0) -> dict[str, Any]:
    """Non-default values for every field, within every bound."""
    values: dict[str, Any] = {}
    for index, field in enumerate(spec.fields, start=seed):
        ftype = field.type
        if ftype.array is ArrayKind.NONE:
            count = None
        elif ftype.array is ArrayKind.FIXED:
            count = ftype.array_size
        elif ftype.array is ArrayKind.BOUNDED:
            count = min(2, ftype.array_size or 2)
        else:
            count = 3
        if not ftype.is_primitive:
            nested = registry.message_spec(ftype.base)
            if count is None:
                values[field.name] = _sample(registry, nested, index)
            else:
                values[field.name] = [_sample(registry, nested, index + i) for i in range(count)]
        elif count is None:
            values[field.name] = _scalar(ftype, index)
        elif ftype.base in ("uint8", "byte"):
            values[field.name] = bytes((index + i) % 256 for i in range(count))
        else:
            values[field.name] = [_scalar(ftype.element, index + i) for i in range(count)]
    return values


def test_cdr_bytes_equal_rosbags_for_the_everything_message(registry: TypeRegistry) -> None:
    spec = registry.message_spec(NARROW)
    assert len(spec.fields) >= 40
    store = get_typestore(Stores.LATEST)
    store.register(
        {
            "rfos_test_msgs/msg/Inner": _rosbags_fielddefs(registry.message_spec("rfos_test_msgs/msg/Inner")),
            NARROW: _rosbags_fielddefs(spec),
        }
    )
    values = _sample(registry, spec)
    ours = to_ours(registry, spec, values)
    codec = compile_codec(spec, registry.message_spec, registry.get_class)
    encoded = codec.encode(ours)
    assert encoded == bytes(store.serialize_cdr(to_rosbags(store, registry, spec, values), NARROW))
    assert codec.decode(encoded) == ours
    assert codec.decode(bytes(store.serialize_cdr(to_rosbags(store, registry, spec, values), NARROW))) == ours


def test_full_everything_round_trips_losslessly_in_json_and_cdr(registry: TypeRegistry) -> None:
    spec = registry.message_spec(FULL)
    cls = registry.get_class(FULL)
    ours = to_ours(registry, spec, _sample(registry, spec, seed=3))
    codec = compile_codec(spec, registry.message_spec, registry.get_class)
    assert codec.decode(codec.encode(ours)) == ours
    assert decode_json(cls, encode_json(ours)) == ours
    assert ours != cls(), "the sample must differ from the defaults"
