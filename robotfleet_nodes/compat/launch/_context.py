"""What the adapters share: the ``launch.LaunchContext`` view and performing substitutions.

ROS 2's launch passes a ``LaunchContext`` to substitutions, ``OpaqueFunction`` bodies and
event-handler callables; here that is a thin view over our
:class:`robotfleet_nodes.launch.LaunchContext` (the one runtime). ``SomeSubstitutionsType``
values (a string, a substitution, or a list of both, concatenated) are performed against it
when an adapter is visited.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from robotfleet_nodes.launch import LaunchContext as CoreContext
from robotfleet_nodes.launch import LaunchError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["LaunchContext", "Performable", "SomeSubstitutionsType", "perform", "perform_optional", "view"]


@runtime_checkable
class Performable(Protocol):
    """Anything with ``perform(context) -> str`` (every ``launch.Substitution``)."""

    def perform(self, context: LaunchContext) -> str:
        """The value in ``context``."""
        ...


#: A string, a substitution, or a sequence of them (performed and concatenated).
SomeSubstitutionsType = Any


class LaunchContext:
    """``launch.LaunchContext`` over our context: configurations, environment, the current file."""

    def __init__(self, core: CoreContext) -> None:
        self._core = core

    @property
    def core(self) -> CoreContext:
        """The RobotFleetOS launch context this view wraps."""
        return self._core

    @property
    def launch_configurations(self) -> MutableMapping[str, str]:
        """The launch configurations of this scope (declared arguments, ``SetLaunchConfiguration``)."""
        return self._core.configurations

    @property
    def environment(self) -> Mapping[str, str]:
        """``os.environ`` with the launch's ``SetEnvironmentVariable`` values on top."""
        return {**os.environ, **self._core.env}

    @property
    def current_launch_file_path(self) -> Path | None:
        """The launch file being visited, if any."""
        return self._core.source

    def perform_substitution(self, substitution: Performable) -> str:
        """``substitution.perform(self)``."""
        return substitution.perform(self)

    def get_locals_as_dict(self) -> dict[str, Any]:
        """The scope's values (ROS 2 keeps event data here; we keep launch configurations)."""
        return dict(self._core.configurations)


def view(context: CoreContext | LaunchContext) -> LaunchContext:
    """The ``launch.LaunchContext`` view of ``context``."""
    return context if isinstance(context, LaunchContext) else LaunchContext(context)


def perform(value: SomeSubstitutionsType, context: CoreContext | LaunchContext) -> str:
    """``value`` (text, substitution, or a sequence of them) performed and concatenated."""
    ctx = view(context)
    if isinstance(value, str):
        return value
    if isinstance(value, Performable):
        return value.perform(ctx)
    if isinstance(value, os.PathLike):
        return os.fspath(value)  # type: ignore[no-any-return]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Iterable):
        return "".join(perform(item, ctx) for item in value)
    raise LaunchError(
        f"expected text or a substitution, got {type(value).__name__}: {value!r} "
        "(write it as a string, TextSubstitution or LaunchConfiguration)"
    )


def perform_optional(value: SomeSubstitutionsType | None, context: CoreContext | LaunchContext) -> str | None:
    """:func:`perform`, keeping ``None``."""
    return None if value is None else perform(value, context)
