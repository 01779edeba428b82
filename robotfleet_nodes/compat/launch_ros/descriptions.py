"""``launch_ros.descriptions``: composable nodes and parameter descriptions."""

from __future__ import annotations

from typing import Any

from .parameter_descriptions import Parameter, ParameterFile, ParameterValue

__all__ = ["ComposableNode", "Parameter", "ParameterFile", "ParameterValue"]


class ComposableNode:
    """A component for a ``ComposableNodeContainer``: ``plugin`` is a Python component,
    ``"package.module:ClassName"`` (C++ ``pkg::Class`` plugins do not load here).

    ``package`` is kept for ROS 2 compatibility and not used; ``extra_arguments`` are not supported.
    """

    def __init__(
        self,
        *,
        package: Any,
        plugin: Any,
        name: Any = None,
        namespace: Any = None,
        parameters: Any = None,
        remappings: Any = None,
        extra_arguments: Any = None,
        condition: Any = None,
    ) -> None:
        if extra_arguments:
            raise TypeError("ComposableNode(extra_arguments=...) is not supported")
        self.package = package
        self.plugin = plugin
        self.node_name = name
        self.node_namespace = namespace
        self.parameters = list(parameters or ())
        self.remappings = list(remappings or ())
        self.condition = condition
