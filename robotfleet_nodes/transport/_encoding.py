"""Which encoding a message type travels in: ``auto`` picks per type, once.

``auto`` (the default): CDR when the type holds bulk numeric data, JSON otherwise. Bulk
means, at any nesting depth, a sequence (``T[]`` or ``T[<=N]``) of a numeric primitive
(``uint8[]`` image data, ``float32[]`` ranges, ``float64[]`` joint positions) or a fixed
array of ``uint8``/``byte``/``char`` of at least :data:`BULK_FIXED_BYTES` elements. Image,
PointCloud2, LaserScan, OccupancyGrid, the ``*MultiArray`` types and JointState go CDR
(compact, and several times faster to encode and decode); String, Twist, Imu, Odometry,
the fleet's own messages stay JSON (readable by any NATS client). Small fixed arrays
(Imu's ``float64[9]`` covariances, the 16-byte goal UUID of every action message) do not
count: they gain nothing from CDR.

Readers never depend on the choice: every message carries its encoding in the
``rfos-enc`` header and subscriptions, service servers and clients, ``rfos topic echo``
and bag recording decode by it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final, Literal

from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.idl import PRIMITIVE_TYPES, ArrayKind, MessageSpec, default_registry
from robotfleet_nodes.idl.codec import Encoding

__all__ = [
    "AUTO",
    "BULK_FIXED_BYTES",
    "EncodingOption",
    "auto_encoding",
    "parse_encoding",
    "resolve_encoding",
]

AUTO: Final = "auto"
#: ``"auto"``, or an :class:`Encoding` that every message uses.
EncodingOption = Encoding | Literal["auto"]
#: A fixed ``uint8``/``byte``/``char`` array this long or longer counts as bulk data.
BULK_FIXED_BYTES: Final = 64

_BYTES: Final = frozenset({"uint8", "byte", "char", "int8"})
#: Primitives whose sequences are bulk data (strings are not).
_NUMERIC: Final = PRIMITIVE_TYPES - {"string", "wstring"}
_CACHE_ATTR: Final = "__rfos_auto_encoding__"


def parse_encoding(value: str | Encoding) -> EncodingOption:
    """``"auto"``, ``"json"`` or ``"cdr"`` as an :data:`EncodingOption`; ``ConfigError`` otherwise."""
    if isinstance(value, Encoding):
        return value
    text = str(value).strip().lower()
    if text == AUTO:
        return AUTO
    try:
        return Encoding(text)
    except ValueError:
        raise ConfigError(f"unknown encoding {value!r}: use auto, json or cdr") from None


def resolve_encoding(option: EncodingOption | str, msg_type: type[Any]) -> Encoding:
    """The encoding messages of ``msg_type`` use under ``option``."""
    if isinstance(option, Encoding):
        return option
    chosen = parse_encoding(option)
    return chosen if isinstance(chosen, Encoding) else auto_encoding(msg_type)


def auto_encoding(msg_type: type[Any]) -> Encoding:
    """CDR for types with bulk numeric data (see the module docstring), else JSON; cached."""
    cached = msg_type.__dict__.get(_CACHE_ATTR)
    if cached is None:
        spec = getattr(msg_type, "__ros_spec__", None)
        bulky = isinstance(spec, MessageSpec) and _bulky(spec, set())
        cached = Encoding.CDR if bulky else Encoding.JSON
        with contextlib.suppress(AttributeError, TypeError):
            setattr(msg_type, _CACHE_ATTR, cached)
    return cached


def _bulky(spec: MessageSpec, seen: set[str]) -> bool:
    seen.add(spec.full_name)
    registry = default_registry()
    for field in spec.fields:
        kind = field.type
        if kind.is_primitive:
            if kind.base in _NUMERIC and kind.array in (ArrayKind.UNBOUNDED, ArrayKind.BOUNDED):
                return True
            size = kind.array_size or 0
            if kind.base in _BYTES and kind.array is ArrayKind.FIXED and size >= BULK_FIXED_BYTES:
                return True
            continue
        if kind.base in seen:
            continue
        try:
            nested = registry.message_spec(kind.base)
        except Exception:
            continue  # an unknown nested type: the codec will say so
        if _bulky(nested, seen):
            return True
    return False
