"""``LaunchContext``: the scope entities are visited in (arguments, environment, namespace).

A context holds the launch configurations (declared arguments, overrides given on the
command line or to an include, ``let`` values), the launch-wide environment overrides
(``set_env``), the pushed ROS namespace and the file being visited. Scoped groups,
includes and loop iterations visit their children in a :meth:`LaunchContext.child`, so
what they set does not leak out. Everything a visit produces goes to the context's
:class:`LaunchSink`: the launch service starts processes, the printer records them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.substitutions import substitute

if TYPE_CHECKING:
    from robotfleet_nodes.launch.entity import LaunchEntity
    from robotfleet_nodes.launch.event_handlers import EventHandler
    from robotfleet_nodes.launch.process_spec import ProcessSpec

__all__ = ["LaunchContext", "LaunchSink", "join_namespace"]

log = logging.getLogger(__name__)

MAX_INCLUDE_DEPTH = 32


class LaunchSink(Protocol):
    """Receives what visiting produces."""

    def execute(self, spec: ProcessSpec) -> None:
        """Start (or record) a process."""

    def log(self, message: str) -> None:
        """Show a ``LogInfo`` message."""

    def register_handler(self, handler: EventHandler, context: LaunchContext) -> None:
        """Keep an event handler; its entities are visited in ``context`` when it fires."""

    def shutdown(self, reason: str) -> None:
        """Ask the launch to end."""

    def schedule(self, delay: float, entities: Sequence[LaunchEntity], context: LaunchContext) -> None:
        """Visit ``entities`` in ``context`` after ``delay`` seconds (``TimerAction``)."""


def join_namespace(base: str, namespace: str | None) -> str:
    """ROS rule: an absolute ``namespace`` replaces ``base``, a relative one is appended."""
    if not namespace:
        return base
    if namespace.startswith("/"):
        return namespace.rstrip("/") or "/"
    if base in ("", "/"):
        return "/" + namespace.strip("/")
    return base.rstrip("/") + "/" + namespace.strip("/")


class LaunchContext:
    """The scope in which entities are visited."""

    def __init__(
        self,
        sink: LaunchSink,
        *,
        arguments: Mapping[str, str] | None = None,
        source: str | Path | None = None,
    ) -> None:
        self.sink = sink
        self.configurations: dict[str, str] = dict(arguments or {})
        self.env: dict[str, str] = {}
        self.namespace = ""
        self.source: Path | None = Path(source) if source is not None else None
        self.include_depth = 0
        #: Every argument declared anywhere so far, for error messages.
        self.declared: set[str] = set()

    def child(self, *, scoped: bool = True) -> LaunchContext:
        """A context for nested entities; with ``scoped`` its changes stay inside it."""
        if not scoped:
            return self
        ctx = LaunchContext.__new__(LaunchContext)
        ctx.sink = self.sink
        ctx.configurations = dict(self.configurations)
        ctx.env = dict(self.env)
        ctx.namespace = self.namespace
        ctx.source = self.source
        ctx.include_depth = self.include_depth
        ctx.declared = self.declared
        return ctx

    # -- values --------------------------------------------------------------------------
    def arg(self, name: str) -> str:
        """The value of launch argument (or ``let``) ``name``; unknown names are an error."""
        try:
            return self.configurations[name]
        except KeyError:
            known = ", ".join(sorted(set(self.configurations) | self.declared)) or "none"
            raise LaunchError(f"unknown launch argument {name!r} (declared: {known})") from None

    def set(self, name: str, value: str) -> None:
        """Set a launch configuration in this scope."""
        self.configurations[name] = value

    def substitute(self, text: str) -> str:
        """``text`` with its ``$(...)`` substitutions resolved in this context."""
        return substitute(text, self.arg, self.env, source=self.source)

    def resolve_path(self, path: str) -> Path:
        """``path`` after substitution, relative paths taken from the current file's folder."""
        resolved = Path(self.substitute(path)).expanduser()
        if not resolved.is_absolute() and self.source is not None:
            resolved = self.source.parent / resolved
        return resolved

    # -- visiting ------------------------------------------------------------------------
    def visit(self, entities: Iterable[LaunchEntity]) -> None:
        """Visit ``entities`` in order, skipping those whose condition is false."""
        for entity in entities:
            try:
                if entity.condition is not None and not entity.condition.evaluate(self):
                    continue
                entity.visit(self)
            except LaunchError as exc:
                if exc.located or entity.origin is None:
                    raise
                raise LaunchError(f"{entity.origin}: {exc}", located=True) from exc
