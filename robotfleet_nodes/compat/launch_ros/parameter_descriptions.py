"""``launch_ros.parameter_descriptions``: a typed parameter value, a parameter file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from launch.substitutions import Substitution
from launch.utilities import perform_substitutions

from robotfleet_nodes._yaml import load_yaml

__all__ = ["Parameter", "ParameterFile", "ParameterValue"]

#: What ``value_type`` may name (ROS 2 also accepts lists of these, as ``List[int]``).
_TYPES: dict[Any, str] = {str: "str", int: "int", float: "float", bool: "bool"}


def _is_substitution(value: Any) -> bool:
    if isinstance(value, Substitution):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, Substitution) for v in value)


class ParameterValue:
    """``value`` (text, substitutions or a Python value), converted to ``value_type`` when given.

    Substitutions are performed first; text is then read as YAML (``2`` an int, ``true`` a
    bool), unless ``value_type`` is ``str``.
    """

    def __init__(self, value: Any, *, value_type: Any = None) -> None:
        if value_type is not None and value_type not in _TYPES:
            raise TypeError(
                f"ParameterValue(value_type=...) supports str, int, float and bool, not {value_type!r}"
            )
        self.value = value
        self.value_type = value_type

    def evaluate(self, context: Any) -> Any:
        """The value in ``context`` (a ``launch.LaunchContext``)."""
        value = self.value
        if _is_substitution(value) or isinstance(value, str):
            text = perform_substitutions(context, value)
            if self.value_type is str:
                return text
            value = load_yaml(text, "a launch parameter value") if text.strip() else text
        if self.value_type is None or value is None:
            return value
        try:
            return self.value_type(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameter value {value!r} is not a {_TYPES[self.value_type]}") from exc


class ParameterFile:
    """A ROS 2 parameter YAML file; with ``allow_substs`` its ``$(var ...)``/``$(env ...)`` are
    resolved first (into a temporary copy)."""

    def __init__(self, param_file: Any, *, allow_substs: Any = False) -> None:
        self.param_file = param_file
        self.allow_substs = allow_substs

    def evaluate(self, context: Any) -> Path:
        """The path of the file to pass to the node."""
        path = Path(
            self.param_file
            if isinstance(self.param_file, Path)
            else perform_substitutions(context, self.param_file)
        )
        allow = self.allow_substs
        if not isinstance(allow, bool):
            allow = perform_substitutions(context, allow).strip().lower() in ("true", "1")
        if not allow:
            return path
        if not path.is_absolute() and context.current_launch_file_path is not None:
            path = context.current_launch_file_path.parent / path
        text = context.core.substitute(path.read_text(encoding="utf-8"))
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="rfos-params-", delete=False) as out:
            out.write(text)
        return Path(out.name)


class Parameter:
    """One named parameter (``name``, ``value``) for a parameters list."""

    def __init__(self, name: Any, value: Any, *, value_type: Any = None) -> None:
        self.name = name
        self.value = ParameterValue(value, value_type=value_type)
