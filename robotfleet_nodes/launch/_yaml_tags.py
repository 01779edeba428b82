"""Parsers of the YAML launch tags, each registered with ``@expose_tag``.

ROS 2's YAML format: ``arg``, ``let``, ``set_env``, ``log``, ``node``, ``executable``,
``group`` (with ``push-ros-namespace``), ``include``, ``timer``; ours: ``container``, ``for``,
``shutdown`` and the event handlers ``on_process_start``, ``on_process_exit``,
``on_process_io`` and ``on_shutdown``. See ``docs/launch.md`` for the keys of each. The
XML front end (``xml_loader``) turns elements into the same mappings, so both formats
share these parsers.
"""

from __future__ import annotations

from typing import Any

from robotfleet_nodes.launch._expose import expose_tag
from robotfleet_nodes.launch.actions.composable_node import ComposableNode
from robotfleet_nodes.launch.actions.composable_node_container import ComposableNodeContainer
from robotfleet_nodes.launch.actions.composable_node_loop import ComposableNodeLoop
from robotfleet_nodes.launch.actions.declare_launch_argument import DeclareLaunchArgument
from robotfleet_nodes.launch.actions.execute_process import ExecuteProcess
from robotfleet_nodes.launch.actions.for_each import ForEach
from robotfleet_nodes.launch.actions.group_action import GroupAction
from robotfleet_nodes.launch.actions.include_launch_description import IncludeLaunchDescription
from robotfleet_nodes.launch.actions.log_info import LogInfo
from robotfleet_nodes.launch.actions.node import Node
from robotfleet_nodes.launch.actions.push_ros_namespace import PushRosNamespace
from robotfleet_nodes.launch.actions.register_event_handler import RegisterEventHandler
from robotfleet_nodes.launch.actions.set_environment_variable import SetEnvironmentVariable
from robotfleet_nodes.launch.actions.set_launch_configuration import SetLaunchConfiguration
from robotfleet_nodes.launch.actions.shutdown import Shutdown
from robotfleet_nodes.launch.actions.timer_action import TimerAction
from robotfleet_nodes.launch.context import LaunchContext
from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.event_handlers import (
    EventHandler,
    OnProcessExit,
    OnProcessIO,
    OnProcessStart,
    OnShutdown,
)
from robotfleet_nodes.launch.events import Event
from robotfleet_nodes.launch.process_spec import OUTPUTS
from robotfleet_nodes.launch.substitutions import evaluate_bool
from robotfleet_nodes.launch.yaml_loader import Where, parse_entities

__all__: list[str] = []

_PROCESS_KEYS = (
    "env",
    "cwd",
    "output",
    "respawn",
    "respawn_delay",
    "respawn_max_retries",
    "required",
    "forkserver",
    "launch-prefix",
    "shell",
    "emulate_tty",
    "sigterm_timeout",
    "sigkill_timeout",
)


def _seconds(where: Where, value: Any, key: str) -> float | str:
    """A non-negative number of seconds, or a substitution resolved when the launch runs."""
    if isinstance(value, str) and "$(" in value:
        return value
    number = where.number(value, key)
    if number < 0:
        raise where.error(f"{key!r} must not be negative, got {value!r}")
    return number


def _name_values(where: Where, items: Any, key: str) -> list[tuple[str, Any]]:
    out = []
    for item in where.sequence(items, key):
        body = where.at(item, f"{where.tag}.{key}").mapping(item, required=["name", "value"])
        out.append((where.text(body["name"], "name"), body["value"]))
    return out


def _params(where: Where, items: Any) -> list[dict[str, Any] | str]:
    values: dict[str, Any] = {}
    files: list[str] = []
    for item in where.sequence(items, "param"):
        item_where = where.at(item, f"{where.tag}.param")
        body = item_where.mapping(item, allowed=["name", "value", "from"])
        if "from" in body:
            if len(body) != 1:
                raise item_where.error("a 'from' entry names a parameter file and nothing else")
            files.append(where.text(body["from"], "from"))
        elif "name" in body and "value" in body:
            values[where.text(body["name"], "name")] = body["value"]
        else:
            raise item_where.error("each entry is {name: ..., value: ...} or {from: FILE}")
    return [*files, values] if values else list(files)


def _remaps(where: Where, items: Any) -> list[tuple[str, str]]:
    out = []
    for item in where.sequence(items, "remap"):
        body = where.at(item, f"{where.tag}.remap").mapping(item, required=["from", "to"])
        out.append((where.text(body["from"], "from"), where.text(body["to"], "to")))
    return out


def _process_options(where: Where, body: dict[str, Any]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if "env" in body:
        opts["env"] = {k: where.text(v, "env") for k, v in _name_values(where, body["env"], "env")}
    if "cwd" in body:
        opts["cwd"] = where.text(body["cwd"], "cwd")
    if "output" in body:
        output = where.text(body["output"], "output")
        if output not in OUTPUTS:
            raise where.error(f"'output' must be one of {', '.join(OUTPUTS)}, not {output!r}")
        opts["output"] = output
    if "respawn" in body:
        opts["respawn"] = where.text(body["respawn"], "respawn")
    for key in ("respawn_delay", "sigterm_timeout", "sigkill_timeout"):
        if key in body:
            opts[key] = _seconds(where, body[key], key)
    if "launch-prefix" in body:
        opts["prefix"] = where.text(body["launch-prefix"], "launch-prefix")
    for key in ("shell", "emulate_tty"):  # plain booleans, as in ROS 2
        if key in body:
            try:
                opts[key] = evaluate_bool(where.text(body[key], key))
            except LaunchError:
                raise where.error(f"{key!r} must be true or false, got {body[key]!r}") from None
    if "respawn_max_retries" in body:
        opts["respawn_max_retries"] = int(where.number(body["respawn_max_retries"], "respawn_max_retries"))
    if "required" in body:
        opts["required"] = evaluate_bool(where.text(body["required"], "required"))
    if "forkserver" in body:
        opts["forkserver"] = where.text(body["forkserver"], "forkserver")
    return opts


@expose_tag("arg")
def _arg(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["name"], allowed=["default", "description", "choices"])
    choices = None
    if "choices" in b:
        choices = [where.text(c.get("value") if isinstance(c, dict) else c, "choices") for c in b["choices"]]
    return DeclareLaunchArgument(
        where.text(b["name"], "name"),
        default=None if b.get("default") is None else where.text(b["default"], "default"),
        description=str(b.get("description", "")),
        choices=choices,
    )


@expose_tag("let")
def _let(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["name", "value"])
    return SetLaunchConfiguration(where.text(b["name"], "name"), where.text(b["value"], "value"))


@expose_tag("set_env")
def _set_env(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["name", "value"])
    return SetEnvironmentVariable(where.text(b["name"], "name"), where.text(b["value"], "value"))


@expose_tag("log")
def _log(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["message"])
    return LogInfo(where.text(b["message"], "message"))


@expose_tag("shutdown")
def _shutdown(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body or {}, allowed=["reason"])
    return Shutdown(where.text(b.get("reason", "shutdown requested"), "reason"))


@expose_tag("node")
def _node(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(
        body,
        allowed=[
            "pkg",
            "exec",
            "module",
            "name",
            "namespace",
            "ns",
            "param",
            "remap",
            "args",
            "ros_args",
            *_PROCESS_KEYS,
        ],
    )
    if ("exec" in b) == ("module" in b):
        raise where.error("give exactly one of 'exec' (an executable) or 'module' (python -m)")
    namespace = b.get("namespace", b.get("ns"))
    return Node(
        where.text(b["exec"], "exec") if "exec" in b else None,
        module=where.text(b["module"], "module") if "module" in b else None,
        package=where.text(b["pkg"], "pkg") if "pkg" in b else None,
        name=where.text(b["name"], "name") if "name" in b else None,
        namespace=None if namespace is None else where.text(namespace, "namespace"),
        parameters=_params(where, b.get("param")),
        remappings=_remaps(where, b.get("remap")),
        arguments=where.args(b["args"], "args") if "args" in b else (),
        ros_arguments=where.args(b["ros_args"], "ros_args") if "ros_args" in b else (),
        **_process_options(where, b),
    )


@expose_tag("executable")
def _executable(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["cmd"], allowed=["name", *_PROCESS_KEYS])
    return ExecuteProcess(
        where.args(b["cmd"], "cmd"),
        name=where.text(b["name"], "name") if "name" in b else None,
        **_process_options(where, b),
    )


def _push(body: Any, where: Where) -> LaunchEntity:
    if isinstance(body, dict):
        body = where.mapping(body, required=["namespace"])["namespace"]
    return PushRosNamespace(where.text(body, "namespace"))


expose_tag("push-ros-namespace")(_push)
expose_tag("push_ros_namespace")(_push)


@expose_tag("group")
def _group(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, allowed=["namespace", "push-ros-namespace", "scoped", "children"])
    namespace = b.get("namespace", b.get("push-ros-namespace"))
    return GroupAction(
        parse_entities(b.get("children"), where.at(b.get("children"))),
        namespace=None if namespace is None else where.text(namespace, "namespace"),
        scoped=evaluate_bool(where.text(b.get("scoped", True), "scoped")),
    )


@expose_tag("include")
def _include(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["file"], allowed=["arg"])
    args = {name: where.text(value, "value") for name, value in _name_values(where, b.get("arg"), "arg")}
    return IncludeLaunchDescription(where.text(b["file"], "file"), launch_arguments=args)


def _loop_options(where: Where, b: dict[str, Any]) -> dict[str, Any]:
    if ("values" in b) == ("to" in b):
        raise where.error("give either 'values' (a list) or a range 'from'/'to' (inclusive)")
    if "values" in b:
        values = b["values"]
        items = where.args(values, "values") if isinstance(values, str) else where.sequence(values, "values")
        return {"values": [where.text(v, "values") for v in items]}
    return {
        "start": where.text(b.get("from", 1), "from"),
        "stop": where.text(b["to"], "to"),
        "step": where.text(b.get("step", 1), "step"),
    }


@expose_tag("for")
def _for(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["var", "children"], allowed=["values", "from", "to", "step", "chunks"])
    children = parse_entities(b["children"], where.at(b["children"]))
    chunks = where.text(b["chunks"], "chunks") if "chunks" in b else None
    return ForEach(where.text(b["var"], "var"), children, chunks=chunks, **_loop_options(where, b))


def _composable_nodes(where: Where, items: Any) -> list[ComposableNode | ComposableNodeLoop]:
    nodes: list[ComposableNode | ComposableNodeLoop] = []
    for item in where.sequence(items, "composable_node"):
        item_where = where.at(item, "composable_node")
        if isinstance(item, dict) and list(item) == ["for"]:
            loop_where = item_where.at(item["for"], "composable_node.for")
            b = loop_where.mapping(
                item["for"], required=["var", "composable_node"], allowed=["values", "from", "to", "step"]
            )
            nodes.append(
                ComposableNodeLoop(
                    loop_where.text(b["var"], "var"),
                    _composable_nodes(loop_where, b["composable_node"]),
                    **_loop_options(loop_where, b),
                )
            )
            continue
        c = item_where.mapping(item, required=["plugin"], allowed=["name", "namespace", "param", "remap"])
        nodes.append(
            ComposableNode(
                item_where.text(c["plugin"], "plugin"),
                name=item_where.text(c["name"], "name") if "name" in c else None,
                namespace=item_where.text(c["namespace"], "namespace") if "namespace" in c else None,
                parameters=_params(item_where, c.get("param")),
                remappings=_remaps(item_where, c.get("remap")),
            )
        )
    return nodes


@expose_tag("container")
def _container(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["name"], allowed=["namespace", "composable_node", *_PROCESS_KEYS])
    return ComposableNodeContainer(
        where.text(b["name"], "name"),
        where.text(b.get("namespace", ""), "namespace"),
        composable_nodes=_composable_nodes(where, b.get("composable_node")),
        **_process_options(where, b),
    )


class _EventScope:
    """A launch file's reaction: visit ``entities`` in a child scope that knows the event.

    The scope has ``$(var event_name)`` (the process label, e.g. ``talker-1``),
    ``event_pid``, ``event_returncode`` (exit), ``event_text`` (a line of output) and
    ``event_reason`` (shutdown), for whichever the event has.
    """

    __slots__ = ("entities",)

    _FIELDS = ("name", "pid", "returncode", "text", "reason")

    def __init__(self, entities: list[LaunchEntity]) -> None:
        self.entities = entities

    def __call__(self, event: Event, context: LaunchContext) -> list[LaunchEntity]:
        scope = context.child()
        for attr in self._FIELDS:
            value = getattr(event, attr, None)
            if value is not None:
                scope.set(f"event_{attr}", str(value))
        scope.visit(self.entities)
        return []

    def describe(self) -> list[dict[str, Any]]:
        return [e.describe() for e in self.entities]


def _handler_body(where: Where, body: Any, *, target: bool, keys: tuple[str, ...]) -> dict[str, Any]:
    b = where.mapping(body, allowed=[*(["target"] if target else []), *keys])
    if not any(k in b for k in keys):
        raise where.error(f"give {' or '.join(repr(k) for k in keys)}: the entities to run")
    return b


def _scope(where: Where, b: dict[str, Any], key: str) -> _EventScope:
    return _EventScope(parse_entities(b.get(key), where.at(b.get(key))))


def _maybe_scope(where: Where, b: dict[str, Any], key: str) -> _EventScope | None:
    return _scope(where, b, key) if key in b else None


def _target(where: Where, b: dict[str, Any]) -> str | None:
    return where.text(b["target"], "target") if "target" in b else None


def _register(handler: EventHandler) -> LaunchEntity:
    return RegisterEventHandler(handler)


@expose_tag("on_process_start")
def _on_process_start(body: Any, where: Where) -> LaunchEntity:
    b = _handler_body(where, body, target=True, keys=("children",))
    return _register(OnProcessStart(target=_target(where, b), on_start=_scope(where, b, "children")))


@expose_tag("on_process_exit")
def _on_process_exit(body: Any, where: Where) -> LaunchEntity:
    b = _handler_body(where, body, target=True, keys=("children",))
    return _register(OnProcessExit(target=_target(where, b), on_exit=_scope(where, b, "children")))


@expose_tag("on_process_io")
def _on_process_io(body: Any, where: Where) -> LaunchEntity:
    b = _handler_body(where, body, target=True, keys=("on_stdout", "on_stderr"))
    return _register(
        OnProcessIO(
            target=_target(where, b),
            on_stdout=_maybe_scope(where, b, "on_stdout"),
            on_stderr=_maybe_scope(where, b, "on_stderr"),
        )
    )


@expose_tag("on_shutdown")
def _on_shutdown(body: Any, where: Where) -> LaunchEntity:
    b = _handler_body(where, body, target=False, keys=("children",))
    return _register(OnShutdown(on_shutdown=_scope(where, b, "children")))


@expose_tag("timer")
def _timer(body: Any, where: Where) -> LaunchEntity:
    b = where.mapping(body, required=["period"], allowed=["children"])
    return TimerAction(
        where.text(b["period"], "period"), parse_entities(b.get("children"), where.at(b.get("children")))
    )
