"""``ComposableNode``: a component (``"module:Class"``) to load into a container process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.actions.node import Parameters, split_parameters
from robotfleet_nodes.launch.context import join_namespace
from robotfleet_nodes.launch.errors import LaunchError

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["ComposableNode"]


class ComposableNode:
    """One component of a :class:`ComposableNodeContainer` (not an entity on its own)."""

    def __init__(
        self,
        plugin: str,
        *,
        name: str | None = None,
        namespace: str | None = None,
        parameters: Parameters = (),
        remappings: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.plugin = plugin
        self.name = name
        self.namespace = namespace
        self.parameters = list(parameters)
        self.remappings = [(str(a), str(b)) for a, b in remappings]

    def resolve(self, context: LaunchContext) -> dict[str, Any]:
        """The JSON-able load request the container process reads."""
        values, files = split_parameters(self.parameters, context)
        params: dict[str, Any] = {}
        for group in values:
            params.update(group)
        own_ns = context.substitute(self.namespace) if self.namespace else None
        spec: dict[str, Any] = {
            "plugin": context.substitute(self.plugin),
            "name": context.substitute(self.name) if self.name else "",
            "namespace": join_namespace(context.namespace, own_ns),
            "remap_rules": [f"{context.substitute(a)}:={context.substitute(b)}" for a, b in self.remappings],
            "parameters": params,
            "params_files": files,
        }
        if ":" not in spec["plugin"] and "." in spec["plugin"]:
            raise LaunchError(f"plugin {spec['plugin']!r}: write 'package.module:ClassName'")
        return spec

    def resolve_all(self, context: LaunchContext) -> list[dict[str, Any]]:
        """``[self.resolve(context)]`` (the interface loops share)."""
        return [self.resolve(context)]

    def describe(self) -> dict[str, Any]:
        """A JSON-able description as written."""
        out: dict[str, Any] = {"plugin": self.plugin}
        if self.name:
            out["name"] = self.name
        if self.namespace:
            out["namespace"] = self.namespace
        if self.parameters:
            out["parameters"] = [p if isinstance(p, Mapping) else str(p) for p in self.parameters]
        if self.remappings:
            out["remappings"] = [list(r) for r in self.remappings]
        return out
