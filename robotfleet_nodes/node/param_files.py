"""ROS 2 parameter YAML files: loading them for one node, and ``ros2 param dump`` output.

The layout is rcl's (``rcl_yaml_param_parser``)::

    /**:                         # every node
      ros__parameters:
        use_sim_time: false
    /robots:                     # namespace keys may nest ...
      driver:
        ros__parameters:
          wheel: {radius: 0.1}   # ... and parameter groups flatten to "wheel.radius"
    /**/planner:                 # "planner" in any namespace
      ros__parameters: {rate: 10.0}

Node keys are fully qualified names (a key without a leading ``/`` is relative to the root
namespace, as in ROS 2: ``talker`` matches ``/talker`` only); ``*`` matches within one
token and ``/**`` any number of tokens. For one node, matching entries are applied
wildcard entries first, then exact ones, each group in file order; later files override
earlier ones.

Files are read with the package's one YAML loader (``robotfleet_nodes._yaml``): a key given
twice is an error naming the file, line and key, and dates stay strings, as in rcl.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

from robotfleet_nodes._yaml import YamlError, dump_yaml, load_yaml
from robotfleet_nodes.errors import ParameterError

__all__ = [
    "ParameterValue",
    "dump_parameters",
    "load_parameter_file",
    "load_parameter_files",
    "node_pattern_matches",
    "parameter_file_entries",
    "parse_parameter_value",
]

#: A parameter value as Python holds it (ROS 2's ParameterValue types).
ParameterValue: TypeAlias = (
    bool | int | float | str | bytes | list[bool] | list[int] | list[float] | list[str]
)

_ROS_PARAMETERS = "ros__parameters"


_ELEMENT_TYPES: tuple[type, ...] = (bool, int, float, str)


def _convert(value: object, where: str) -> ParameterValue:
    """Check ``value`` is a ROS 2 parameter value; ``where`` names it in errors."""
    if isinstance(value, bool | int | float | str | bytes):
        return value
    if value is None:
        raise ParameterError(f"{where}: has no value (write a value, or quote '' for an empty string)")
    if isinstance(value, list):
        if not value:
            return []
        kinds = {type(v) for v in value}
        if len(kinds) == 1 and next(iter(kinds)) in _ELEMENT_TYPES:
            return list(value)
        names = sorted({type(v).__name__ for v in value})
        kind_list = ", ".join(names)
        if set(names) <= {"int", "float"}:
            hint = " (write every number with a decimal point, e.g. 1.0)"
        else:
            hint = ""
        raise ParameterError(
            f"{where}: a list parameter must hold one type of bool, int, float or str, got {kind_list}{hint}"
        )
    raise ParameterError(f"{where}: unsupported value of type {type(value).__name__}")


def parse_parameter_value(text: str, *, where: str = "value") -> ParameterValue:
    """Parse ``text`` as a YAML scalar or flow list, like ``-p name:=value`` in ROS 2.

    ``1`` is an int, ``1.0`` a float, ``true`` a bool, ``[1, 2]`` a list of ints, ``''`` or
    nothing an empty string; anything else is a string.

    Raises:
        ParameterError: naming ``where`` if the text is not a single parameter value.
    """
    if not text.strip():
        return ""
    try:
        value = load_yaml(text, where)
    except YamlError as exc:
        raise ParameterError(f"{where}: {text!r} is not a YAML value: {exc.problem}") from None
    if isinstance(value, dict):
        raise ParameterError(f"{where}: {text!r} is a mapping; a parameter holds a scalar or a list")
    return _convert(value, where)


def _flatten(group: Mapping[Any, Any], prefix: str, out: dict[str, ParameterValue], where: str) -> None:
    for key, value in group.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out, where)
        else:
            out[name] = _convert(value, f"{where}: parameter {name!r}")


def parameter_file_entries(path: str | Path) -> list[tuple[str, dict[str, ParameterValue]]]:
    """Every ``(node pattern, flat parameters)`` entry of a parameter file, in file order.

    Raises:
        ParameterError: for a missing or unreadable file, invalid YAML or a bad value,
            naming the file (and line or key).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"{path}: parameter file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read parameter file: {exc}") from None
    try:
        data = load_yaml(text, str(path))
    except YamlError as exc:
        raise ParameterError(str(exc)) from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: the top level must map node names to 'ros__parameters'")
    entries: list[tuple[str, dict[str, ParameterValue]]] = []
    _walk(data, [], entries, path)
    return entries


def _walk(
    mapping: Mapping[Any, Any],
    parts: list[str],
    entries: list[tuple[str, dict[str, ParameterValue]]],
    path: Path,
) -> None:
    for raw_key, raw_value in mapping.items():
        key = str(raw_key)
        value = {} if raw_value is None and key == _ROS_PARAMETERS else raw_value
        here = "/" + "/".join([*parts, key.strip("/")])
        if key == _ROS_PARAMETERS:
            if not parts:
                raise ParameterError(f"{path}: 'ros__parameters' at the top level: put it under a node name")
            pattern = "/" + "/".join(parts)
            if not isinstance(value, dict):
                raise ParameterError(
                    f"{path}: {pattern}: 'ros__parameters' must be a mapping of names to values"
                )
            flat: dict[str, ParameterValue] = {}
            _flatten(value, "", flat, f"{path}: {pattern}")
            entries.append((pattern, flat))
        elif isinstance(value, dict):
            _walk(value, [*parts, key.strip("/")], entries, path)
        else:
            raise ParameterError(
                f"{path}: {here}: expected a node (or namespace) mapping with 'ros__parameters'"
            )


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    pieces: list[str] = []
    for token in pattern.strip("/").split("/"):
        if token == "**":
            pieces.append("(?:/[^/]+)*")
        else:
            pieces.append("/" + re.escape(token).replace(r"\*", "[^/]*"))
    return re.compile("".join(pieces))


def node_pattern_matches(pattern: str, node_fqn: str) -> bool:
    """Whether a parameter-file node key (``/**``, ``/**/node``, ``/ns/node``...) matches a node."""
    return _pattern_regex(pattern).fullmatch(node_fqn) is not None


def _apply(
    entries: Iterable[tuple[str, dict[str, ParameterValue]]], node_fqn: str, out: dict[str, ParameterValue]
) -> None:
    matching = [(p, params) for p, params in entries if node_pattern_matches(p, node_fqn)]
    for pattern, params in matching:
        if "*" in pattern:
            out.update(params)
    for pattern, params in matching:
        if "*" not in pattern:
            out.update(params)


def load_parameter_file(path: str | Path, node_fqn: str) -> dict[str, ParameterValue]:
    """The parameters a parameter file gives the node ``node_fqn`` (e.g. ``/robots/robot-1/driver``).

    Raises:
        ParameterError: naming the file (and key) for a missing file, bad YAML or a bad value.
    """
    out: dict[str, ParameterValue] = {}
    _apply(parameter_file_entries(path), node_fqn, out)
    return out


def load_parameter_files(paths: Iterable[str | Path], node_fqn: str) -> dict[str, ParameterValue]:
    """Like :func:`load_parameter_file` for several files; later files override earlier ones."""
    out: dict[str, ParameterValue] = {}
    for path in paths:
        _apply(parameter_file_entries(path), node_fqn, out)
    return out


def dump_parameters(node_fqn: str, params: Mapping[str, ParameterValue]) -> str:
    """Parameters in ``ros2 param dump`` form: dotted names nested, keys sorted.

    Raises:
        ParameterError: if one name is both a value and a group (``a`` and ``a.b``).
    """
    nested: dict[str, Any] = {}
    for name in sorted(params):
        node = nested
        *groups, leaf = name.split(".")
        for group in groups:
            child = node.setdefault(group, {})
            if not isinstance(child, dict):
                raise ParameterError(
                    f"{node_fqn}: parameter {name!r} is inside {group!r}, which holds a value"
                )
            node = child
        if leaf in node:
            raise ParameterError(f"{node_fqn}: parameter {name!r} is both a value and a group")
        value = params[name]
        node[leaf] = list(value) if isinstance(value, list) else value
    return dump_yaml({node_fqn: {_ROS_PARAMETERS: nested}}, sort_keys=True)
