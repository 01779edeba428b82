"""The ROS 2 interface grammar: ``.msg`` / ``.srv`` / ``.action`` text into specs.

Follows ``rosidl_adapter``'s grammar: primitives, ``T[N]`` / ``T[]`` / ``T[<=N]``,
``string<=N``, constants ``TYPE NAME=value``, defaults ``TYPE name value``, ``#`` comments
and nested types (``pkg/Type``, ``pkg/msg/Type``, same-package ``Type``, legacy ``Header``).
Every error is a :class:`~robotfleet_nodes.errors.MsgSyntaxError` (``path:line: reason``).

Nested names are only *normalised* here (to ``pkg/msg/Type``); whether they exist is the
registry's question. So the registry can still point at the right line, the private
``parse_*_with_lines`` variants also return, per message, a ``field name -> line`` map.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.errors import InterfaceError, MsgSyntaxError
from robotfleet_nodes.idl._spec import (
    INTEGER_RANGES,
    PRIMITIVE_TYPES,
    ActionSpec,
    ArrayKind,
    Constant,
    Field,
    FieldType,
    InterfaceSpec,
    MessageSpec,
    ServiceSpec,
)

__all__ = [
    "LineMap",
    "normalize_name",
    "parse_action",
    "parse_interface",
    "parse_interface_with_lines",
    "parse_message",
    "parse_service",
]

#: ``full message name -> {field name: 1-based line}``, for errors found after parsing.
LineMap = dict[str, dict[str, int]]

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_CONSTANT_NAME = re.compile(r"^[A-Z]([A-Z0-9_]*[A-Z0-9])?$")
_PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_TYPE = re.compile(
    r"^(?P<base>[A-Za-z][A-Za-z0-9_]*(?:/[A-Za-z][A-Za-z0-9_]*){0,2})"
    r"(?:<=(?P<sbound>[^\[\]]*))?"
    r"(?:\[(?P<array>[^\]]*)\])?$"
)
_CONSTANT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*)$")
_STRING_TYPES = frozenset({"string", "wstring"})
_FLOAT32_MAX = 3.4028234663852886e38
_BOOL_VALUES = {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}
_ROS1_TYPES = {"time": "builtin_interfaces/Time", "duration": "builtin_interfaces/Duration"}
_KIND_PARTS = {"msg": 1, "srv": 2, "action": 3}
_SUFFIXES = {"srv": ("_Request", "_Response"), "action": ("_Goal", "_Result", "_Feedback")}


class _ValueError(Exception):
    """A literal does not fit its type; the parser turns it into a MsgSyntaxError."""


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    code: str  #: the line without its comment, stripped
    comment: str  #: the comment text after ``#``, stripped


def normalize_name(name: str, kind: str = "msg") -> str:
    """``pkg/Type`` -> ``pkg/<kind>/Type``; ``pkg/kind/Type`` stays as it is."""
    parts = name.split("/")
    if len(parts) == 2:
        return f"{parts[0]}/{kind}/{parts[1]}"
    return name


def _split_full_name(full_name: str, kind: str) -> tuple[str, str]:
    parts = normalize_name(full_name, kind).split("/")
    if len(parts) != 3 or parts[1] != kind or not _PACKAGE_NAME.match(parts[0]) or not parts[2]:
        raise InterfaceError(f"interface name {full_name!r} must look like 'pkg/{kind}/Name'")
    return parts[0], parts[2]


# --- lines and comments -------------------------------------------------------------------


def _split_comment(raw: str) -> tuple[str, str]:
    """Split a line at the first ``#`` outside a quoted string literal."""
    quote = ""
    escaped = False
    for index, char in enumerate(raw):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return raw[:index], raw[index + 1 :].strip()
    return raw, ""


def _lines(text: str) -> list[_Line]:
    result = []
    for number, raw in enumerate(text.splitlines(), start=1):
        code, comment = _split_comment(raw)
        result.append(_Line(number, code.strip(), comment))
    return result


def _sections(lines: list[_Line], kind: str, path: str) -> list[list[_Line]]:
    expected = _KIND_PARTS[kind]
    sections: list[list[_Line]] = [[]]
    for line in lines:
        if line.code == "---":
            if expected == 1:
                raise MsgSyntaxError(
                    path, line.number, "'---' separators are only allowed in .srv and .action files"
                )
            if len(sections) == expected:
                raise MsgSyntaxError(path, line.number, _separator_reason(kind, len(sections)))
            sections.append([])
        else:
            sections[-1].append(line)
    if len(sections) != expected:
        last = lines[-1].number if lines else 1
        raise MsgSyntaxError(path, last, _separator_reason(kind, len(sections) - 1))
    return sections


def _separator_reason(kind: str, found: int) -> str:
    if kind == "srv":
        return f".srv needs exactly one '---' separator (request --- response), found {found}"
    return (
        f".action needs exactly two '---' separators (goal --- result --- feedback), "
        f"found {found if found < 2 else 'more than two'}"
    )


# --- types --------------------------------------------------------------------------------


def _positive(text: str, what: str) -> int:
    text = text.strip()
    if not text.isdigit() or int(text) <= 0:
        raise _ValueError(f"{what} must be a positive integer, got {text!r}")
    return int(text)


def _parse_type(text: str, package: str) -> FieldType:
    match = _TYPE.match(text)
    if match is None:
        raise _ValueError(
            f"invalid type {text!r} (expected TYPE, TYPE[N], TYPE[<=N], TYPE[], string<=N or pkg/Type)"
        )
    base = match["base"]
    string_bound = None
    if match["sbound"] is not None:
        if base not in _STRING_TYPES:
            raise _ValueError(f"only string and wstring can have a '<=N' bound, not {base!r}")
        string_bound = _positive(match["sbound"], "string bound")
    base = _resolve_base(base, package)
    array_text = match["array"]
    if array_text is None:
        return FieldType(base, string_bound)
    array_text = array_text.strip()
    if array_text == "":
        return FieldType(base, string_bound, ArrayKind.UNBOUNDED)
    if array_text.startswith("<="):
        size = _positive(array_text[2:], "array bound")
        return FieldType(base, string_bound, ArrayKind.BOUNDED, size)
    return FieldType(base, string_bound, ArrayKind.FIXED, _positive(array_text, "array bound"))


def _resolve_base(base: str, package: str) -> str:
    """Primitive name, or the nested type's full ``pkg/msg/Type`` name."""
    if base in PRIMITIVE_TYPES:
        return base
    parts = base.split("/")
    if len(parts) == 1:
        if base == "Header" and package != "std_msgs":
            return "std_msgs/msg/Header"
        if _TYPE_NAME.match(base):
            return f"{package}/msg/{base}"
        if base in _ROS1_TYPES:
            raise _ValueError(f"unknown type {base!r} (ROS 1 type; use {_ROS1_TYPES[base]})")
        close = difflib.get_close_matches(base, sorted(PRIMITIVE_TYPES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _ValueError(
            f"unknown type {base!r}{hint}; expected a primitive or a nested 'pkg/Type' / 'Type'"
        )
    if len(parts) == 3 and parts[1] != "msg":
        raise _ValueError(f"fields can only have message types, not {base!r} (expected pkg/msg/Type)")
    pkg, name = parts[0], parts[-1]
    if not _PACKAGE_NAME.match(pkg):
        raise _ValueError(f"invalid package name {pkg!r} in type {base!r} (expected lower_snake_case)")
    if not _TYPE_NAME.match(name):
        raise _ValueError(f"invalid type name {name!r} in {base!r} (expected CamelCase)")
    return f"{pkg}/msg/{name}"


# --- values -------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    """Strip matching quotes and resolve backslash escapes; unquoted text is kept as is."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        body = text[1:-1]
        out = []
        index = 0
        while index < len(body):
            char = body[index]
            if char == "\\" and index + 1 < len(body):
                index += 1
                nxt = body[index]
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
            elif char == text[0]:
                raise _ValueError(f"unescaped {char} inside string literal {text}")
            else:
                out.append(char)
            index += 1
        return "".join(out)
    if text[:1] in "\"'":
        raise _ValueError(f"unterminated string literal {text}")
    return text


def _parse_scalar(text: str, ftype: FieldType, role: str) -> Any:
    """Convert one literal; ``role`` ("constant", "default", ...) starts the error message."""
    base = ftype.base
    text = text.strip()
    if base in INTEGER_RANGES:
        try:
            value = int(text, 0) if text.lower().startswith(("0x", "-0x", "0b", "0o")) else int(text)
        except ValueError:
            raise _ValueError(f"{role} value {text!r} is not a valid {base}") from None
        low, high = INTEGER_RANGES[base]
        if not low <= value <= high:
            raise _ValueError(f"{role} value {value} out of range for {base} ({low}..{high})")
        return value
    if base in ("float32", "float64"):
        try:
            number = float(text)
        except ValueError:
            raise _ValueError(f"{role} value {text!r} is not a valid {base}") from None
        if base == "float32" and math.isfinite(number) and abs(number) > _FLOAT32_MAX:
            raise _ValueError(f"{role} value {text} out of range for float32 (|x| <= {_FLOAT32_MAX:g})")
        return number
    if base == "bool":
        if text not in _BOOL_VALUES:
            raise _ValueError(
                f"{role} value {text!r} is not a valid bool (expected true, false, True, False, 1 or 0)"
            )
        return _BOOL_VALUES[text]
    value_str = _unquote(text)
    if ftype.string_bound is not None and len(value_str) > ftype.string_bound:
        raise _ValueError(
            f"string {role} longer than bound {ftype.string_bound} ({len(value_str)} characters)"
        )
    return value_str


def _split_array_literal(text: str) -> list[str]:
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise _ValueError(f"array default must be written [a, b, ...], got {text!r}")
    body = text[1:-1].strip()
    if not body:
        return []
    items: list[str] = []
    current: list[str] = []
    quote = ""
    escaped = False
    for char in body:
        if quote:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char == ",":
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if quote:
        raise _ValueError(f"unterminated string literal in {text!r}")
    items.append("".join(current).strip())
    if any(item == "" for item in items):
        raise _ValueError(f"empty element in array default {text!r}")
    return items


def _parse_default(text: str, ftype: FieldType) -> Any:
    if not ftype.is_primitive:
        raise _ValueError(f"default values are only allowed for primitive types, not {ftype.base!r}")
    if not ftype.is_array:
        return _parse_scalar(text, ftype, "default")
    items = _split_array_literal(text)
    size = ftype.array_size
    if ftype.array is ArrayKind.FIXED and len(items) != size:
        raise _ValueError(f"default array has {len(items)} elements but the type requires exactly {size}")
    if ftype.array is ArrayKind.BOUNDED and size is not None and len(items) > size:
        raise _ValueError(f"default array has {len(items)} elements but the type allows at most {size}")
    element = ftype.element
    return [_parse_scalar(item, element, "default array element") for item in items]


# --- messages -----------------------------------------------------------------------------


def _parse_lines(
    lines: list[_Line], full_name: str, package: str, source: str, text: str
) -> tuple[MessageSpec, dict[str, int]]:
    path = source or full_name
    fields: list[Field] = []
    constants: list[Constant] = []
    seen: dict[str, int] = {}
    for line in lines:
        if not line.code:
            continue

        def fail(reason: str, line: _Line = line) -> MsgSyntaxError:
            return MsgSyntaxError(path, line.number, reason)

        parts = line.code.split(None, 1)
        if len(parts) < 2:
            raise fail(f"expected 'TYPE name [default]' or 'TYPE NAME=value', got {line.code!r}")
        type_text, rest = parts
        try:
            ftype = _parse_type(type_text, package)
        except _ValueError as exc:
            raise fail(str(exc)) from None
        constant = _CONSTANT.match(rest)
        if constant is not None:
            name = constant["name"]
            if not _CONSTANT_NAME.match(name):
                raise fail(
                    f"constant name {name!r} must be UPPER_CASE (capital letters, digits and "
                    f"underscores, starting with a letter, not ending with '_')"
                )
            if ftype.is_array:
                raise fail(f"constants cannot be arrays (constant {name!r} has type {type_text!r})")
            if not ftype.is_primitive:
                raise fail(f"constants must have a primitive type, not {ftype.base!r}")
            if name in seen:
                raise fail(f"duplicate constant {name!r} (first defined on line {seen[name]})")
            raw_value = constant["value"].strip()
            if not raw_value:
                raise fail(f"constant {name!r} has no value (expected {type_text} {name}=VALUE)")
            try:
                value = _parse_scalar(raw_value, ftype, "constant")
            except _ValueError as exc:
                raise fail(str(exc)) from None
            seen[name] = line.number
            constants.append(Constant(name, ftype, value, line.comment))
            continue
        name_default = rest.split(None, 1)
        name = name_default[0]
        if not _FIELD_NAME.match(name):
            raise fail(
                f"field name {name!r} must be lower_snake_case (lowercase letter first, then "
                f"lowercase letters, digits and single underscores, no trailing '_')"
            )
        if name in seen:
            raise fail(f"duplicate field {name!r} (first defined on line {seen[name]})")
        has_default = len(name_default) == 2
        default: Any = None
        if has_default:
            try:
                default = _parse_default(name_default[1], ftype)
            except _ValueError as exc:
                raise fail(str(exc)) from None
        seen[name] = line.number
        fields.append(Field(name, ftype, default, has_default, line.comment))
    spec = MessageSpec(full_name, tuple(fields), tuple(constants), text=text, source=source)
    return spec, {field.name: seen[field.name] for field in fields}


def parse_interface_with_lines(
    text: str, full_name: str, *, source: str = ""
) -> tuple[InterfaceSpec, LineMap]:
    """Parse any interface; the kind comes from the middle token of ``full_name``.

    Returns the spec and, for each message in it, the line of each field.
    """
    parts = full_name.split("/")
    kind = parts[1] if len(parts) == 3 else "msg"
    if kind not in _KIND_PARTS:
        raise InterfaceError(f"interface name {full_name!r}: kind must be msg, srv or action")
    package, name = _split_full_name(full_name, kind)
    path = source or full_name
    sections = _sections(_lines(text), kind, path)
    if kind == "msg":
        spec, lines = _parse_lines(sections[0], f"{package}/msg/{name}", package, source, text)
        return spec, {spec.full_name: lines}
    parsed = []
    line_map: LineMap = {}
    for section, suffix in zip(sections, _SUFFIXES[kind], strict=True):
        section_text = "\n".join(_raw_section(text, section))
        part, lines = _parse_lines(section, f"{package}/{kind}/{name}{suffix}", package, source, section_text)
        parsed.append(part)
        line_map[part.full_name] = lines
    full = f"{package}/{kind}/{name}"
    if kind == "srv":
        return ServiceSpec(full, parsed[0], parsed[1], text=text, source=source), line_map
    return ActionSpec(full, parsed[0], parsed[1], parsed[2], text=text, source=source), line_map


def _raw_section(text: str, section: list[_Line]) -> list[str]:
    raw = text.splitlines()
    return [raw[line.number - 1] for line in section]


def parse_interface(text: str, full_name: str, *, source: str = "") -> InterfaceSpec:
    """Parse ``.msg``/``.srv``/``.action`` text; ``full_name`` is ``pkg/kind/Name``."""
    return parse_interface_with_lines(text, full_name, source=source)[0]


def parse_message(text: str, full_name: str, *, source: str = "") -> MessageSpec:
    """Parse ``.msg`` text into a :class:`MessageSpec` named ``pkg/msg/Name`` (or ``pkg/Name``)."""
    spec = parse_interface(text, normalize_name(full_name, "msg"), source=source)
    if not isinstance(spec, MessageSpec):
        raise InterfaceError(f"{full_name!r} is not a message name (expected pkg/msg/Name)")
    return spec


def parse_service(text: str, full_name: str, *, source: str = "") -> ServiceSpec:
    """Parse ``.srv`` text (request ``---`` response) named ``pkg/srv/Name`` (or ``pkg/Name``)."""
    spec = parse_interface(text, normalize_name(full_name, "srv"), source=source)
    if not isinstance(spec, ServiceSpec):
        raise InterfaceError(f"{full_name!r} is not a service name (expected pkg/srv/Name)")
    return spec


def parse_action(text: str, full_name: str, *, source: str = "") -> ActionSpec:
    """Parse ``.action`` text (goal ``---`` result ``---`` feedback) named ``pkg/action/Name``."""
    spec = parse_interface(text, normalize_name(full_name, "action"), source=source)
    if not isinstance(spec, ActionSpec):
        raise InterfaceError(f"{full_name!r} is not an action name (expected pkg/action/Name)")
    return spec
