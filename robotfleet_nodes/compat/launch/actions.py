"""``launch.actions``: ROS 2's actions as adapters that become our launch entities when visited.

Each adapter keeps what the launch file gave (text, substitutions, conditions) and, when
the runtime visits it, performs the substitutions against the context and does the work
with our entity (:mod:`robotfleet_nodes.launch`), so there is one launch runtime. Process
actions produce a :class:`~robotfleet_nodes.launch.ProcessSpec` whose action is the
adapter itself, so ``OnProcessExit(target_action=...)`` matches it.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from robotfleet_nodes.launch import DeclareLaunchArgument as _CoreDeclareLaunchArgument
from robotfleet_nodes.launch import ExecuteProcess as _CoreExecuteProcess
from robotfleet_nodes.launch import GroupAction as _CoreGroupAction
from robotfleet_nodes.launch import IncludeLaunchDescription as _CoreInclude
from robotfleet_nodes.launch import LaunchContext as CoreContext
from robotfleet_nodes.launch import LaunchDescription as _CoreLaunchDescription
from robotfleet_nodes.launch import LaunchEntity, LaunchError, ProcessSpec
from robotfleet_nodes.launch import LogInfo as _CoreLogInfo
from robotfleet_nodes.launch import OpaqueFunction as _CoreOpaqueFunction
from robotfleet_nodes.launch import RegisterEventHandler as _CoreRegisterEventHandler
from robotfleet_nodes.launch import SetEnvironmentVariable as _CoreSetEnvironmentVariable
from robotfleet_nodes.launch import SetLaunchConfiguration as _CoreSetLaunchConfiguration
from robotfleet_nodes.launch import Shutdown as _CoreShutdown
from robotfleet_nodes.launch import TimerAction as _CoreTimerAction

from ._context import LaunchContext, SomeSubstitutionsType, perform, perform_optional, view
from .conditions import Condition
from .event_handlers import OnProcessExit
from .events import Shutdown as ShutdownEvent
from .launch_description_sources import LaunchDescriptionSource

__all__ = [
    "Action",
    "DeclareLaunchArgument",
    "EmitEvent",
    "ExecuteProcess",
    "GroupAction",
    "IncludeLaunchDescription",
    "LogInfo",
    "OpaqueFunction",
    "RegisterEventHandler",
    "SetEnvironmentVariable",
    "SetLaunchConfiguration",
    "Shutdown",
    "TimerAction",
    "describe_value",
]


def describe_value(value: Any) -> str:
    """``value`` as written, for ``--print``/``--show-args``: substitutions by their description."""
    if value is None or isinstance(value, str):
        return "" if value is None else value
    describe = getattr(value, "describe", None)
    if callable(describe):
        return str(describe())
    if isinstance(value, Iterable):
        return "".join(describe_value(v) for v in value)
    return str(value)


def _condition(kwargs: dict[str, Any], action: str) -> Condition | None:
    condition: Condition | None = kwargs.pop("condition", None)
    if kwargs:
        raise TypeError(f"{action}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
    if condition is not None and not hasattr(condition, "evaluate"):
        raise TypeError(
            f"{action}(condition=...) takes a launch.conditions object, not {type(condition).__name__}"
        )
    return condition


class Action(LaunchEntity):
    """Base of user-written actions: override ``execute(context)`` (return entities or None)."""

    def __init__(self, *, condition: Condition | None = None) -> None:
        self.condition = condition

    def execute(self, context: LaunchContext) -> Iterable[LaunchEntity] | None:
        """Do the action's work; the entities returned are visited next."""
        return None

    def visit(self, context: CoreContext) -> None:
        result = self.execute(view(context))
        if result is not None:
            context.visit([result] if isinstance(result, LaunchEntity) else list(result))

    def describe(self) -> dict[str, Any]:
        return self._describe_condition({"action": type(self).__qualname__})


class DeclareLaunchArgument(_CoreDeclareLaunchArgument):
    """Declare launch argument ``name``; ``default_value`` may hold substitutions."""

    def __init__(
        self,
        name: str,
        *,
        default_value: SomeSubstitutionsType | None = None,
        description: str | None = None,
        choices: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name,
            default=None if default_value is None else describe_value(default_value),
            description=description or "",
            choices=None if choices is None else list(choices),
        )
        self.default_value = default_value
        self.condition = _condition(kwargs, "DeclareLaunchArgument")

    def visit(self, context: CoreContext) -> None:
        if self.name not in context.configurations and self.default_value is not None:
            context.declared.add(self.name)
            context.set(self.name, perform(self.default_value, context))
        super().visit(context)


class SetLaunchConfiguration(_CoreSetLaunchConfiguration):
    """Set launch configuration ``name`` to ``value`` for the rest of the scope."""

    def __init__(self, name: SomeSubstitutionsType, value: SomeSubstitutionsType, **kwargs: Any) -> None:
        super().__init__(describe_value(name), describe_value(value))
        self.name_, self.value_ = name, value
        self.condition = _condition(kwargs, "SetLaunchConfiguration")

    def visit(self, context: CoreContext) -> None:
        context.set(perform(self.name_, context), perform(self.value_, context))


class SetEnvironmentVariable(_CoreSetEnvironmentVariable):
    """Set environment variable ``name`` for the processes started after it in this scope."""

    def __init__(self, name: SomeSubstitutionsType, value: SomeSubstitutionsType, **kwargs: Any) -> None:
        super().__init__(describe_value(name), describe_value(value))
        self.name_, self.value_ = name, value
        self.condition = _condition(kwargs, "SetEnvironmentVariable")

    def visit(self, context: CoreContext) -> None:
        context.env[perform(self.name_, context)] = perform(self.value_, context)


class LogInfo(_CoreLogInfo):
    """Log ``msg`` through the launch's output."""

    def __init__(self, *, msg: SomeSubstitutionsType, **kwargs: Any) -> None:
        super().__init__(describe_value(msg))
        self.msg_ = msg
        self.condition = _condition(kwargs, "LogInfo")

    def visit(self, context: CoreContext) -> None:
        context.sink.log(perform(self.msg_, context))


class Shutdown(_CoreShutdown):
    """End the launch, giving ``reason``."""

    def __init__(self, *, reason: SomeSubstitutionsType = "reason not given", **kwargs: Any) -> None:
        super().__init__(describe_value(reason))
        self.reason_ = reason
        self.condition = _condition(kwargs, "Shutdown")

    def visit(self, context: CoreContext) -> None:
        context.sink.shutdown(perform(self.reason_, context))


class EmitEvent(Action):
    """Emit ``event``: ``launch.events.Shutdown`` ends the launch; other events are not
    supported yet (an error naming the event)."""

    def __init__(self, *, event: Any, **kwargs: Any) -> None:
        super().__init__(condition=_condition(kwargs, "EmitEvent"))
        self.event = event

    def visit(self, context: CoreContext) -> None:
        if isinstance(self.event, ShutdownEvent):
            context.sink.shutdown(self.event.reason)
            return
        raise LaunchError(
            f"EmitEvent({type(self.event).__name__}) is not supported: only launch.events.Shutdown "
            "(use launch.actions.Shutdown or an OnProcessExit handler)"
        )

    def describe(self) -> dict[str, Any]:
        return self._describe_condition(
            {"emit_event": getattr(self.event, "name", type(self.event).__name__)}
        )


class OpaqueFunction(_CoreOpaqueFunction):
    """Call ``function(context, *args, **kwargs)`` when visited; visit the entities it returns."""

    def __init__(
        self,
        *,
        function: Callable[..., Iterable[LaunchEntity] | None],
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        extra_args, extra_kwargs = list(args or ()), dict(kwargs or {})

        def call(context: CoreContext) -> list[LaunchEntity]:
            result = function(view(context), *extra_args, **extra_kwargs)
            if result is None:
                return []
            return [result] if isinstance(result, LaunchEntity) else list(result)

        call.__qualname__ = getattr(function, "__qualname__", repr(function))
        super().__init__(call, condition=_condition(options, "OpaqueFunction"))
        self.ros_function = function


class GroupAction(_CoreGroupAction):
    """Visit ``actions`` in a scope (``scoped``) with ``launch_configurations`` set; with
    ``forwarding=False`` the scope starts with only those configurations."""

    def __init__(
        self,
        actions: Iterable[LaunchEntity],
        *,
        scoped: bool = True,
        forwarding: bool = True,
        launch_configurations: Mapping[SomeSubstitutionsType, SomeSubstitutionsType] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(actions, scoped=scoped, condition=_condition(kwargs, "GroupAction"))
        if not forwarding and not scoped:
            raise LaunchError("GroupAction(forwarding=False) needs scoped=True")
        self.forwarding = forwarding
        self.launch_configurations = dict(launch_configurations or {})

    def visit(self, context: CoreContext) -> None:
        values = {perform(k, context): perform(v, context) for k, v in self.launch_configurations.items()}
        inner = context.child(scoped=self.scoped)
        if not self.forwarding:
            inner.configurations = {}
        inner.configurations.update(values)
        saved = inner.namespace
        inner.visit(self.entities)
        inner.namespace = saved


class TimerAction(_CoreTimerAction):
    """Visit ``actions`` ``period`` seconds (a number or substitutions) after this is visited.

    ``cancel_on_shutdown=False`` is not supported: a shutdown always cancels pending timers.
    """

    def __init__(
        self,
        *,
        period: float | SomeSubstitutionsType,
        actions: Iterable[LaunchEntity],
        cancel_on_shutdown: bool | SomeSubstitutionsType = True,
        **kwargs: Any,
    ) -> None:
        shown = period if isinstance(period, int | float) else describe_value(period)
        super().__init__(shown, actions, condition=_condition(kwargs, "TimerAction"))
        self.period_ = period
        self.cancel_on_shutdown = cancel_on_shutdown

    def visit(self, context: CoreContext) -> None:
        period = self.period_ if isinstance(self.period_, int | float) else perform(self.period_, context)
        _CoreTimerAction(period, self.entities).visit(context)


class RegisterEventHandler(_CoreRegisterEventHandler):
    """Register ``event_handler`` (from ``launch.event_handlers``) in the current scope."""

    def __init__(self, event_handler: Any, **kwargs: Any) -> None:
        super().__init__(event_handler, condition=_condition(kwargs, "RegisterEventHandler"))


class IncludeLaunchDescription(_CoreInclude):
    """Include a launch file (``PythonLaunchDescriptionSource``/``AnyLaunchDescriptionSource``,
    or its path) or a ``LaunchDescription``, with ``launch_arguments`` (pairs or a mapping).

    A relative path is taken from the including file's folder; what the included file sets
    stays inside it.
    """

    def __init__(
        self,
        launch_description_source: LaunchDescriptionSource | SomeSubstitutionsType,
        *,
        launch_arguments: Iterable[tuple[SomeSubstitutionsType, SomeSubstitutionsType]]
        | Mapping[SomeSubstitutionsType, SomeSubstitutionsType]
        | None = None,
        **kwargs: Any,
    ) -> None:
        source = launch_description_source
        if isinstance(source, Mapping):
            raise TypeError("IncludeLaunchDescription takes a launch description source or a path")
        pairs = list(
            launch_arguments.items() if isinstance(launch_arguments, Mapping) else launch_arguments or ()
        )
        location = source.location if isinstance(source, LaunchDescriptionSource) else source
        described = location if isinstance(location, _CoreLaunchDescription) else describe_value(location)
        super().__init__(
            described,
            launch_arguments={describe_value(k): describe_value(v) for k, v in pairs},
            condition=_condition(kwargs, "IncludeLaunchDescription"),
        )
        self.source = source
        self.location = location
        self.argument_pairs = pairs

    def visit(self, context: CoreContext) -> None:
        target: str | _CoreLaunchDescription
        if isinstance(self.location, _CoreLaunchDescription):
            target = self.location
        else:
            target = perform(self.location, context)
        values = {perform(k, context): perform(v, context) for k, v in self.argument_pairs}
        _CoreInclude(target, launch_arguments=values).visit(context)


_OUTPUTS = {"screen": "screen", "both": "screen", "log": "log", "own_log": "log"}


class ExecuteProcess(_CoreExecuteProcess):
    """Run ``cmd`` (a list; each item text or substitutions) as one supervised process.

    Supported like ROS 2: ``name``, ``cwd``, ``additional_env``, ``shell``, ``prefix``,
    ``output`` (``screen``/``both`` show stdout, ``log``/``own_log`` only stderr),
    ``respawn``, ``respawn_delay``, ``respawn_max_retries``, ``on_exit`` and ``condition``.
    ``env`` adds to the environment instead of replacing it; ``sigterm_timeout`` /
    ``sigkill_timeout`` are the launch's (``rfos launch --sigterm-timeout``);
    ``emulate_tty``, ``log_cmd``, ``cached_output`` and ``output_format`` are accepted and ignored.
    """

    def __init__(
        self,
        *,
        cmd: Iterable[SomeSubstitutionsType],
        name: SomeSubstitutionsType | None = None,
        cwd: SomeSubstitutionsType | None = None,
        env: Mapping[SomeSubstitutionsType, SomeSubstitutionsType] | None = None,
        additional_env: Mapping[SomeSubstitutionsType, SomeSubstitutionsType] | None = None,
        shell: bool = False,
        sigterm_timeout: SomeSubstitutionsType = "5",
        sigkill_timeout: SomeSubstitutionsType = "5",
        emulate_tty: bool = False,
        prefix: SomeSubstitutionsType | None = None,
        output: SomeSubstitutionsType = "log",
        output_format: str = "[{this.process_description.final_name}] {line}",
        cached_output: bool = False,
        log_cmd: bool = False,
        on_exit: Any = None,
        respawn: bool | SomeSubstitutionsType = False,
        respawn_delay: float | None = None,
        respawn_max_retries: int = -1,
        **kwargs: Any,
    ) -> None:
        self.ros_cmd = list(cmd)
        if not self.ros_cmd:
            raise LaunchError("ExecuteProcess needs a non-empty cmd")
        super().__init__(
            [describe_value(c) for c in self.ros_cmd],
            name=None if name is None else describe_value(name),
            condition=_condition(kwargs, type(self).__name__),
        )
        self.ros_name = name
        self.ros_cwd = cwd
        self.ros_env = {**(env or {}), **(additional_env or {})}
        self.shell = shell
        self.prefix = prefix
        self.ros_output = output
        self.ros_respawn = respawn
        self.respawn_delay = float(respawn_delay or 0.0)
        self.respawn_max_retries = int(respawn_max_retries)
        self.on_exit = on_exit
        self.emulate_tty = emulate_tty
        self.sigterm_timeout, self.sigkill_timeout = sigterm_timeout, sigkill_timeout
        self.last_cmd: list[str] = []
        self._on_exit_sinks: set[int] = set()

    def process_options(self, context: CoreContext) -> dict[str, Any]:
        """Our process action's keyword options, performed in ``context``."""
        output = perform(self.ros_output, context)
        if output not in _OUTPUTS:
            raise LaunchError(f"output must be one of screen, log, both, own_log, not {output!r}")
        respawn = (
            self.ros_respawn if isinstance(self.ros_respawn, bool) else perform(self.ros_respawn, context)
        )
        return {
            "env": {perform(k, context): perform(v, context) for k, v in self.ros_env.items()},
            "cwd": perform_optional(self.ros_cwd, context),
            "output": _OUTPUTS[output],
            "respawn": respawn,
            "respawn_delay": self.respawn_delay,
            "respawn_max_retries": self.respawn_max_retries,
        }

    def wrap_command(self, cmd: list[str], context: CoreContext) -> list[str]:
        """``cmd`` with ``prefix`` in front and, with ``shell``, run by ``/bin/sh -c``."""
        if self.prefix is not None:
            cmd = [*shlex.split(perform(self.prefix, context)), *cmd]
        if self.shell:
            cmd = ["/bin/sh", "-c", " ".join(cmd)]
        return cmd

    def resolve(self, context: CoreContext) -> ProcessSpec:
        cmd = self.wrap_command([perform(c, context) for c in self.ros_cmd], context)
        core = _CoreExecuteProcess(
            cmd, name=perform_optional(self.ros_name, context), **self.process_options(context)
        )
        return self.adopt(core.resolve(context), context)

    def adopt(self, spec: ProcessSpec, context: CoreContext) -> ProcessSpec:
        """``spec`` as this action's (events name this adapter); registers ``on_exit`` once per run."""
        if self.on_exit is not None and id(context.sink) not in self._on_exit_sinks:
            self._on_exit_sinks.add(id(context.sink))
            context.sink.register_handler(
                OnProcessExit(target_action=self, on_exit=self.on_exit), context.child()
            )
        self.last_cmd = list(spec.cmd)
        return dataclasses.replace(spec, action=self)
