"""One supervised OS process of the chaos benchmark: start, kill -9, SIGSTOP/SIGCONT, restart.

Its output (stdout and stderr together) is read by a thread that stamps every line with the
wall-clock time it arrived, appends ``<time> <line>`` to the process's log file, hands the
line to an optional callback, and notes the first line containing ``up_pattern`` after each
(re)start: the moment the process said it is up.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["TierProcess", "edge_container_cmd"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child before exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class TierProcess:
    """A tier process the benchmark starts, hurts and restarts; ``robots``: the robots it hosts."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        up_pattern: str | None = None,
        robots: Sequence[str] = (),
        on_line: Callable[[float, str], None] | None = None,
    ) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.env = dict(env)
        self.log_path = log_path
        self.up_pattern = up_pattern
        self.robots = list(robots)
        self.on_line = on_line
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.up_at: float | None = None
        self._up = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The running process's id."""
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        """Start (or start again) the process."""
        self.up_at = None
        self._up.clear()
        self.started_at = time.time()
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only calls prctl
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), name=self.name, daemon=True)
        self._reader.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with open(self.log_path, "a", encoding="utf-8", buffering=1) as out:
            out.write(f"{time.time():.3f} ==== started: {' '.join(self.cmd)[:300]}\n")
            for raw in proc.stdout:
                t = time.time()
                line = raw.decode("utf-8", "replace").rstrip()
                out.write(f"{t:.3f} {line}\n")
                if self.up_pattern and self.up_at is None and self.up_pattern in line:
                    self.up_at = t
                    self._up.set()
                if self.on_line is not None:
                    self.on_line(t, line)
            out.write(f"{time.time():.3f} ==== exited: {proc.wait()}\n")

    def wait_up(self, timeout: float) -> float | None:
        """The time the process logged ``up_pattern`` (waiting up to ``timeout``); None if not."""
        self._up.wait(timeout)
        return self.up_at

    def signal(self, sig: signal.Signals) -> float:
        """Send ``sig``; the time it was sent."""
        assert self.proc is not None
        t = time.time()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        return t

    def kill9(self) -> float:
        """kill -9 and reap; the time of the kill."""
        t = self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait()
        if self._reader is not None:
            self._reader.join(5.0)
        return t

    def alive(self) -> bool:
        """Whether the process is running (or stopped), not exited."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGCONT + SIGINT, then SIGKILL after ``timeout``: the end of the run."""
        if not self.alive():
            return
        assert self.proc is not None
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
        if self._reader is not None:
            self._reader.join(5.0)


def edge_container_cmd(name: str, configs: Sequence[Path]) -> list[str]:
    """The command of one container process composing an ``EdgeComponent`` per edge config
    (as ``launch/fleet_1000.launch.yaml`` composes them with ``edges:=composed``); it logs
    "components loaded" once they are up."""
    spec = {
        "name": name,
        "namespace": "/edges",
        "components": [
            {
                "plugin": "robotfleet_nodes.edge.component:EdgeComponent",
                "name": "",
                "namespace": "",
                "remap_rules": [],
                "parameters": {"config": str(config)},
                "params_files": [],
            }
            for config in configs
        ],
    }
    return [sys.executable, "-m", "robotfleet_nodes.launch._container_main", "--spec", json.dumps(spec)]
