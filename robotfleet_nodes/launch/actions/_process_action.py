"""What ``Node``, ``ExecuteProcess`` and ``ComposableNodeContainer`` share: process options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.process_spec import Output, ProcessSpec

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
        output: Output = "log",
        respawn: bool | str = False,
        respawn_delay: float = 0.0,
        respawn_max_retries: int = -1,
        required: bool = False,
        forkserver: bool | str = False,
        condition: Condition | None = None,
    ) -> None:
        if output not in ("log", "screen"):
            raise LaunchError(f"output must be 'log' or 'screen', not {output!r}")
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        self.cwd = cwd
        self.output: Output = output
        self.respawn = respawn
        self.respawn_delay = float(respawn_delay)
        self.respawn_max_retries = int(respawn_max_retries)
        self.required = required
        self.forkserver = forkserver
        self.condition = condition

    def command(self, context: LaunchContext) -> tuple[str, list[str]]:
        """``(label, argv)`` resolved in ``context``."""
        raise NotImplementedError

    def visit(self, context: LaunchContext) -> None:
        context.sink.execute(self.resolve(context))

    def resolve(self, context: LaunchContext) -> ProcessSpec:
        """The :class:`ProcessSpec` this action starts in ``context``."""
        from robotfleet_nodes.launch.substitutions import evaluate_bool

        label, cmd = self.command(context)
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
            respawn_delay=self.respawn_delay,
            respawn_max_retries=self.respawn_max_retries,
            required=self.required,
            entry=None if entry is None else entry[0],
            entry_argv=[] if entry is None else entry[1],
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
        return self._describe_condition(out)
