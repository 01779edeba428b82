"""Building ROS 2 command-line arguments (``--ros-args -r ... -p ... --params-file ...``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

__all__ = ["format_parameter_value", "ros_arguments"]


def format_parameter_value(value: Any) -> str:
    """A parameter value as the child will YAML-parse it; strings pass through unchanged."""
    if isinstance(value, str):
        return value
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip()
    return text.removesuffix("...").strip()


def _flatten(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, name + ".")
        else:
            yield name, value


def ros_arguments(
    *,
    name: str | None,
    namespace: str | None,
    remappings: Sequence[tuple[str, str]],
    parameters: Sequence[Mapping[str, Any]],
    params_files: Sequence[str],
    extra: Sequence[str],
) -> list[str]:
    """``--ros-args ...`` for the given settings, or ``[]`` when there is nothing to pass.

    Parameter files come first, then ``-p`` values, so values written in the launch file
    win over files (as in ROS 2).
    """
    args: list[str] = []
    if name:
        args += ["-r", f"__node:={name}"]
    if namespace:
        args += ["-r", f"__ns:={namespace}"]
    for src, dst in remappings:
        args += ["-r", f"{src}:={dst}"]
    for path in params_files:
        args += ["--params-file", path]
    for group in parameters:
        for key, value in _flatten(group):
            args += ["-p", f"{key}:={format_parameter_value(value)}"]
    args += list(extra)
    return ["--ros-args", *args] if args else []
