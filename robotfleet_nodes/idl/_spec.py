"""The parsed form of ROS 2 interface definitions: what every other IDL module works from.

A ``.msg`` file becomes a :class:`MessageSpec`; a ``.srv`` a :class:`ServiceSpec` (two
message specs); an ``.action`` an :class:`ActionSpec` (three). Specs are plain frozen
dataclasses: the parser produces them, the registry resolves names between them, and the
hash, pydantic and CDR modules consume them.
"""

from __future__ import annotations

import enum
import keyword
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INTEGER_RANGES",
    "PRIMITIVE_TYPES",
    "ActionSpec",
    "ArrayKind",
    "Constant",
    "Field",
    "FieldType",
    "InterfaceSpec",
    "MessageSpec",
    "ServiceSpec",
    "python_name",
]

#: Every primitive of the ROS 2 interface grammar (``byte``/``char`` are the 8-bit aliases).
PRIMITIVE_TYPES: frozenset[str] = frozenset(
    {
        "bool",
        "byte",
        "char",
        "float32",
        "float64",
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "string",
        "wstring",
    }
)

#: Inclusive value range of each integer primitive.
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "byte": (0, 255),
    "char": (0, 255),
    "int8": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


class ArrayKind(enum.Enum):
    """How many elements a field holds."""

    NONE = "none"  #: a single value: ``T``
    FIXED = "fixed"  #: exactly N: ``T[N]``
    BOUNDED = "bounded"  #: at most N: ``T[<=N]``
    UNBOUNDED = "unbounded"  #: any number: ``T[]``


@dataclass(frozen=True, slots=True)
class FieldType:
    """The type of one field or constant.

    ``base`` is a primitive name (``"float64"``, ``"string"``) or, for a nested message,
    its full name ``"pkg/msg/Type"`` once resolved by the registry.
    """

    base: str
    string_bound: int | None = None  #: N of ``string<=N`` / ``wstring<=N``
    array: ArrayKind = ArrayKind.NONE
    array_size: int | None = None  #: N of ``T[N]`` or ``T[<=N]``

    @property
    def is_primitive(self) -> bool:
        return self.base in PRIMITIVE_TYPES

    @property
    def is_array(self) -> bool:
        return self.array is not ArrayKind.NONE

    @property
    def element(self) -> FieldType:
        """The same type without its array part."""
        return FieldType(self.base, self.string_bound)

    def __str__(self) -> str:
        text = self.base
        if self.string_bound is not None:
            text += f"<={self.string_bound}"
        if self.array is ArrayKind.FIXED:
            text += f"[{self.array_size}]"
        elif self.array is ArrayKind.BOUNDED:
            text += f"[<={self.array_size}]"
        elif self.array is ArrayKind.UNBOUNDED:
            text += "[]"
        return text


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message. ``default`` is already converted to Python values."""

    name: str
    type: FieldType
    default: Any = None
    has_default: bool = False
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Constant:
    """A ``TYPE NAME=value`` line; ``type`` is always a primitive without arrays."""

    name: str
    type: FieldType
    value: Any
    comment: str = ""


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """One message type: ``full_name`` is ``pkg/msg/Name`` (or ``pkg/srv/Name_Request`` ...)."""

    full_name: str
    fields: tuple[Field, ...]
    constants: tuple[Constant, ...] = ()
    text: str = ""  #: the definition as written (for ``rfos interface show``)
    source: str = ""  #: file it came from, or "" for built-in types

    @property
    def package(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.rsplit("/", 1)[1]

    @property
    def kind(self) -> str:
        """``msg``, ``srv`` or ``action``: the middle token of the full name."""
        return self.full_name.split("/")[1]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A ``.srv``: ``full_name`` is ``pkg/srv/Name``."""

    full_name: str
    request: MessageSpec
    response: MessageSpec
    text: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A ``.action``: ``full_name`` is ``pkg/action/Name``."""

    full_name: str
    goal: MessageSpec
    result: MessageSpec
    feedback: MessageSpec
    text: str = ""
    source: str = ""


InterfaceSpec = MessageSpec | ServiceSpec | ActionSpec

# Names pydantic's BaseModel already uses, or Python forbids, as attributes.
_RESERVED: frozenset[str] = frozenset(
    {
        "copy",
        "dict",
        "json",
        "schema",
        "schema_json",
        "construct",
        "validate",
        "from_orm",
        "parse_obj",
        "parse_raw",
        "parse_file",
        "update_forward_refs",
    }
)


def python_name(field_name: str) -> str:
    """The attribute name a ROS field gets on its Python class.

    ROS field names are ``[a-z][a-z0-9_]*``; the few that collide with a Python keyword or
    with pydantic's API (``from``, ``json``, ``model_*``) get a trailing underscore. The
    ROS name stays the alias used in JSON, so the wire format never changes.
    """
    if keyword.iskeyword(field_name) or field_name in _RESERVED or field_name.startswith("model_"):
        return field_name + "_"
    return field_name
