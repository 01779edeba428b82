"""``rclpy.parameter``: :class:`Parameter` and the helpers around ``rcl_interfaces`` messages.

:class:`Parameter` is our core's parameter (``robotfleet_nodes.node.Parameter``) with rclpy's
constructor rules, so a node's parameter store takes it as is: ``type_`` must be a
``Parameter.Type``, a value that does not agree with it is a ``ValueError``, and a value is
kept as given (a tuple stays a tuple). ``Parameter.Type`` is the core's enum (the values are
``rcl_interfaces/msg/ParameterType``'s).
"""

from __future__ import annotations

import array
from pathlib import Path
from typing import Any

from robotfleet_nodes._yaml import YamlError, load_yaml
from robotfleet_nodes.node.parameters import Parameter as _CoreParameter
from robotfleet_nodes.node.parameters import interface_class

__all__ = [
    "PARAMETER_SEPARATOR_STRING",
    "Parameter",
    "get_parameter_value",
    "parameter_dict_from_yaml_file",
    "parameter_value_to_python",
]

PARAMETER_SEPARATOR_STRING = "."
_ParameterType = _CoreParameter.Type


def _rclpy_type_of(value: Any) -> _ParameterType:
    """rclpy's inference: an empty list is a ``BYTE_ARRAY``; a bool list of ints is ints."""
    if isinstance(value, array.array):
        value = value.tolist()
    if isinstance(value, list | tuple):
        for element_type, array_type in (
            (bytes, _ParameterType.BYTE_ARRAY),
            (bool, _ParameterType.BOOL_ARRAY),
            (int, _ParameterType.INTEGER_ARRAY),
            (float, _ParameterType.DOUBLE_ARRAY),
            (str, _ParameterType.STRING_ARRAY),
        ):
            if all(isinstance(v, element_type) for v in value):
                return array_type
        raise TypeError(f"The given value is not a list of one of the allowed types '{value}'.")
    try:
        return _ParameterType.from_parameter_value(value)
    except TypeError:
        raise TypeError(f"The given value is not one of the allowed types '{value}'.") from None


class Parameter(_CoreParameter):
    """A named, typed value: ``Parameter('rate', Parameter.Type.DOUBLE, 10.0)`` or
    ``Parameter('rate', value=10.0)`` (like ``rclpy.parameter.Parameter``)."""

    __slots__ = ("_given",)

    def __init__(self, name: str, type_: _ParameterType | None = None, value: Any = None) -> None:
        if type_ is None:
            type_ = _rclpy_type_of(value)
        if not isinstance(type_, _ParameterType):
            raise TypeError(f"type must be an instance of '{_ParameterType!r}'")
        if not type_.check(value):
            raise ValueError(f"Type '{type_}' and value '{value}' do not agree")
        super().__init__(name, type_, value)
        self._given = value

    @property
    def value(self) -> Any:
        """The value as given (rclpy keeps tuples and lists of one-byte ``bytes`` as they are)."""
        return self._given


def get_parameter_value(string_value: str) -> Any:
    """An ``rcl_interfaces/msg/ParameterValue`` of ``string_value`` read as YAML (a bool, int,
    float or a list of one of them or of strings), else the string itself. YAML is read by
    the package's one loader (dates stay text)."""
    value_cls = interface_class("rcl_interfaces/msg/ParameterValue")
    try:
        parsed = load_yaml(string_value, "parameter value")
    except YamlError:
        parsed = string_value
    if isinstance(parsed, bool):
        return value_cls(type=int(_ParameterType.BOOL), bool_value=parsed)
    if isinstance(parsed, int):
        return value_cls(type=int(_ParameterType.INTEGER), integer_value=parsed)
    if isinstance(parsed, float):
        return value_cls(type=int(_ParameterType.DOUBLE), double_value=parsed)
    if isinstance(parsed, list):
        for element_type, type_, field in (
            (bool, _ParameterType.BOOL_ARRAY, "bool_array_value"),
            (int, _ParameterType.INTEGER_ARRAY, "integer_array_value"),
            (float, _ParameterType.DOUBLE_ARRAY, "double_array_value"),
            (str, _ParameterType.STRING_ARRAY, "string_array_value"),
        ):
            if all(isinstance(v, element_type) for v in parsed):
                return value_cls(type=int(type_), **{field: parsed})
        return value_cls(type=int(_ParameterType.STRING), string_value=string_value)
    text = parsed if isinstance(parsed, str) else string_value
    return value_cls(type=int(_ParameterType.STRING), string_value=text)


_PYTHON_FIELDS = {
    _ParameterType.BOOL: "bool_value",
    _ParameterType.INTEGER: "integer_value",
    _ParameterType.DOUBLE: "double_value",
    _ParameterType.STRING: "string_value",
}
_ARRAY_FIELDS = {
    _ParameterType.BOOL_ARRAY: "bool_array_value",
    _ParameterType.INTEGER_ARRAY: "integer_array_value",
    _ParameterType.DOUBLE_ARRAY: "double_array_value",
    _ParameterType.STRING_ARRAY: "string_array_value",
}


def parameter_value_to_python(parameter_value: Any) -> Any:
    """The Python value of an ``rcl_interfaces/msg/ParameterValue`` (``None`` for NOT_SET,
    lists for arrays, a list of one-byte ``bytes`` for a byte array).

    Raises:
        RuntimeError: the message's ``type`` is not a parameter type.
    """
    type_id = parameter_value.type
    if type_id == _ParameterType.NOT_SET:
        return None
    if type_id == _ParameterType.BYTE_ARRAY:
        return [bytes([b]) if isinstance(b, int) else b for b in parameter_value.byte_array_value]
    for types, collect in ((_PYTHON_FIELDS, False), (_ARRAY_FIELDS, True)):
        field = next((f for t, f in types.items() if t == type_id), None)
        if field is not None:
            value = getattr(parameter_value, field)
            return list(value) if collect else value
    raise RuntimeError(f"unexpected parameter type {type_id}")


def _node_section(data: dict[Any, Any], key: str, what: str) -> dict[Any, Any]:
    section = data[key]
    if not isinstance(section, dict) or "ros__parameters" not in section:
        raise RuntimeError(f"YAML file is not a valid ROS parameter file for {what}")
    parameters = section["ros__parameters"]
    return parameters if isinstance(parameters, dict) else {}


def parameter_dict_from_yaml_file(
    parameter_file: str,
    use_wildcard: bool = False,
    target_nodes: list[str] | None = None,
    namespace: str = "",
) -> dict[str, Any]:
    """``{name: rcl_interfaces/msg/Parameter}`` from a ROS 2 params file, as rclpy reads it.

    ``use_wildcard`` takes the ``/**`` section first; ``target_nodes`` then the sections of
    these nodes (``/ns/node``, ``node`` or ``/ns: node:``). Nested keys are joined with ``.``
    and ``namespace`` is prepended to every name. Each value is re-read from its text by
    :func:`get_parameter_value`.

    Raises:
        RuntimeError: no parameters were found, or a section lacks ``ros__parameters``.
    """
    loaded = load_yaml(Path(parameter_file).read_text(encoding="utf-8"), str(parameter_file))
    data: dict[Any, Any] = loaded if isinstance(loaded, dict) else {}
    found: dict[Any, Any] = {}
    if use_wildcard and "/**" in data:
        found.update(_node_section(data, "/**", "wildcard(/**)"))
    for node in target_nodes or []:
        if not node:
            continue
        absolute = node if node.startswith("/") else "/" + node
        if absolute in data:
            found.update(_node_section(data, absolute, f"node {absolute}"))
        ns, base = absolute.rsplit("/", 1)
        if not ns and base in data:
            found.update(_node_section(data, base, f"node {base}"))
        elif ns in data and isinstance(data[ns], dict) and base in data[ns]:
            found.update(_node_section(data[ns], base, f"namespace {ns} node {base}"))
    if not found:
        raise RuntimeError("Param file does not contain any valid parameters")
    return _flatten(namespace, found)


def _flatten(prefix: str, group: dict[Any, Any]) -> dict[str, Any]:
    message_cls = interface_class("rcl_interfaces/msg/Parameter")
    out: dict[str, Any] = {}
    for key, value in group.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            out.update(_flatten(name + PARAMETER_SEPARATOR_STRING, value))
        else:
            out[name] = message_cls(name=name, value=get_parameter_value(str(value)))
    return out
