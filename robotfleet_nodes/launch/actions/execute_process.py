"""``ExecuteProcess``: run an arbitrary command as one supervised process."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.actions._process_action import ProcessAction
from robotfleet_nodes.launch.errors import LaunchError

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["ExecuteProcess"]


_VENV_BIN = Path(sys.executable).parent


class ExecuteProcess(ProcessAction):
    """Run ``cmd`` (each element substituted); ``name`` labels its output lines.

    Keyword options (``env``, ``cwd``, ``output``, ``respawn``, ``respawn_delay``,
    ``respawn_max_retries``, ``required``, ``forkserver``, ``condition``) are those of every
    process action.
    """

    def __init__(self, cmd: Sequence[str], *, name: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        if not cmd:
            raise LaunchError("ExecuteProcess needs a non-empty cmd")
        self.cmd = [str(c) for c in cmd]
        self.name = name

    def command(self, context: LaunchContext) -> tuple[str, list[str]]:
        cmd = [context.substitute(c) for c in self.cmd]
        if "/" not in cmd[0] and _VENV_BIN.joinpath(cmd[0]).is_file():
            # This venv's console scripts (rfos, fleet ...) run even when it is not on PATH.
            cmd[0] = str(_VENV_BIN / cmd[0])
        label = context.substitute(self.name) if self.name else os.path.basename(cmd[0])
        return label, cmd

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"executable": list(self.cmd)}
        if self.name:
            out["name"] = self.name
        return self._describe_process(out)
