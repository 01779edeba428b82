"""The base class of everything a launch description holds, and its contract.

Contract (modelled on ROS 2's ``LaunchDescriptionEntity``):

- An entity is an immutable *description*. Building one does nothing; the same entity may
  be visited many times (a ``for`` loop, an include used twice), each time in a different
  context.
- :meth:`LaunchEntity.visit` does the entity's work in a
  :class:`~robotfleet_nodes.launch.context.LaunchContext`: it resolves substitutions
  against that context, then either changes the context (an argument, ``let``,
  ``set_env``), visits children (groups, includes, loops: ``context.visit(children)``), or
  hands something to the context's sink (a process to start, a message to log, an event
  handler, a shutdown request). It never blocks and never starts a process itself, so
  ``rfos launch --print`` visits with a recording sink and shows exactly what would run.
- :meth:`LaunchEntity.describe` returns a plain, JSON-able dict of the entity *as written*
  (substitutions unresolved), for introspection and ``--print``.
- ``condition`` (``IfCondition``/``UnlessCondition`` or ``None``) is checked by the
  context before ``visit`` is called; a false condition skips the entity.
- ``origin`` is ``"file:line"`` when the entity came from a launch file; errors raised
  while visiting it are prefixed with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from robotfleet_nodes.launch.conditions import Condition
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["LaunchEntity"]


class LaunchEntity:
    """One element of a launch description (an action, a group, an include, ...)."""

    condition: Condition | None = None
    origin: str | None = None

    def visit(self, context: LaunchContext) -> None:
        """Do this entity's work in ``context`` (see the module docstring)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-able description of this entity as written."""
        raise NotImplementedError

    def children(self) -> list[LaunchEntity]:
        """Entities nested in this one as written (for static walks such as ``--show-args``)."""
        return []

    def _describe_condition(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.condition is not None:
            out["condition"] = self.condition.describe()
        return out
