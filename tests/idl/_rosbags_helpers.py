"""Test helpers: rosbags' typestore as a source of MessageSpecs and a reference codec."""

from __future__ import annotations

from functools import cache
from typing import Any

import pydantic
from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from robotfleet_nodes.idl._spec import ArrayKind, Constant, Field, FieldType, MessageSpec, python_name


@cache
def typestore() -> Typestore:
    return get_typestore(Stores.LATEST)


def _field_type(desc: Any) -> FieldType:
    kind, rest = desc
    if kind == Nodetype.BASE:
        name, bound = rest
        return FieldType(name, bound or None)
    if kind == Nodetype.NAME:
        return FieldType(rest)
    inner, count = rest
    elem = _field_type(inner)
    if kind == Nodetype.ARRAY:
        return FieldType(elem.base, elem.string_bound, ArrayKind.FIXED, count)
    if count:
        return FieldType(elem.base, elem.string_bound, ArrayKind.BOUNDED, count)
    return FieldType(elem.base, elem.string_bound, ArrayKind.UNBOUNDED)


def spec_from_rosbags(full_name: str, ts: Typestore | None = None) -> MessageSpec:
    """Convert ``ts.fielddefs[full_name]`` into a MessageSpec (dummy member dropped)."""
    consts, fields = (ts or typestore()).fielddefs[full_name]
    specs = tuple(
        Field(name, _field_type(desc))
        for name, desc in fields
        if name != "structure_needs_at_least_one_member"
    )
    constants = tuple(Constant(name, FieldType(typ), value) for name, typ, value in consts)
    return MessageSpec(full_name, specs, constants)


_PY_TYPES: dict[str, Any] = {
    "bool": bool,
    "float32": float,
    "float64": float,
    "string": str,
    "wstring": str,
}


class SimpleRegistry:
    """A stand-in for the real registry: specs by name, pydantic classes built on demand."""

    def __init__(self, *specs: MessageSpec) -> None:
        self.specs: dict[str, MessageSpec] = {s.full_name: s for s in specs}
        self.classes: dict[str, type[pydantic.BaseModel]] = {}

    def add(self, spec: MessageSpec) -> None:
        self.specs[spec.full_name] = spec

    def message_spec(self, name: str) -> MessageSpec:
        if name not in self.specs:
            try:
                self.specs[name] = spec_from_rosbags(name)
            except KeyError:
                raise LookupError(name) from None
        return self.specs[name]

    def _py_type(self, ftype: FieldType) -> Any:
        if ftype.is_array and ftype.base in ("uint8", "byte"):
            return bytes
        elem: Any = _PY_TYPES.get(ftype.base, int) if ftype.is_primitive else self.get_class(ftype.base)
        return list[elem] if ftype.is_array else elem  # type: ignore[valid-type]

    def get_class(self, name: str) -> type[pydantic.BaseModel]:
        if name not in self.classes:
            spec = self.message_spec(name)
            fields: dict[str, Any] = {
                python_name(f.name): (self._py_type(f.type), pydantic.Field(alias=f.name))
                for f in spec.fields
            }
            cls = pydantic.create_model(  # type: ignore[call-overload]
                name.replace("/", "__"),
                __config__=pydantic.ConfigDict(populate_by_name=True, ser_json_inf_nan="constants"),
                **fields,
            )
            cls.__ros_type__ = name
            cls.__ros_spec__ = spec
            self.classes[name] = cls
        return self.classes[name]
