"""Turning messages into bytes and back, and naming their types: the public codec API.

Two encodings: :attr:`Encoding.JSON` (readable by any client) and :attr:`Encoding.CDR`
(XCDR1 as ROS 2 / DDS and rosbag2 use it). On NATS the transport's ``auto`` default picks
CDR for types carrying bulk numeric data (images, point clouds, maps) and JSON for the
rest (``robotfleet_nodes.transport``, ``docs/subjects.md`` "Encodings"). :func:`type_hash_of` gives
the REP-2011 ``RIHS01_`` hash ROS 2 computes for the same definition.

Types are resolved through the process-wide registry (``default_registry()``); the compiled
CDR codec and the hash are computed once per class and cached on it.
"""

from __future__ import annotations

import enum
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from robotfleet_nodes.errors import DecodeError, EncodeError, InterfaceError
from robotfleet_nodes.idl._cdr import CdrCodec, compile_codec
from robotfleet_nodes.idl._hash import action_type_hash, service_type_hash, type_hash
from robotfleet_nodes.idl._json import decode_json, encode_json
from robotfleet_nodes.idl._registry import default_registry
from robotfleet_nodes.idl._spec import ActionSpec, MessageSpec, ServiceSpec

if TYPE_CHECKING:
    import pydantic

__all__ = ["Encoding", "cdr_codec_of", "deserialize", "serialize", "type_hash_of"]

M = TypeVar("M", bound="pydantic.BaseModel")

_lock = threading.Lock()
_CDR_ATTR = "_rfos_cdr"
_HASH_ATTR = "_rfos_type_hash"


class Encoding(enum.StrEnum):
    """How a message is turned into bytes (the value is what message headers carry)."""

    JSON = "json"
    CDR = "cdr"


def _ros_type(cls: type) -> str:
    name = getattr(cls, "__ros_type__", "")
    if not name:
        raise InterfaceError(f"{cls.__qualname__} is not a message class (it has no __ros_type__)")
    return str(name)


def cdr_codec_of(cls: type) -> CdrCodec:
    """The compiled CDR codec of message class ``cls`` (compiled on first use, then cached)."""
    codec = cls.__dict__.get(_CDR_ATTR)
    if codec is None:
        registry = default_registry()
        name = _ros_type(cls)
        spec = getattr(cls, "__ros_spec__", None) or registry.message_spec(name)
        with _lock:
            codec = cls.__dict__.get(_CDR_ATTR)
            if codec is None:
                codec = compile_codec(spec, registry.message_spec, _class_of(cls, registry.get_class))
                setattr(cls, _CDR_ATTR, codec)
    return codec


def _class_of(top: type, get_class: Any) -> Any:
    """Decode the top type as ``top`` itself (it may not be the registry's class)."""
    top_name = _ros_type(top)

    def class_of(name: str) -> type:
        return top if name == top_name else get_class(name)

    return class_of


def serialize(msg: pydantic.BaseModel, encoding: Encoding | str = Encoding.JSON) -> bytes:
    """Encode ``msg``; raises :class:`EncodeError` if a value does not fit its type."""
    if encoding is Encoding.JSON or encoding == "json":
        return encode_json(msg)
    if encoding is Encoding.CDR or encoding == "cdr":
        return cdr_codec_of(type(msg)).encode(msg)
    raise EncodeError(f"unknown encoding {encoding!r}; use one of {[e.value for e in Encoding]}")


def deserialize(
    cls: type[M], data: bytes | bytearray | memoryview, encoding: Encoding | str = Encoding.JSON
) -> M:
    """Decode ``data`` as a ``cls``; raises :class:`DecodeError` on malformed input."""
    if encoding is Encoding.JSON or encoding == "json":
        return decode_json(cls, data)
    if encoding is Encoding.CDR or encoding == "cdr":
        return cdr_codec_of(cls).decode(data)  # type: ignore[no-any-return]
    raise DecodeError(f"unknown encoding {encoding!r}; use one of {[e.value for e in Encoding]}")


def type_hash_of(cls: type) -> str:
    """The REP-2011 type hash (``RIHS01_<64 hex>``) of a message, service or action class.

    Cached on the class.
    """
    cached = cls.__dict__.get(_HASH_ATTR)
    if cached is None:
        registry = default_registry()
        name = _ros_type(cls)
        spec = getattr(cls, "__ros_spec__", None)

        def resolve(full_name: str) -> Any:
            if isinstance(spec, MessageSpec) and full_name == name:
                return spec
            return registry.message_spec(full_name)

        if isinstance(spec, ServiceSpec):
            cached = service_type_hash(spec, resolve)
        elif isinstance(spec, ActionSpec):
            cached = action_type_hash(spec, resolve)
        else:
            cached = type_hash(name, resolve)
        setattr(cls, _HASH_ATTR, cached)
    return str(cached)
