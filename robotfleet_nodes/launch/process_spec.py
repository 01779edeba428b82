"""``ProcessSpec``: one fully resolved process, what visiting a process action produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from robotfleet_nodes.launch.entity import LaunchEntity

__all__ = ["OUTPUTS", "Output", "ProcessSpec"]

Output = Literal["log", "screen"]
#: ``output`` values ROS 2 accepts -> ours: ``both`` shows everything (all output is also in
#: the log file), ``own_log`` only logs.
OUTPUTS: dict[str, Output] = {"log": "log", "screen": "screen", "both": "screen", "own_log": "log"}


@dataclass(slots=True)
class ProcessSpec:
    """A process to start: command, environment overrides and supervision options.

    ``env`` holds only the overrides (launch-wide ``set_env`` then the action's ``env``);
    the runner merges them over ``os.environ`` when it starts the process.

    ``entry`` (``module:function``) with ``entry_argv``: the Python callable the fork server
    runs instead of ``cmd`` (``forkserver: true``); ``cmd`` remains the fallback.

    ``emulate_tty``: stdout and stderr are pseudo-terminals instead of pipes.
    ``sigterm_timeout`` / ``sigkill_timeout``: this process's shutdown timeouts (None: the
    launch service's).
    """

    name: str
    cmd: list[str]
    action: LaunchEntity
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    output: Output = "log"
    respawn: bool = False
    respawn_delay: float = 0.0
    respawn_max_retries: int = -1
    required: bool = False
    entry: str | None = None
    entry_argv: list[str] = field(default_factory=list)
    emulate_tty: bool = False
    sigterm_timeout: float | None = None
    sigkill_timeout: float | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (what ``rfos launch --print`` shows)."""
        out: dict[str, Any] = {"name": self.name, "cmd": list(self.cmd)}
        if self.env:
            out["env"] = dict(self.env)
        if self.cwd:
            out["cwd"] = self.cwd
        out["output"] = self.output
        if self.respawn:
            out["respawn"] = {"delay": self.respawn_delay, "max_retries": self.respawn_max_retries}
        if self.required:
            out["required"] = True
        if self.entry is not None:
            out["forkserver"] = {"entry": self.entry, "argv": list(self.entry_argv)}
        if self.emulate_tty:
            out["emulate_tty"] = True
        for key in ("sigterm_timeout", "sigkill_timeout"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out
