"""Composition: many nodes in one process over one broker connection (ROS 2 components).

A :class:`ComponentContainer` is itself a node. It loads components (node classes) in
its context, so they share one transport and talk through the intra-process path, and
it offers ROS 2's container services so tools can load and unload at run time:
``~/_container/load_node``, ``~/_container/unload_node``, ``~/_container/list_nodes``
(composition_interfaces).

A component is a ``Node`` subclass (or any callable) accepting ``(context, **options)``
where options are ``Node`` keyword arguments (``cli_args``, ``parameter_overrides``).
``plugin_name`` is ``"package.module:ClassName"`` or the name of an entry point in the
``rfos.components`` group.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.parameters import Parameter

__all__ = ["ComponentContainer", "ComponentError", "resolve_component"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "rfos.components"
ComponentFactory = Callable[..., Node]


class ComponentError(RobotFleetError, LookupError):
    """A component cannot be found, built or unloaded."""


def resolve_component(plugin_name: str) -> ComponentFactory:
    """The factory named by ``"module:Class"`` or by an ``rfos.components`` entry point."""
    if ":" in plugin_name:
        module_name, _, attr = plugin_name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ComponentError(f"cannot import component module {module_name!r}: {exc}") from exc
        factory = getattr(module, attr, None)
        if factory is None:
            raise ComponentError(f"module {module_name!r} has no component {attr!r}")
        return factory  # type: ignore[no-any-return]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == plugin_name:
            return ep.load()  # type: ignore[no-any-return]
    raise ComponentError(
        f"unknown component {plugin_name!r}: use 'package.module:ClassName' "
        f"or register an entry point in the {ENTRY_POINT_GROUP!r} group"
    )


class ComponentContainer(Node):
    """A node that hosts other nodes in its process."""

    def __init__(self, node_name: str = "ComponentManager", *, context: Context, **options: Any) -> None:
        super().__init__(node_name, context=context, **options)
        self._components: dict[int, Node] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    @property
    def components(self) -> dict[int, Node]:
        """Loaded nodes by unique id."""
        return dict(self._components)

    async def on_start(self) -> None:
        registry = default_registry()
        load = registry.get_interface("composition_interfaces/srv/LoadNode")
        unload = registry.get_interface("composition_interfaces/srv/UnloadNode")
        listing = registry.get_interface("composition_interfaces/srv/ListNodes")
        await self.create_service(load, "~/_container/load_node", self._on_load)
        await self.create_service(unload, "~/_container/unload_node", self._on_unload)
        await self.create_service(listing, "~/_container/list_nodes", self._on_list)

    async def load(
        self,
        component: str | ComponentFactory,
        *,
        node_name: str = "",
        namespace: str = "",
        remap_rules: Sequence[str] = (),
        parameters: Mapping[str, Any] | None = None,
    ) -> tuple[int, Node]:
        """Build, start and keep a component; returns its unique id and the node."""
        factory = resolve_component(component) if isinstance(component, str) else component
        ros_args = ["--ros-args"]
        for rule in remap_rules:
            ros_args += ["-r", rule]
        if node_name:
            ros_args += ["-r", f"__node:={node_name}"]
        if namespace:
            ros_args += ["-r", f"__ns:={namespace}"]
        options: dict[str, Any] = {}
        if len(ros_args) > 1:
            options["cli_args"] = ros_args
        if parameters:
            options["parameter_overrides"] = dict(parameters)
        try:
            node = factory(self.context, **options)
        except RobotFleetError:
            raise
        except Exception as exc:
            raise ComponentError(f"component {component!r} failed to construct: {exc}") from exc
        if not isinstance(node, Node):
            raise ComponentError(f"component {component!r} returned {type(node).__name__}, not a Node")
        await node.start()
        async with self._lock:
            unique_id = next(self._ids)
            self._components[unique_id] = node
        log.info("loaded component %s as %s (id %d)", component, node.get_fully_qualified_name(), unique_id)
        return unique_id, node

    async def unload(self, unique_id: int) -> None:
        """Destroy the component with ``unique_id``."""
        async with self._lock:
            node = self._components.pop(unique_id, None)
        if node is None:
            raise ComponentError(f"no component with unique id {unique_id} in this container")
        await node.destroy_node()

    async def destroy_node(self) -> None:
        for unique_id in list(self._components):
            await self.unload(unique_id)
        await super().destroy_node()

    # -- services ----------------------------------------------------------------------
    async def _on_load(self, request: Any, response: Any) -> Any:
        params = {p.name: Parameter.from_parameter_msg(p).value for p in request.parameters}
        try:
            unique_id, node = await self.load(
                request.plugin_name,
                node_name=request.node_name,
                namespace=request.node_namespace,
                remap_rules=list(request.remap_rules),
                parameters=params,
            )
        except (RobotFleetError, ValueError) as exc:
            response.success = False
            response.error_message = str(exc)
            return response
        response.success = True
        response.full_node_name = node.get_fully_qualified_name()
        response.unique_id = unique_id
        return response

    async def _on_unload(self, request: Any, response: Any) -> Any:
        try:
            await self.unload(request.unique_id)
        except ComponentError as exc:
            response.success = False
            response.error_message = str(exc)
            return response
        response.success = True
        return response

    def _on_list(self, request: Any, response: Any) -> Any:
        items = sorted(self._components.items())
        response.full_node_names = [node.get_fully_qualified_name() for _, node in items]
        response.unique_ids = [uid for uid, _ in items]
        return response
