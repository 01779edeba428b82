"""Parameter values, as in ROS 2: the errors, the types and their checks, the ``Parameter``
class, conversions to and from ``rcl_interfaces`` messages, overrides and descriptors (the
store itself is :mod:`robotfleet_nodes.node.parameters`)."""

from __future__ import annotations

import array
import enum
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from robotfleet_nodes.errors import ParameterError
from robotfleet_nodes.idl import Message, default_registry

if TYPE_CHECKING:
    from robotfleet_nodes.node.arguments import RosArgs

_SEPARATOR = "."
_INT64 = (-(2**63), 2**63 - 1)


# -- errors --------------------------------------------------------------------------------
class ParameterNotDeclaredError(ParameterError, LookupError):
    """The parameter is not declared (and the node does not allow undeclared parameters)."""


class ParameterAlreadyDeclaredError(ParameterError):
    """``declare_parameter`` for a name that is already declared."""


class InvalidParameterTypeError(ParameterError, TypeError):
    """The value's type is not the parameter's (and it is not dynamically typed)."""


class InvalidParameterValueError(ParameterError):
    """The value is out of the descriptor's range or a set-parameters callback rejected it."""


class ParameterImmutableError(ParameterError):
    """The parameter is read-only."""


class ParameterUninitializedError(ParameterError):
    """The parameter was declared with a type but no value, and no override gave one."""


# -- interface classes ---------------------------------------------------------------------
_INTERFACE_DIR = Path(__file__).resolve().parent.parent / "interfaces"


def interface_class(name: str) -> Any:
    """The class of a standard interface (``rcl_interfaces/srv/GetParameters`` ...).

    Loads the service definitions kept in ``robotfleet_nodes/interfaces`` into the default
    registry on first use (idempotent: the registry accepts an identical re-registration).
    """
    registry = default_registry()
    if name not in registry:
        package = name.split("/", 1)[0]
        directory = _INTERFACE_DIR / package
        if directory.is_dir():
            registry.load_package(package, directory)
    return registry.get_interface(name)


# -- Parameter -----------------------------------------------------------------------------
class _Type(enum.IntEnum):
    """A parameter's type; the values are ``rcl_interfaces/msg/ParameterType``'s."""

    NOT_SET = 0
    BOOL = 1
    INTEGER = 2
    DOUBLE = 3
    STRING = 4
    BYTE_ARRAY = 5
    BOOL_ARRAY = 6
    INTEGER_ARRAY = 7
    DOUBLE_ARRAY = 8
    STRING_ARRAY = 9

    @property
    def is_array(self) -> bool:
        return self >= _Type.BYTE_ARRAY

    @classmethod
    def from_parameter_value(cls, value: Any) -> _Type:
        """The type of a Python value; raises :class:`InvalidParameterTypeError` if none fits.

        An empty list is a ``STRING_ARRAY`` here; assigning it to a declared array
        parameter of another array type keeps that type. An ``array.array`` (a numeric
        sequence of a message, as rclpy allows) counts as the list of its values.
        """
        if value is None:
            return cls.NOT_SET
        if isinstance(value, array.array):
            value = value.tolist()
        if isinstance(value, bool):
            return cls.BOOL
        if isinstance(value, int):
            return cls.INTEGER
        if isinstance(value, float):
            return cls.DOUBLE
        if isinstance(value, str):
            return cls.STRING
        if isinstance(value, bytes | bytearray):
            return cls.BYTE_ARRAY
        if isinstance(value, list | tuple):
            if not value:
                return cls.STRING_ARRAY
            for element_type, array_type in (
                (bool, cls.BOOL_ARRAY),
                (int, cls.INTEGER_ARRAY),
                (float, cls.DOUBLE_ARRAY),
                (str, cls.STRING_ARRAY),
                (bytes, cls.BYTE_ARRAY),
            ):
                if all(type(v) is element_type for v in value):
                    return array_type
            kinds = ", ".join(sorted({type(v).__name__ for v in value}))
            raise InvalidParameterTypeError(
                f"a list parameter value must hold one type of bool, int, float or str, got {kinds}"
            )
        raise InvalidParameterTypeError(f"{type(value).__name__} is not a parameter value type")

    def check(self, value: Any) -> bool:
        """Whether ``value`` is a value of this type."""
        if self is _Type.NOT_SET:
            return value is None
        if value is None:
            return False
        if self.is_array and isinstance(value, list | tuple | array.array) and not value:
            return True
        try:
            return _Type.from_parameter_value(value) is self
        except InvalidParameterTypeError:
            return False


def _normalize(type_: _Type, value: Any) -> Any:
    """Lists for arrays (``bytes`` for byte arrays), as stored and returned."""
    if type_ is _Type.BYTE_ARRAY:
        if isinstance(value, list | tuple):
            return b"".join(value)
        return bytes(value)
    if type_.is_array:
        return list(value)
    return value


class Parameter:
    """A named, typed parameter value: ``Parameter("rate", value=10.0)``.

    ``type_`` is inferred from ``value`` when omitted; given both, they must agree.
    ``Parameter.Type`` mirrors rclpy's enum and ``rcl_interfaces/msg/ParameterType``.
    """

    Type: TypeAlias = _Type

    __slots__ = ("_name", "_type", "_value")

    def __init__(self, name: str, type_: _Type | None = None, value: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ParameterError(f"a parameter name must be a non-empty string, got {name!r}")
        if isinstance(value, array.array):
            value = value.tolist()
        try:
            inferred = _Type.from_parameter_value(value)
        except InvalidParameterTypeError as exc:
            raise InvalidParameterTypeError(f"parameter {name!r}: {exc}") from None
        if type_ is None:
            type_ = inferred
        type_ = _Type(type_)
        if not type_.check(value):
            raise InvalidParameterTypeError(
                f"parameter {name!r}: value {value!r} is not of type {type_.name} (it is {inferred.name})"
            )
        if isinstance(value, int | float) and not isinstance(value, bool):
            _check_number(name, value)
        elif isinstance(value, list | tuple):
            for element in value:
                if isinstance(element, int | float) and not isinstance(element, bool):
                    _check_number(name, element)
        self._name = name
        self._type = type_
        self._value = None if value is None else _normalize(type_, value)

    @property
    def name(self) -> str:
        return self._name

    @property
    def type_(self) -> _Type:
        return self._type

    @property
    def value(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return f"Parameter({self._name!r}, Parameter.Type.{self._type.name}, {self._value!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameter):
            return NotImplemented
        return (self._name, self._type, self._value) == (other._name, other._type, other._value)

    def __hash__(self) -> int:
        return hash((self._name, self._type))

    def get_parameter_value(self) -> Message:
        """This value as an ``rcl_interfaces/msg/ParameterValue``."""
        return to_parameter_value(self._type, self._value)

    def to_parameter_msg(self) -> Message:
        """This parameter as an ``rcl_interfaces/msg/Parameter``."""
        cls = interface_class("rcl_interfaces/msg/Parameter")
        return cls(name=self._name, value=self.get_parameter_value())  # type: ignore[no-any-return]

    @classmethod
    def from_parameter_msg(cls, msg: Any) -> Parameter:
        """From an ``rcl_interfaces/msg/Parameter``."""
        type_, value = from_parameter_value(msg.value)
        return cls(msg.name, type_, value)


def _check_number(name: str, value: float) -> None:
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        raise InvalidParameterValueError(f"parameter {name!r}: integer {value} does not fit in 64 bits")


_VALUE_FIELDS = {
    _Type.BOOL: "bool_value",
    _Type.INTEGER: "integer_value",
    _Type.DOUBLE: "double_value",
    _Type.STRING: "string_value",
    _Type.BYTE_ARRAY: "byte_array_value",
    _Type.BOOL_ARRAY: "bool_array_value",
    _Type.INTEGER_ARRAY: "integer_array_value",
    _Type.DOUBLE_ARRAY: "double_array_value",
    _Type.STRING_ARRAY: "string_array_value",
}


def to_parameter_value(type_: _Type, value: Any) -> Message:
    """``rcl_interfaces/msg/ParameterValue`` of a Python value of ``type_``."""
    cls = interface_class("rcl_interfaces/msg/ParameterValue")
    if type_ is _Type.NOT_SET or value is None:
        return cls(type=int(_Type.NOT_SET))  # type: ignore[no-any-return]
    return cls(type=int(type_), **{_VALUE_FIELDS[type_]: value})  # type: ignore[no-any-return]


def from_parameter_value(msg: Any) -> tuple[_Type, Any]:
    """``(type, Python value)`` of an ``rcl_interfaces/msg/ParameterValue``.

    Raises :class:`InvalidParameterTypeError` for an unknown type id.
    """
    try:
        type_ = _Type(msg.type)
    except ValueError:
        raise InvalidParameterTypeError(f"unknown parameter type id {msg.type}") from None
    if type_ is _Type.NOT_SET:
        return type_, None
    return type_, _normalize(type_, getattr(msg, _VALUE_FIELDS[type_]))


# -- overrides -----------------------------------------------------------------------------
def collect_parameter_overrides(
    node_fqn: str,
    *,
    global_args: RosArgs | None = None,
    node_args: RosArgs | None = None,
    parameter_overrides: Mapping[str, Any] | Iterable[Parameter] | None = None,
) -> dict[str, Any]:
    """The override values of one node, in ROS 2's precedence (later wins).

    Global ``--ros-args`` (params files, then ``-p``), the node's own ``cli_args`` (params
    files, then ``-p``), then the explicit ``parameter_overrides`` (a dict or Parameters).
    """
    values: dict[str, Any] = {}
    for args in (global_args, node_args):
        if args is not None:
            values.update(args.parameters_for(node_fqn))
    if isinstance(parameter_overrides, Mapping):
        values.update(parameter_overrides)
    elif parameter_overrides is not None:
        values.update({p.name: p.value for p in parameter_overrides})
    return values


# -- descriptors ---------------------------------------------------------------------------
def _descriptor_class() -> Any:
    return interface_class("rcl_interfaces/msg/ParameterDescriptor")


def _copy_descriptor(descriptor: Any | None, name: str) -> Any:
    cls = _descriptor_class()
    if descriptor is None:
        return cls(name=name)
    if not isinstance(descriptor, cls):
        raise TypeError(f"Expected rcl_interfaces/msg/ParameterDescriptor, got {type(descriptor).__name__}")
    copy = descriptor.model_copy(deep=True)
    copy.name = name
    return copy


def _range_text(low: float, high: float, step: float) -> str:
    return f"[{low}, {high}]" + (f" in steps of {step}" if step else "")


def _range_error(name: str, descriptor: Any, value: Any) -> str | None:
    """Why ``value`` breaks the descriptor's range, or ``None``."""
    elements = value if isinstance(value, list) else [value]
    if descriptor.integer_range and all(isinstance(v, int) and not isinstance(v, bool) for v in elements):
        r = descriptor.integer_range[0]
        for v in elements:
            ok = r.from_value <= v <= r.to_value and (
                r.step == 0 or v == r.to_value or (v - r.from_value) % r.step == 0
            )
            if not ok:
                return (
                    f"parameter {name!r}: value {v} is out of range "
                    f"{_range_text(r.from_value, r.to_value, r.step)}"
                )
    if descriptor.floating_point_range and all(isinstance(v, float) for v in elements):
        f = descriptor.floating_point_range[0]
        for v in elements:
            ok = (
                (f.from_value <= v <= f.to_value)
                or math.isclose(v, f.from_value)
                or math.isclose(v, f.to_value)
            )
            if ok and f.step:
                steps = (v - f.from_value) / f.step
                ok = math.isclose(steps, round(steps), abs_tol=1e-9) or math.isclose(v, f.to_value)
            if not ok:
                return (
                    f"parameter {name!r}: value {v} is out of range "
                    f"{_range_text(f.from_value, f.to_value, f.step)}"
                )
    return None
