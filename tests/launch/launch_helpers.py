"""Helpers for launch tests: a capturing stream and process checks (unique module name)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[2]
RFOS = Path(sys.executable).parent / "rfos"


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


def fleet_deployment(out: Path, robots: int, zones: int, *extra: str) -> Path:
    """`rfos fleet gen-config` into ``out`` (secrets included), with quick simulated robots
    (an order finishes in a second)."""
    subprocess.run(
        [
            str(RFOS),
            "fleet",
            "gen-config",
            "--robots",
            str(robots),
            "--zones",
            str(zones),
            "--out",
            str(out),
            *extra,
        ],
        check=True,
        capture_output=True,
    )
    for i in range(1, robots + 1):
        with (out / "edge" / f"robot-{i}.yaml").open("a") as f:
            f.write("sim:\n  speed: 100.0\n  default_work_time_s: 0.2\n")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_fleet(work: Path, deploy: Path, *arguments: str) -> subprocess.Popen[str]:
    """launch/fleet_1000.launch.yaml on ``deploy`` with its state and logs under ``work``,
    no MESSAGING_* from the caller's environment; ``arguments``: more ``name:=value``."""
    env = {**os.environ, "RFOS_LOG_DIR": str(work / "logs")}
    for name in ("MESSAGING_URL", "MESSAGING_CREDS", "MESSAGING_TLS_CA", "RFOS_INSECURE"):
        env.pop(name, None)
    command = [
        str(RFOS),
        "launch",
        str(ROOT / "launch" / "fleet_1000.launch.yaml"),
        f"config_dir:={deploy}",
        f"state_dir:={work / 'nats'}",
        f"journal_dir:={work / 'journal'}",
        *arguments,
    ]
    if not any(a.startswith("mqtt_port:=") for a in arguments):  # never the shared 1883
        command.append(f"mqtt_port:={_free_port()}")
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
    )


def stop_launch(launcher: subprocess.Popen[str]) -> str:
    """SIGINT to the launcher (as Ctrl-C), SIGKILL after 40 s; its output."""
    launcher.send_signal(signal.SIGINT)
    try:
        output, _ = launcher.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        launcher.kill()
        output, _ = launcher.communicate()
    return output
