"""Spec -> pydantic v2 model class.

Type mapping (chosen for cheap construction: constraints live in pydantic-core, the only
Python-level validator is one ``BeforeValidator`` for array coercion):

- integers (``int8`` .. ``uint64``) and the 8-bit ``byte`` / ``char`` scalars: strict
  ``int`` with their range (``byte`` and ``char`` are numbers 0..255, as in ROS 2 C++ and
  in CDR; ``char`` is *not* a one-letter string). ``bool`` and ``float`` are rejected.
- ``float32`` / ``float64``: ``float`` (ints accepted and converted; strings and bools are
  rejected). A ``float32`` *scalar* is stored as a Python float, not rounded; the elements of a
  ``float32`` sequence are rounded to float32, as in rclpy (they live in an ``array.array('f')``).
- ``bool``: strict ``bool``. ``string`` / ``wstring``: strict ``str`` (``max_length`` for
  ``string<=N``).
- ``uint8`` / ``byte`` arrays of any kind: ``bytes`` (``bytes``, ``bytearray``,
  ``memoryview`` or a sequence of ints 0..255 are accepted and converted); JSON carries them
  as base64.
- sequences (``T[]``, ``T[<=N]``) of the other numeric primitives (``int8`` .. ``uint64``,
  ``float32``, ``float64``): ``array.array`` with rclpy's typecodes (``b h i q H I Q f d``),
  see ``idl/_arrays.py`` for what is accepted and how (numpy arrays, ``bytes`` as raw memory,
  lists ...). Defaults are fresh empty arrays. ``array.array('d', [1.0]) == [1.0]`` is False:
  compare with ``.tolist()`` or with another array.
- other arrays: ``list`` of the element type (tuples and numpy arrays are converted);
  ``T[N]`` must have exactly N elements, ``T[<=N]`` at most N. Fixed-size numeric arrays
  (``float64[9] covariance``) stay lists: they are small, and rclpy's numpy arrays for them
  would make ``==`` elementwise.
- nested messages: the nested class; defaults are fresh instances (``default_factory``).
"""

from __future__ import annotations

import array
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, Strict, create_model
from pydantic import Field as PydanticField

from robotfleet_nodes.idl._arrays import TYPECODES, NumericArray
from robotfleet_nodes.idl._message import Message
from robotfleet_nodes.idl._spec import INTEGER_RANGES, ArrayKind, Field, FieldType, MessageSpec, python_name

__all__ = ["build_message_class", "zero_value"]

_BYTE_ARRAYS = frozenset({"uint8", "byte"})
_ZERO: dict[str, Any] = {"bool": False, "float32": 0.0, "float64": 0.0, "string": "", "wstring": ""}


def _to_bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, list | tuple):
        return bytes(value)  # ValueError for ints outside 0..255, TypeError for non-ints
    if hasattr(value, "tobytes") and hasattr(value, "dtype"):
        return bytes(value.astype("uint8").tolist()) if value.dtype.kind != "u" else value.tobytes()
    return value


def _to_list(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return value.tolist()
    return value


_BYTES_COERCION = BeforeValidator(_to_bytes)
_LIST_COERCION = BeforeValidator(_to_list)


def _scalar_annotation(ftype: FieldType, resolve_class: Callable[[str], type[Message]]) -> Any:
    base = ftype.base
    if base in INTEGER_RANGES:
        low, high = INTEGER_RANGES[base]
        return Annotated[int, Strict(), PydanticField(ge=low, le=high)]
    if base in ("float32", "float64"):
        return Annotated[float, Strict()]
    if base == "bool":
        return Annotated[bool, Strict()]
    if base in ("string", "wstring"):
        if ftype.string_bound is not None:
            return Annotated[str, Strict(), PydanticField(max_length=ftype.string_bound)]
        return Annotated[str, Strict()]
    return resolve_class(base)


def zero_value(ftype: FieldType, resolve_class: Callable[[str], type[Message]]) -> Any:
    """The ROS default of a type that has no explicit default (0, "", [], nested instance)."""
    element = ftype.element
    if ftype.base in _BYTE_ARRAYS and ftype.is_array:
        return bytes(ftype.array_size or 0) if ftype.array is ArrayKind.FIXED else b""
    if ftype.is_array:
        if ftype.array is ArrayKind.FIXED:
            return [zero_value(element, resolve_class) for _ in range(ftype.array_size or 0)]
        if ftype.base in TYPECODES:
            return array.array(TYPECODES[ftype.base])
        return []
    if ftype.is_primitive:
        return _ZERO.get(ftype.base, 0)
    return resolve_class(ftype.base)()


def _field_definition(field: Field, resolve_class: Callable[[str], type[Message]]) -> tuple[Any, Any]:
    ftype = field.type
    alias = field.name if python_name(field.name) != field.name else None
    fixed = ftype.array is ArrayKind.FIXED
    min_length = ftype.array_size if fixed else None
    max_length = ftype.array_size if ftype.array in (ArrayKind.FIXED, ArrayKind.BOUNDED) else None

    if ftype.is_array and ftype.base in _BYTE_ARRAYS:
        annotation: Any = Annotated[
            bytes, _BYTES_COERCION, PydanticField(min_length=min_length, max_length=max_length)
        ]
        default_bytes = bytes(field.default) if field.has_default else zero_value(ftype, resolve_class)
        return annotation, PydanticField(default=default_bytes, alias=alias)
    if ftype.is_array and not fixed and ftype.base in TYPECODES:
        code = TYPECODES[ftype.base]
        annotation = Annotated[array.array, NumericArray(ftype.base, max_length)]
        values = list(field.default) if field.has_default else []

        def new_array() -> array.array[Any]:
            return array.array(code, values)

        return annotation, PydanticField(default_factory=new_array, alias=alias)
    element = _scalar_annotation(ftype.element, resolve_class)
    if ftype.is_array:
        annotation = Annotated[
            list[element],  # type: ignore[valid-type]
            _LIST_COERCION,
            PydanticField(min_length=min_length, max_length=max_length),
        ]
        if field.has_default:
            values = list(field.default)
            return annotation, PydanticField(default_factory=values.copy, alias=alias)
        if ftype.is_primitive:
            zeros = zero_value(ftype, resolve_class)
            return annotation, PydanticField(default_factory=zeros.copy, alias=alias)
        nested = resolve_class(ftype.base)
        count = ftype.array_size if fixed else 0

        def factory() -> list[Message]:
            return [nested() for _ in range(count or 0)]

        return annotation, PydanticField(default_factory=factory, alias=alias)
    if not ftype.is_primitive:
        return element, PydanticField(default_factory=resolve_class(ftype.base), alias=alias)
    default = field.default if field.has_default else zero_value(ftype, resolve_class)
    return element, PydanticField(default=default, alias=alias)


def build_message_class(spec: MessageSpec, resolve_class: Callable[[str], type[Message]]) -> type[Message]:
    """Generate the :class:`Message` subclass of ``spec``.

    ``resolve_class`` returns the class of a nested type by full name (the registry passes
    its own cached lookup, so nested classes are generated first and shared).
    """
    definitions = {python_name(f.name): _field_definition(f, resolve_class) for f in spec.fields}
    package, kind, name = spec.full_name.split("/")
    cls: type[Message] = create_model(  # type: ignore[call-overload]
        name,
        __base__=Message,
        __module__=f"{package}.{kind}",
        __doc__=f"ROS 2 type ``{spec.full_name}``.\n\n{spec.text}".rstrip(),
        **definitions,
    )
    cls.__ros_type__ = spec.full_name
    cls.__ros_spec__ = spec
    for constant in spec.constants:
        setattr(cls, constant.name, constant.value)
    return cls
