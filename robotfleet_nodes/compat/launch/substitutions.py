"""``launch.substitutions``: values computed when the entity using them is visited.

Each class performs against the ``launch.LaunchContext`` view of our launch context
(``_context``); an adapter action performs its arguments and hands plain text to our
runtime. Signatures follow ros2/launch (Jazzy).
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from robotfleet_nodes.launch import LaunchError

from ._context import LaunchContext, SomeSubstitutionsType, perform

__all__ = [
    "AndSubstitution",
    "Command",
    "EnvironmentVariable",
    "EqualsSubstitution",
    "FindExecutable",
    "LaunchConfiguration",
    "NotEqualsSubstitution",
    "NotSubstitution",
    "OrSubstitution",
    "PathJoinSubstitution",
    "PythonExpression",
    "Substitution",
    "SubstitutionFailure",
    "TextSubstitution",
    "ThisLaunchFile",
    "ThisLaunchFileDir",
]

log = logging.getLogger(__name__)


class SubstitutionFailure(LaunchError):
    """A substitution could not be performed (a missing variable, a failing command)."""


class Substitution:
    """Base of every substitution: ``perform(context)`` returns its text."""

    def perform(self, context: LaunchContext) -> str:
        """The value in ``context``."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short description (ROS 2's ``describe()``)."""
        return type(self).__name__


class TextSubstitution(Substitution):
    """Plain ``text``."""

    def __init__(self, *, text: str) -> None:
        self.text = str(text)

    def perform(self, context: LaunchContext) -> str:
        return self.text

    def describe(self) -> str:
        return repr(self.text)


def _describe(value: SomeSubstitutionsType) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Substitution):
        return value.describe()
    if isinstance(value, Sequence):
        return " + ".join(_describe(v) for v in value)
    return repr(value)


class LaunchConfiguration(Substitution):
    """The launch configuration (argument) ``variable_name``, or ``default`` when unset."""

    def __init__(
        self, variable_name: SomeSubstitutionsType, *, default: SomeSubstitutionsType | None = None
    ) -> None:
        self.variable_name = variable_name
        self.default = default

    def perform(self, context: LaunchContext) -> str:
        name = perform(self.variable_name, context)
        if name in context.launch_configurations:
            return context.launch_configurations[name]
        if self.default is not None:
            return perform(self.default, context)
        return context.core.arg(name)  # the error naming the declared arguments

    def describe(self) -> str:
        return f"LaunchConfig({_describe(self.variable_name)})"


class EnvironmentVariable(Substitution):
    """Environment variable ``name``; ``default_value`` when unset, else a failure."""

    def __init__(
        self, name: SomeSubstitutionsType, *, default_value: SomeSubstitutionsType | None = None
    ) -> None:
        self.name = name
        self.default_value = default_value

    def perform(self, context: LaunchContext) -> str:
        name = perform(self.name, context)
        value = context.environment.get(name)
        if value is not None:
            return value
        if self.default_value is not None:
            return perform(self.default_value, context)
        raise SubstitutionFailure(
            f"environment variable {name!r} does not exist: set it or give default_value="
        )

    def describe(self) -> str:
        return f"EnvVar({_describe(self.name)})"


class PathJoinSubstitution(Substitution):
    """``os.path.join`` of the performed items (each item may itself be a list, concatenated)."""

    def __init__(self, substitutions: Sequence[SomeSubstitutionsType]) -> None:
        self.substitutions = list(substitutions)

    def perform(self, context: LaunchContext) -> str:
        return os.path.join(*(perform(item, context) for item in self.substitutions))

    def describe(self) -> str:
        return "PathJoin(" + ", ".join(_describe(item) for item in self.substitutions) + ")"

    def __truediv__(self, other: SomeSubstitutionsType) -> PathJoinSubstitution:
        return PathJoinSubstitution([*self.substitutions, other])


class PythonExpression(Substitution):
    """``eval`` of the performed ``expression``; ``python_modules`` are importable by name and
    ``math``'s functions are available directly (``PythonExpression(['2 * pi'])``)."""

    def __init__(
        self,
        expression: SomeSubstitutionsType,
        python_modules: SomeSubstitutionsType | Sequence[Any] = ("math",),
    ) -> None:
        self.expression = expression
        self.python_modules = [python_modules] if isinstance(python_modules, str) else list(python_modules)

    def perform(self, context: LaunchContext) -> str:
        names: dict[str, Any] = dict(vars(math))
        for module in self.python_modules:
            name = perform(module, context)
            names[name.split(".")[0]] = importlib.import_module(name.split(".")[0])
            importlib.import_module(name)
        expression = perform(self.expression, context)
        try:
            return str(eval(expression, names))
        except Exception as exc:
            raise SubstitutionFailure(
                f"PythonExpression {expression!r} failed: {type(exc).__name__}: {exc}"
            ) from exc

    def describe(self) -> str:
        return f"PythonExpr({_describe(self.expression)})"


class Command(Substitution):
    """The standard output of ``command`` (split like a shell, run without one).

    ``on_stderr``: ``fail`` (the default; output on stderr is an error), ``warn``, ``ignore``
    or ``capture`` (stderr is part of the value). A non-zero exit is always an error.
    """

    def __init__(self, command: SomeSubstitutionsType, *, on_stderr: SomeSubstitutionsType = "fail") -> None:
        self.command = command
        self.on_stderr = on_stderr

    def perform(self, context: LaunchContext) -> str:
        text = perform(self.command, context)
        on_stderr = perform(self.on_stderr, context)
        if on_stderr not in ("fail", "ignore", "warn", "capture"):
            raise SubstitutionFailure(
                f"Command on_stderr must be fail, ignore, warn or capture, not {on_stderr!r}"
            )
        try:
            result = subprocess.run(
                shlex.split(text),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if on_stderr == "capture" else subprocess.PIPE,
                text=True,
                env=dict(context.environment),
                check=False,
            )
        except OSError as exc:
            raise SubstitutionFailure(f"Command {text!r} could not run: {exc}") from exc
        if result.returncode != 0:
            raise SubstitutionFailure(
                f"Command {text!r} exited with code {result.returncode}: {(result.stderr or '').strip()}"
            )
        if result.stderr:
            if on_stderr == "fail":
                raise SubstitutionFailure(
                    f"Command {text!r} wrote to stderr (pass on_stderr='warn' or 'ignore'): "
                    f"{result.stderr.strip()}"
                )
            if on_stderr == "warn":
                log.warning("Command %r wrote to stderr: %s", text, result.stderr.strip())
        return result.stdout

    def describe(self) -> str:
        return f"Command({_describe(self.command)})"


class FindExecutable(Substitution):
    """The path of program ``name`` on ``PATH``."""

    def __init__(self, *, name: SomeSubstitutionsType) -> None:
        self.name = name

    def perform(self, context: LaunchContext) -> str:
        name = perform(self.name, context)
        found = shutil.which(name, path=context.environment.get("PATH"))
        if found is None:
            raise SubstitutionFailure(f"executable {name!r} not found on PATH")
        return found


class ThisLaunchFile(Substitution):
    """The path of the launch file being visited."""

    def perform(self, context: LaunchContext) -> str:
        path = context.current_launch_file_path
        if path is None:
            raise SubstitutionFailure("ThisLaunchFile used outside a launch file")
        return str(path.resolve())


class ThisLaunchFileDir(Substitution):
    """The folder of the launch file being visited."""

    def perform(self, context: LaunchContext) -> str:
        path = context.current_launch_file_path
        if path is None:
            raise SubstitutionFailure("ThisLaunchFileDir used outside a launch file")
        return str(path.resolve().parent)


def _boolean(value: SomeSubstitutionsType, context: LaunchContext, what: str) -> bool:
    text = perform(value, context).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise SubstitutionFailure(f"{what}: {text!r} is not a boolean (true/false/1/0)")


class NotSubstitution(Substitution):
    """``true`` when ``value`` is false, and the other way round."""

    def __init__(self, value: SomeSubstitutionsType) -> None:
        self.value = value

    def perform(self, context: LaunchContext) -> str:
        return "false" if _boolean(self.value, context, "NotSubstitution") else "true"


class AndSubstitution(Substitution):
    """``left and right``."""

    def __init__(self, left: SomeSubstitutionsType, right: SomeSubstitutionsType) -> None:
        self.left, self.right = left, right

    def perform(self, context: LaunchContext) -> str:
        both = _boolean(self.left, context, "AndSubstitution") and _boolean(
            self.right, context, "AndSubstitution"
        )
        return "true" if both else "false"


class OrSubstitution(Substitution):
    """``left or right``."""

    def __init__(self, left: SomeSubstitutionsType, right: SomeSubstitutionsType) -> None:
        self.left, self.right = left, right

    def perform(self, context: LaunchContext) -> str:
        either = _boolean(self.left, context, "OrSubstitution") or _boolean(
            self.right, context, "OrSubstitution"
        )
        return "true" if either else "false"


class EqualsSubstitution(Substitution):
    """``true`` when ``left`` and ``right`` perform to the same text."""

    def __init__(self, left: SomeSubstitutionsType, right: SomeSubstitutionsType) -> None:
        self.left, self.right = left, right

    def perform(self, context: LaunchContext) -> str:
        return "true" if perform(self.left, context) == perform(self.right, context) else "false"


class NotEqualsSubstitution(EqualsSubstitution):
    """``true`` when ``left`` and ``right`` differ."""

    def perform(self, context: LaunchContext) -> str:
        return "false" if super().perform(context) == "true" else "true"
