"""Helpers for launch tests: a capturing stream and process checks (unique module name)."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable, Iterable

from robotfleet_nodes.launch import LaunchService

TIMEOUT = 10.0


class Capture(io.StringIO):
    """A text stream that can be awaited for a piece of text."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        self._changed.set()
        return n

    async def wait_for(self, text: str, timeout: float = TIMEOUT) -> None:
        async def poll() -> None:
            while text not in self.getvalue():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(poll(), timeout)
        except TimeoutError:
            raise AssertionError(f"{text!r} not seen in:\n{self.getvalue()}") from None


def alive(pid: int) -> bool:
    """Whether ``pid`` exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


def group_members(pgids: Iterable[int]) -> list[int]:
    """Live processes in any of the process groups ``pgids``."""
    wanted = set(pgids)
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != b"Z" and int(fields[2]) in wanted:
                found.append(int(entry.name))
    return found


ScriptFactory = Callable[[str, str], list[str]]
ServiceFactory = Callable[..., tuple[LaunchService, Capture]]
__all__ = ["Capture", "ScriptFactory", "ServiceFactory", "alive", "group_members"]
