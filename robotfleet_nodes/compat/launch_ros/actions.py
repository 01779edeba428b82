"""``launch_ros.actions``: ROS nodes as adapters over our ``Node`` / container actions.

``Node`` extends ``launch.actions.ExecuteProcess`` as in ROS 2; when visited, its
executable, name, namespace, parameters and remappings are performed and our
:class:`robotfleet_nodes.launch.Node` builds the command (``--ros-args ...``), so the
executable resolves like ``rfos run`` / ``ros2 run``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from launch._context import view
from launch.actions import ExecuteProcess, describe_value
from launch.substitutions import Substitution
from launch.utilities import perform_substitutions

from robotfleet_nodes.launch import ComposableNode as _CoreComposableNode
from robotfleet_nodes.launch import ComposableNodeContainer as _CoreContainer
from robotfleet_nodes.launch import LaunchContext as CoreContext
from robotfleet_nodes.launch import LaunchEntity, LaunchError, ProcessSpec
from robotfleet_nodes.launch import Node as _CoreNode
from robotfleet_nodes.launch import PushRosNamespace as _CorePushRosNamespace

from .descriptions import ComposableNode
from .parameter_descriptions import Parameter, ParameterFile, ParameterValue

__all__ = [
    "ComposableNodeContainer",
    "LifecycleNode",
    "Node",
    "PushROSNamespace",
    "PushRosNamespace",
    "SetParameter",
    "SetRemap",
]

#: Launch configurations holding what ``SetParameter`` / ``SetRemap`` set for later nodes (JSON).
GLOBAL_PARAMS = "global_params"
GLOBAL_REMAPS = "global_remaps"


def _view(context: CoreContext) -> Any:
    return view(context)


def _value(value: Any, ctx: Any, cli: bool = True) -> Any:
    """A parameter value: substitutions performed (text for the node to read as YAML).

    On a command line (``cli``) text that must stay text (``ParameterValue(value_type=str)``)
    is YAML-quoted, so ``'42'`` does not become an integer.
    """
    if isinstance(value, ParameterValue):
        evaluated = value.evaluate(ctx)
        if cli and value.value_type is str:
            return yaml.safe_dump(evaluated, default_style="'").strip()
        return evaluated
    if isinstance(value, Substitution):
        return perform_substitutions(ctx, value)
    if isinstance(value, Mapping):
        return {perform_substitutions(ctx, k): _value(v, ctx, cli) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if (
            value
            and all(isinstance(v, str | Substitution) for v in value)
            and any(isinstance(v, Substitution) for v in value)
        ):
            return perform_substitutions(ctx, value)  # ROS 2: a list holding substitutions is concatenated
        return [_value(v, ctx, cli) for v in value]
    return value


def _parameters(
    parameters: Iterable[Any], context: CoreContext, cli: bool = True
) -> list[dict[str, Any] | str]:
    """``SetParameter`` values, then each dict / file of ``parameters``, performed."""
    ctx = _view(context)
    out: list[dict[str, Any] | str] = []
    global_params = json.loads(context.configurations.get(GLOBAL_PARAMS, "[]"))
    if global_params:
        out.append(dict(global_params))
    for item in parameters:
        if isinstance(item, Mapping):
            out.append(_value(item, ctx, cli))
        elif isinstance(item, Parameter):
            out.append({perform_substitutions(ctx, item.name): _value(item.value, ctx, cli)})
        elif isinstance(item, ParameterFile):
            out.append(str(item.evaluate(ctx)))
        elif isinstance(item, str | Path):
            out.append(str(item))
        elif isinstance(item, Substitution | list | tuple):
            out.append(perform_substitutions(ctx, item))
        else:
            raise LaunchError(f"parameters items are dicts or parameter files, not {type(item).__name__}")
    return out


def _describe_parameters(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {describe_value(k): _describe_parameters(v) for k, v in value.items()}
    if isinstance(value, ParameterValue):
        return _describe_parameters(value.value)
    if isinstance(value, Substitution | list | tuple | str):
        return describe_value(value)
    if isinstance(value, ParameterFile | Parameter):
        return type(value).__name__
    return value


def _remappings(remappings: Iterable[Any], context: CoreContext) -> list[tuple[str, str]]:
    ctx = _view(context)
    pairs = [tuple(pair) for pair in json.loads(context.configurations.get(GLOBAL_REMAPS, "[]"))]
    pairs += [(perform_substitutions(ctx, a), perform_substitutions(ctx, b)) for a, b in remappings]
    return [(str(a), str(b)) for a, b in pairs]


class Node(ExecuteProcess):  # type: ignore[misc]
    """A ROS node executable (``package`` + ``executable``, or a path) as one process.

    Options of ``launch.actions.ExecuteProcess`` (``output``, ``respawn``, ``additional_env``,
    ``prefix``, ``condition``, ...) apply.
    """

    def __init__(
        self,
        *,
        executable: Any,
        package: Any = None,
        name: Any = None,
        namespace: Any = None,
        exec_name: Any = None,
        parameters: Iterable[Any] | None = None,
        remappings: Iterable[tuple[Any, Any]] | None = None,
        ros_arguments: Iterable[Any] | None = None,
        arguments: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(cmd=[executable], name=exec_name, **kwargs)
        self.node_executable = executable
        self.node_package = package
        self.node_name = name
        self.node_namespace = namespace
        self.parameters = list(parameters or ())
        self.remappings = list(remappings or ())
        self.ros_arguments = list(ros_arguments or ())
        self.arguments = list(arguments or ())

    def resolve(self, context: CoreContext) -> ProcessSpec:
        ctx = _view(context)

        def opt(value: Any) -> str | None:
            return None if value is None else perform_substitutions(ctx, value)

        core = _CoreNode(
            perform_substitutions(ctx, self.node_executable),
            package=opt(self.node_package),
            name=opt(self.node_name),
            namespace=opt(self.node_namespace),
            parameters=_parameters(self.parameters, context),
            remappings=_remappings(self.remappings, context),
            arguments=[perform_substitutions(ctx, a) for a in self.arguments],
            ros_arguments=[perform_substitutions(ctx, a) for a in self.ros_arguments],
            **self.process_options(context),
        )
        spec: ProcessSpec = core.resolve(context)
        spec.cmd = self.wrap_command(spec.cmd, context)
        if self.ros_name is not None:
            spec.name = perform_substitutions(ctx, self.ros_name)
        return self.adopt(spec, context)  # type: ignore[no-any-return]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"node": describe_value(self.node_executable)}
        for key, value in (
            ("package", self.node_package),
            ("name", self.node_name),
            ("namespace", self.node_namespace),
        ):
            if value is not None:
                out[key] = describe_value(value)
        if self.parameters:
            out["parameters"] = [_describe_parameters(p) for p in self.parameters]
        return self._describe_condition(out)  # type: ignore[no-any-return]


class LifecycleNode(Node):
    """A managed (lifecycle) node; ``name`` is required. It starts unconfigured and is driven
    through its ``change_state`` service (``autostart`` and ``launch.events.lifecycle``
    events are not supported yet)."""

    def __init__(self, *, name: Any = None, autostart: bool = False, **kwargs: Any) -> None:
        if name is None:
            raise LaunchError("LifecycleNode needs name=")
        if autostart:
            raise LaunchError(
                "LifecycleNode(autostart=True) is not supported yet: drive it with its change_state service"
            )
        super().__init__(name=name, **kwargs)


class ComposableNodeContainer(Node):
    """A container process loading ``composable_node_descriptions`` (Python components,
    ``"package.module:ClassName"``); ROS 2's ``package``/``executable`` (``rclcpp_components``,
    ``component_container``) are accepted and our container runs instead."""

    def __init__(
        self,
        *,
        name: Any,
        namespace: Any,
        composable_node_descriptions: Iterable[ComposableNode] | None = None,
        package: Any = "rclcpp_components",
        executable: Any = "component_container",
        **kwargs: Any,
    ) -> None:
        super().__init__(executable=executable, package=package, name=name, namespace=namespace, **kwargs)
        self.composable_node_descriptions = list(composable_node_descriptions or ())

    def resolve(self, context: CoreContext) -> ProcessSpec:
        ctx = _view(context)
        components = []
        for description in self.composable_node_descriptions:
            if description.condition is not None and not description.condition.evaluate(context):
                continue
            components.append(
                _CoreComposableNode(
                    perform_substitutions(ctx, description.plugin),
                    name=None
                    if description.node_name is None
                    else perform_substitutions(ctx, description.node_name),
                    namespace=None
                    if description.node_namespace is None
                    else perform_substitutions(ctx, description.node_namespace),
                    parameters=_parameters(description.parameters, context, cli=False),
                    remappings=_remappings(description.remappings, context),
                )
            )
        core = _CoreContainer(
            perform_substitutions(ctx, self.node_name),
            perform_substitutions(ctx, self.node_namespace),
            composable_nodes=components,
            **self.process_options(context),
        )
        return self.adopt(core.resolve(context), context)  # type: ignore[no-any-return]

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["composable_nodes"] = [describe_value(c.plugin) for c in self.composable_node_descriptions]
        return out


class PushRosNamespace(_CorePushRosNamespace):
    """Push ``namespace`` for the nodes after it in the current scope."""

    def __init__(self, namespace: Any, **kwargs: Any) -> None:
        super().__init__(describe_value(namespace))
        self.namespace_ = namespace
        self.condition = kwargs.pop("condition", None)
        if kwargs:
            raise TypeError(f"PushRosNamespace() got unexpected keyword arguments: {', '.join(kwargs)}")

    def visit(self, context: CoreContext) -> None:
        _CorePushRosNamespace(perform_substitutions(_view(context), self.namespace_)).visit(context)


#: ROS 2's older spelling.
PushROSNamespace = PushRosNamespace


class _GlobalSetting(LaunchEntity):
    key = ""

    def __init__(self, entry: tuple[Any, Any], condition: Any = None) -> None:
        self.entry = entry
        self.condition = condition

    def item(self, context: CoreContext) -> list[Any]:
        raise NotImplementedError

    def visit(self, context: CoreContext) -> None:
        items = json.loads(context.configurations.get(self.key, "[]"))
        items.append(self.item(context))
        context.set(self.key, json.dumps(items))

    def describe(self) -> dict[str, Any]:
        return self._describe_condition(
            {type(self).__name__: [describe_value(self.entry[0]), describe_value(self.entry[1])]}
        )


class SetParameter(_GlobalSetting):
    """Set parameter ``name`` to ``value`` for every node started later in this scope."""

    key = GLOBAL_PARAMS

    def __init__(self, name: Any, value: Any, **kwargs: Any) -> None:
        super().__init__((name, value), kwargs.pop("condition", None))
        if kwargs:
            raise TypeError(f"SetParameter() got unexpected keyword arguments: {', '.join(kwargs)}")

    def item(self, context: CoreContext) -> list[Any]:
        ctx = _view(context)
        return [perform_substitutions(ctx, self.entry[0]), _value(self.entry[1], ctx)]


class SetRemap(_GlobalSetting):
    """Remap ``src`` to ``dst`` for every node started later in this scope."""

    key = GLOBAL_REMAPS

    def __init__(self, src: Any, dst: Any, **kwargs: Any) -> None:
        super().__init__((src, dst), kwargs.pop("condition", None))
        if kwargs:
            raise TypeError(f"SetRemap() got unexpected keyword arguments: {', '.join(kwargs)}")

    def item(self, context: CoreContext) -> list[Any]:
        ctx = _view(context)
        return [perform_substitutions(ctx, self.entry[0]), perform_substitutions(ctx, self.entry[1])]
