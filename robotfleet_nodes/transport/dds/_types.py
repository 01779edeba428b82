"""DDS types built from our interface specs, named as ROS 2 names them on the wire.

ROS 2 (rosidl + rmw_cyclonedds) registers ``pkg/msg/Type`` as the DDS type
``pkg::msg::dds_::Type_`` and a service ``pkg/srv/Name`` as ``pkg::srv::dds_::Name_Request_``
/ ``pkg::srv::dds_::Name_Response_``. The payload is XCDR1 (plain CDR), the same bytes our
own CDR codec produces, so samples are written and taken as raw bytes: the cyclonedds
``IdlStruct`` built here only describes the type (name, members, XTypes type information
in discovery); it never (de)serializes a sample on the hot path.

Request and reply samples of rmw_cyclonedds services start with a 16-byte header,
``struct cdds_request_header_t { uint64_t guid; int64_t seq; }`` (``guid`` is the
instance handle of the client's request writer, ``seq`` its call counter), followed by the
request or response fields. The struct registered for ``rq/``/``rr/`` topics therefore
starts with those two members.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl import types as t

from robotfleet_nodes.errors import InterfaceError
from robotfleet_nodes.idl import ArrayKind, FieldType, MessageSpec, default_registry, python_name

__all__ = ["REQUEST_HEADER_FIELDS", "dds_type_name", "idl_struct_for", "request_struct_for"]

log = logging.getLogger(__name__)

#: Members of rmw_cyclonedds' request header, in wire order.
REQUEST_HEADER_FIELDS: tuple[tuple[str, Any], ...] = (("guid", t.uint64), ("seq", t.int64))

_PRIMITIVES: dict[str, Any] = {
    "bool": bool,
    "byte": t.byte,  # IDL octet
    "char": t.uint8,  # ROS 2 maps char to uint8
    "float32": t.float32,
    "float64": t.float64,
    "int8": t.int8,
    "uint8": t.uint8,
    "int16": t.int16,
    "uint16": t.uint16,
    "int32": t.int32,
    "uint32": t.uint32,
    "int64": t.int64,
    "uint64": t.uint64,
    "string": str,
    "wstring": str,  # the Python binding has no wstring; only the type description differs
}

# Generic aliases the binding's stubs do not declare as generic.
_bounded_str: Any = t.bounded_str
_array: Any = t.array
_sequence: Any = t.sequence

_lock = threading.Lock()
_structs: dict[str, type[IdlStruct]] = {}


def dds_type_name(full_name: str) -> str:
    """``pkg/msg/Type`` -> ``pkg::msg::dds_::Type_`` (the DDS type name ROS 2 uses)."""
    parts = full_name.split("/")
    if len(parts) != 3:
        raise InterfaceError(f"not a full interface name (pkg/kind/Name): {full_name!r}")
    package, kind, name = parts
    return f"{package}::{kind}::dds_::{name}_"


def _element(ftype: FieldType, resolve: Any) -> Any:
    if ftype.is_primitive:
        if ftype.base in ("string", "wstring") and ftype.string_bound is not None:
            return _bounded_str[ftype.string_bound]
        return _PRIMITIVES[ftype.base]
    return _struct(resolve(ftype.base), resolve)


def _field_type(ftype: FieldType, resolve: Any) -> Any:
    element = _element(ftype.element, resolve)
    if ftype.array is ArrayKind.FIXED:
        return _array[element, ftype.array_size]
    if ftype.array is ArrayKind.BOUNDED:
        return _sequence[element, ftype.array_size]
    if ftype.array is ArrayKind.UNBOUNDED:
        return _sequence[element]
    return element


def _build(spec: MessageSpec, resolve: Any, header: bool) -> type[IdlStruct]:
    fields: dict[str, Any] = dict(REQUEST_HEADER_FIELDS) if header else {}
    if not spec.fields:
        # rosidl gives an empty message one member: ``uint8 structure_needs_at_least_one_member``.
        fields["structure_needs_at_least_one_member"] = t.uint8
    for field in spec.fields:
        fields[python_name(field.name)] = _field_type(field.type, resolve)
    class_name = spec.name + ("_RequestHeader" if header else "") + "_"
    return make_idl_struct(class_name, dds_type_name(spec.full_name), fields)


def _struct(spec: MessageSpec, resolve: Any) -> type[IdlStruct]:
    found = _structs.get(spec.full_name)
    if found is None:
        found = _structs[spec.full_name] = _build(spec, resolve, header=False)
    return found


def _resolver(top: MessageSpec) -> Any:
    registry = default_registry()

    def resolve(name: str) -> MessageSpec:
        return top if name == top.full_name else registry.message_spec(name)

    return resolve


def idl_struct_for(spec: MessageSpec) -> type[IdlStruct]:
    """The cyclonedds struct describing ``spec`` (cached per type name)."""
    with _lock:
        return _struct(spec, _resolver(spec))


def request_struct_for(spec: MessageSpec) -> type[IdlStruct]:
    """The struct of an ``rq/``/``rr/`` sample: request header, then ``spec``'s fields."""
    key = spec.full_name + "#header"
    with _lock:
        found = _structs.get(key)
        if found is None:
            found = _structs[key] = _build(spec, _resolver(spec), header=True)
        return found
