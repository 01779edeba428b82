"""``Node``: one ROS-style node executable as one OS process.

Name, namespace, remappings and parameters reach the process in ROS 2's command-line
form, which ``robotfleet_nodes.node`` parses (``--ros-args -r __node:=NAME -r __ns:=/NS
-r from:=to --params-file FILE -p name:=value``). The namespace pushed by enclosing
groups is joined with the node's own (an absolute namespace replaces it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch._ros_args import ros_arguments
from robotfleet_nodes.launch.actions._process_action import ProcessAction
from robotfleet_nodes.launch.context import join_namespace
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.executables import module_command, resolve_executable

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["Node", "Parameters", "substitute_value"]

#: Each item a dict of parameter values or the path of a ROS 2 parameter YAML file.
Parameters = Sequence[Mapping[str, Any] | str | Path]


def substitute_value(value: Any, context: LaunchContext) -> Any:
    """Substitute strings inside ``value`` (recursively through lists and dicts)."""
    if isinstance(value, str):
        return context.substitute(value)
    if isinstance(value, Mapping):
        return {k: substitute_value(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute_value(v, context) for v in value]
    return value


def split_parameters(
    parameters: Parameters, context: LaunchContext
) -> tuple[list[dict[str, Any]], list[str]]:
    """``(value dicts, parameter file paths)`` resolved in ``context``."""
    values: list[dict[str, Any]] = []
    files: list[str] = []
    for item in parameters:
        if isinstance(item, str | Path):
            files.append(str(context.resolve_path(str(item))))
        elif isinstance(item, Mapping):
            values.append(substitute_value(dict(item), context))
        else:
            raise LaunchError(f"parameters items are dicts or YAML file paths, not {type(item).__name__}")
    return values, files


class Node(ProcessAction):
    """Run node executable ``executable`` (or ``python -m module``) as one process.

    Keyword options (``env``, ``cwd``, ``output``, ``respawn``, ``respawn_delay``,
    ``respawn_max_retries``, ``required``, ``forkserver``, ``condition``) are those of every
    process action.
    """

    def __init__(
        self,
        executable: str | None = None,
        *,
        package: str | None = None,
        module: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        parameters: Parameters = (),
        remappings: Sequence[tuple[str, str]] = (),
        arguments: Sequence[str] = (),
        ros_arguments: Sequence[str] = (),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if (executable is None) == (module is None):
            raise LaunchError("Node needs exactly one of executable= or module=")
        self.executable = executable
        self.package = package
        self.module = module
        self.name = name
        self.namespace = namespace
        self.parameters = list(parameters)
        self.remappings = [(str(a), str(b)) for a, b in remappings]
        self.arguments = [str(a) for a in arguments]
        self.ros_arguments = [str(a) for a in ros_arguments]

    def command(self, context: LaunchContext) -> tuple[str, list[str]]:
        if self.module is not None:
            module = context.substitute(self.module)
            prefix, base = module_command(module), module.rsplit(".", 1)[-1]
        else:
            assert self.executable is not None
            executable = context.substitute(self.executable)
            package = context.substitute(self.package) if self.package else None
            prefix, base = resolve_executable(executable, package), Path(executable).name
        name = context.substitute(self.name) if self.name else None
        own_ns = context.substitute(self.namespace) if self.namespace else None
        namespace = join_namespace(context.namespace, own_ns)
        values, files = split_parameters(self.parameters, context)
        ros = ros_arguments(
            name=name,
            namespace=namespace or None,
            remappings=[(context.substitute(a), context.substitute(b)) for a, b in self.remappings],
            parameters=values,
            params_files=files,
            extra=[context.substitute(a) for a in self.ros_arguments],
        )
        args = [context.substitute(a) for a in self.arguments]
        return name or base, [*prefix, *args, *ros]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"node": self.executable or f"-m {self.module}"}
        for key in ("package", "name", "namespace"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.parameters:
            out["parameters"] = [p if isinstance(p, Mapping) else str(p) for p in self.parameters]
        if self.remappings:
            out["remappings"] = [list(r) for r in self.remappings]
        if self.arguments:
            out["arguments"] = list(self.arguments)
        if self.ros_arguments:
            out["ros_arguments"] = list(self.ros_arguments)
        return self._describe_process(out)
