"""``ComposableNodeContainer``: one process hosting many components over one connection.

The process is ``python -m robotfleet_nodes.launch._container_main --spec JSON``; the spec
names the container and lists the components with their resolved names, namespaces,
remappings and parameters. This is how 1000 edges run in a handful of processes.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.actions._process_action import ProcessAction
from robotfleet_nodes.launch.actions.composable_node import ComposableNode
from robotfleet_nodes.launch.actions.composable_node_loop import ComposableNodeLoop
from robotfleet_nodes.launch.context import join_namespace
from robotfleet_nodes.launch.executables import module_command

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["CONTAINER_MODULE", "ComposableNodeContainer"]

CONTAINER_MODULE = "robotfleet_nodes.launch._container_main"
#: Above this size the spec is passed zlib-compressed (Linux limits one argument to 128 KiB).
MAX_PLAIN_SPEC = 16 * 1024


class ComposableNodeContainer(ProcessAction):
    """A container process named ``name`` in ``namespace`` loading ``composable_nodes``.

    Keyword options (``env``, ``output``, ``respawn``, ...) are those of every process action.
    """

    def __init__(
        self,
        name: str,
        namespace: str = "",
        *,
        composable_nodes: Sequence[ComposableNode | ComposableNodeLoop] = (),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.name = name
        self.namespace = namespace
        self.composable_nodes = list(composable_nodes)

    def command(self, context: LaunchContext) -> tuple[str, list[str]]:
        name = context.substitute(self.name)
        spec = {
            "name": name,
            "namespace": join_namespace(context.namespace, context.substitute(self.namespace) or None),
            "components": [spec for c in self.composable_nodes for spec in c.resolve_all(context)],
        }
        text = json.dumps(spec, separators=(",", ":"))
        if len(text) <= MAX_PLAIN_SPEC:
            return name, [*module_command(CONTAINER_MODULE), "--spec", text]
        packed = base64.b64encode(zlib.compress(text.encode(), 9)).decode()
        return name, [*module_command(CONTAINER_MODULE), "--spec-z", packed]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"container": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        out["composable_nodes"] = [c.describe() for c in self.composable_nodes]
        return self._describe_process(out)
