"""``launch.events.process``: a process started, wrote output, exited (views of our events)."""

from __future__ import annotations

from typing import Any

__all__ = ["ProcessExited", "ProcessIO", "ProcessStarted", "RunningProcessEvent"]


class RunningProcessEvent:
    """What every process event carries: the action, the process label and pid."""

    name = "launch.events.process.RunningProcessEvent"

    def __init__(self, *, action: Any, name: str, pid: int, cmd: list[str] | None = None) -> None:
        self.action = action
        self.process_name = name
        self.pid = pid
        self.cmd = list(cmd or [])


class ProcessStarted(RunningProcessEvent):
    """The process started."""

    name = "launch.events.process.ProcessStarted"


class ProcessExited(RunningProcessEvent):
    """The process exited with ``returncode`` (negative: killed by that signal)."""

    name = "launch.events.process.ProcessExited"

    def __init__(self, *, returncode: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.returncode = returncode


class ProcessIO(RunningProcessEvent):
    """The process wrote ``text`` (bytes, one line with its newline) on file descriptor ``fd``
    (1 stdout, 2 stderr)."""

    name = "launch.events.process.ProcessIO"

    def __init__(self, *, text: bytes, fd: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = text
        self.fd = fd
