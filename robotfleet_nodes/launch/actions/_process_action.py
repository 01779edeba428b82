"""What ``Node``, ``ExecuteProcess`` and ``ComposableNodeContainer`` share: process options.

As ROS 2's ``ExecuteProcess``: ``prefix`` (XML/YAML ``launch-prefix``, e.g. ``gdb -ex run
--args``) is split like a shell and put before the command; with ``shell`` the command
(prefix included) is joined with spaces and run by ``/bin/sh -c``; ``emulate_tty`` gives
the process a pseudo-terminal as stdout and stderr (so it line-buffers and colours as in a
terminal); ``sigterm_timeout`` / ``sigkill_timeout`` replace the launch's for this process
when it is shut down (SIGINT, SIGTERM after ``sigterm_timeout``, SIGKILL after
``sigkill_timeout`` more). Timeouts and ``respawn_delay`` may be substitutions
(``"$(var delay)"``), non-negative numbers once resolved.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.process_spec import OUTPUTS, Output, ProcessSpec

if TYPE_CHECKING:
    from robotfleet_nodes.launch.conditions import Condition
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["ProcessAction"]


class ProcessAction(LaunchEntity):
    """Base of actions that start one OS process; subclasses build the command."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        output: Output | str = "log",
        respawn: bool | str = False,
        respawn_delay: float | str = 0.0,
        respawn_max_retries: int = -1,
        required: bool = False,
        forkserver: bool | str = False,
        condition: Condition | None = None,
        prefix: str | None = None,
        shell: bool = False,
        emulate_tty: bool = False,
        sigterm_timeout: float | str | None = None,
        sigkill_timeout: float | str | None = None,
    ) -> None:
        if output not in OUTPUTS:
            raise LaunchError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        self.cwd = cwd
        self.output: Output = OUTPUTS[output]
        self.respawn = respawn
        self.respawn_delay = _check_number(respawn_delay, "respawn_delay")
        self.respawn_max_retries = int(respawn_max_retries)
        self.required = required
        self.forkserver = forkserver
        self.condition = condition
        self.prefix = prefix
        self.shell = bool(shell)
        self.emulate_tty = bool(emulate_tty)
        self.sigterm_timeout = (
            None if sigterm_timeout is None else _check_number(sigterm_timeout, "sigterm_timeout")
        )
        self.sigkill_timeout = (
            None if sigkill_timeout is None else _check_number(sigkill_timeout, "sigkill_timeout")
        )

    def command(self, context: LaunchContext) -> tuple[str, list[str]]:
        """``(label, argv)`` resolved in ``context``."""
        raise NotImplementedError

    def visit(self, context: LaunchContext) -> None:
        context.sink.execute(self.resolve(context))

    def resolve(self, context: LaunchContext) -> ProcessSpec:
        """The :class:`ProcessSpec` this action starts in ``context``."""
        from robotfleet_nodes.launch.substitutions import evaluate_bool

        label, cmd = self.command(context)
        if self.prefix:
            cmd = [*shlex.split(context.substitute(self.prefix)), *cmd]
        if self.shell:
            cmd = ["/bin/sh", "-c", " ".join(cmd)]
        env = dict(context.env)
        env.update({k: context.substitute(v) for k, v in self.env.items()})
        respawn = self.respawn
        if isinstance(respawn, str):
            respawn = evaluate_bool(context.substitute(respawn))
        forkserver = self.forkserver
        if isinstance(forkserver, str):
            forkserver = evaluate_bool(context.substitute(forkserver))
        entry: tuple[str, list[str]] | None = None
        if forkserver:
            from robotfleet_nodes.launch._forkserver import fork_entry

            entry = fork_entry(cmd)
            if entry is None:
                raise LaunchError(
                    f"{label}: forkserver needs a Python entry point (a console script of this venv "
                    f"or python -m module), not {cmd[0]!r}"
                )
        return ProcessSpec(
            name=label,
            cmd=cmd,
            action=self,
            env=env,
            cwd=None if self.cwd is None else str(context.resolve_path(self.cwd)),
            output=self.output,
            respawn=respawn,
            respawn_delay=_number(self.respawn_delay, "respawn_delay", context),
            respawn_max_retries=self.respawn_max_retries,
            required=self.required,
            entry=None if entry is None else entry[0],
            entry_argv=[] if entry is None else entry[1],
            emulate_tty=self.emulate_tty,
            sigterm_timeout=_maybe_number(self.sigterm_timeout, "sigterm_timeout", context),
            sigkill_timeout=_maybe_number(self.sigkill_timeout, "sigkill_timeout", context),
        )

    def _describe_process(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.env:
            out["env"] = dict(self.env)
        if self.output != "log":
            out["output"] = self.output
        if self.respawn:
            out["respawn"] = self.respawn
            out["respawn_delay"] = self.respawn_delay
            if self.respawn_max_retries >= 0:
                out["respawn_max_retries"] = self.respawn_max_retries
        if self.required:
            out["required"] = True
        if self.forkserver:
            out["forkserver"] = self.forkserver
        if self.prefix:
            out["launch-prefix"] = self.prefix
        for key in ("shell", "emulate_tty", "sigterm_timeout", "sigkill_timeout"):
            if getattr(self, key) not in (None, False):
                out[key] = getattr(self, key)
        return self._describe_condition(out)


def _to_float(value: float | str, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LaunchError(f"{key} must be a number, got {value!r}") from None
    if number < 0:
        raise LaunchError(f"{key} must not be negative, got {value!r}")
    return number


def _check_number(value: float | str, key: str) -> float | str:
    """``value`` as a float (non-negative), or kept as text when it holds a substitution."""
    if isinstance(value, str) and "$(" in value:
        return value
    return _to_float(value, key)


def _number(value: float | str, key: str, context: LaunchContext) -> float:
    return _to_float(context.substitute(value) if isinstance(value, str) else value, key)


def _maybe_number(value: float | str | None, key: str, context: LaunchContext) -> float | None:
    return None if value is None else _number(value, key, context)
