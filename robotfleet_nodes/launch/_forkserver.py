"""The launcher's side of the fork server (see ``_zygote``): start it, ask it to fork, hear exits.

:class:`ForkServer` starts ``python -m robotfleet_nodes.launch._zygote`` once, lazily, with
one end of a ``SOCK_SEQPACKET`` socketpair. :meth:`ForkServer.fork` is a synchronous
request/reply (a fork of a frozen ~40 MB process takes a few milliseconds); exit
notifications arrive on the same socket and are dispatched from the event loop. When the
zygote cannot start or dies, :attr:`ForkServer.broken` is set and callers spawn normally.

:func:`fork_entry` maps a command to the Python callable the zygote can run instead:
a console script of this venv through its ``console_scripts`` entry point, an executable of
an ament prefix (``<prefix>/lib/<pkg>/<exec>``, as ``ros2 run`` finds it) written as a
console-script wrapper for this interpreter (``from M import F`` ... ``sys.exit(F())``, what
pip and ``scripts/install_ament_package.py`` write), or ``python -m module`` to
``module:main``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ForkServer", "ForkServerError", "fork_entry"]

log = logging.getLogger(__name__)

MAX_MESSAGE = 1 << 20
#: How long the first request may wait for the zygote's imports and warm-ups (~5 s for ``edge``).
READY_TIMEOUT = 60.0
#: How long a fork request may take.
REPLY_TIMEOUT = 10.0

ExitCallback = Callable[[int], None]


class ForkServerError(OSError):
    """The fork server cannot serve (not started, died, or refused a request)."""


def fork_entry(cmd: Sequence[str]) -> tuple[str, list[str]] | None:
    """``(module:function, argv)`` running ``cmd`` in-process, or None if it is no Python entry."""
    if not cmd:
        return None
    if len(cmd) >= 3 and cmd[0] == sys.executable and cmd[1] == "-m":
        return f"{cmd[2]}:main", list(cmd[3:])
    script = Path(cmd[0])
    if script.parent == Path(sys.executable).parent:
        for ep in importlib.metadata.entry_points(group="console_scripts", name=script.name):
            if ":" in ep.value:
                return ep.value.replace(" ", ""), list(cmd[1:])
    if script.parent.parent.name == "lib":
        entry = _wrapper_entry(script)
        if entry is not None:
            return entry, list(cmd[1:])
    return None


_WRAPPER_IMPORT = re.compile(r"^from ([\w.]+) import (\w+)$", re.MULTILINE)
_WRAPPER_MAX = 4096


def _wrapper_entry(script: Path) -> str | None:
    """``module:function`` of a console-script wrapper for this environment's Python, else None."""
    try:
        with script.open("rb") as handle:
            text = handle.read(_WRAPPER_MAX + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    shebang = text.partition("\n")[0]
    if len(text) > _WRAPPER_MAX or not shebang.startswith("#!/"):
        return None
    if Path(shebang[2:].strip()).parent != Path(sys.executable).parent:  # another environment
        return None
    match = _WRAPPER_IMPORT.search(text)
    if match is None or f"sys.exit({match.group(2)}())" not in text:
        return None
    return f"{match.group(1)}:{match.group(2)}"


class ForkServer:
    """One zygote process and the socket to it."""

    def __init__(self, *, log_path: Path | None = None, preload: Sequence[str] = ()) -> None:
        self.log_path = log_path
        self.preload = list(preload)
        self.popen: subprocess.Popen[bytes] | None = None
        self.broken: str | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = False
        self._next_id = 0
        self._waiters: dict[int, ExitCallback] = {}
        self._early_exits: dict[int, int] = {}
        self._on_lost: list[Callable[[], None]] = []

    @property
    def pid(self) -> int | None:
        """The zygote's pid, once started."""
        return None if self.popen is None else self.popen.pid

    def start(self, loop: asyncio.AbstractEventLoop, env: Mapping[str, str]) -> None:
        """Start the zygote (it imports in the background; the first fork waits for it)."""
        from robotfleet_nodes.launch._process import DEATHSIG_PREFIX, die_with_parent

        self._loop = loop
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd = [sys.executable, "-m", "robotfleet_nodes.launch._zygote", "--fd", str(theirs.fileno())]
        cmd += ["--parent", str(os.getpid())]
        for module in self.preload:
            cmd += ["--preload", module]
        stderr: Any = subprocess.DEVNULL
        if self.log_path is not None:
            stderr = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.popen = subprocess.Popen(
                [*DEATHSIG_PREFIX, *cmd],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env=dict(env),
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                preexec_fn=None if DEATHSIG_PREFIX else die_with_parent,  # noqa: PLW1509
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
            if stderr is not subprocess.DEVNULL:
                stderr.close()
        self._sock = ours
        log.debug("fork server started, pid %d", self.popen.pid)

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once if the zygote goes away while we still use it."""
        self._on_lost.append(callback)

    # -- requests ---------------------------------------------------------------------------
    def fork(
        self,
        entry: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | None,
        fds: tuple[int, int],
        on_exit: ExitCallback,
    ) -> int:
        """Fork a child running ``entry(argv)``; its pid. ``on_exit(code)`` is called once it is reaped."""
        if self.broken is not None or self._sock is None:
            raise ForkServerError(self.broken or "fork server not started")
        sock = self._sock
        if not self._ready:
            message = self._receive(READY_TIMEOUT)
            if "ready" not in message:
                self._lose(f"unexpected first message {message!r}")
                raise ForkServerError(self.broken or "")
            self._ready = True
            assert self._loop is not None
            self._loop.add_reader(sock.fileno(), self._read_notifications)
        self._next_id += 1
        request = {"id": self._next_id, "entry": entry, "argv": list(argv), "env": dict(env), "cwd": cwd}
        try:
            socket.send_fds(sock, [json.dumps(request).encode()], list(fds))
        except OSError as exc:
            self._lose(f"cannot send to the fork server: {exc}")
            raise ForkServerError(self.broken or "") from exc
        while True:
            message = self._receive(REPLY_TIMEOUT)
            if message.get("id") == self._next_id:
                break
            self._dispatch(message)
        if "error" in message:
            raise ForkServerError(f"fork server: {message['error']}")
        pid = int(message["pid"])
        code = self._early_exits.pop(pid, None)
        if code is not None:
            asyncio.get_running_loop().call_soon(on_exit, code)
        else:
            self._waiters[pid] = on_exit
        return pid

    def _receive(self, timeout: float) -> dict[str, Any]:
        """One message, blocking up to ``timeout`` seconds (the socket stays blocking)."""
        assert self._sock is not None
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(MAX_MESSAGE)
        except (TimeoutError, OSError) as exc:
            self._lose(f"no answer from the fork server: {exc or type(exc).__name__}")
            raise ForkServerError(self.broken or "") from exc
        finally:
            if self._sock is not None:
                self._sock.setblocking(True)
        if not data:
            self._lose("the fork server exited")
            raise ForkServerError(self.broken or "")
        result: dict[str, Any] = json.loads(data)
        return result

    # -- notifications ----------------------------------------------------------------------
    def _read_notifications(self) -> None:
        if self._sock is None:
            return
        while True:
            try:
                data = self._sock.recv(MAX_MESSAGE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except OSError as exc:
                self._lose(f"fork server socket failed: {exc}")
                return
            if not data:
                self._lose("the fork server exited")
                return
            self._dispatch(json.loads(data))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "exit" not in message:
            log.debug("fork server: ignoring %r", message)
            return
        pid, code = int(message["exit"]), int(message["code"])
        callback = self._waiters.pop(pid, None)
        if callback is None:
            self._early_exits[pid] = code
        else:
            callback(code)

    def _lose(self, reason: str) -> None:
        if self.broken is None:
            self.broken = reason
            log.warning("%s", reason)
        self._close_socket()
        callbacks, self._on_lost = self._on_lost, []
        for callback in callbacks:
            callback()

    def take_waiters(self) -> dict[int, ExitCallback]:
        """The exit callbacks of children not yet reported (after the zygote was lost)."""
        waiters, self._waiters = self._waiters, {}
        return waiters

    # -- stopping ---------------------------------------------------------------------------
    def _close_socket(self) -> None:
        if self._sock is not None:
            if self._loop is not None and self._ready:
                with contextlib.suppress(ValueError, RuntimeError):
                    self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def close(self, timeout: float = 5.0) -> None:
        """Close the socket (the zygote exits on EOF); kill the zygote if it lingers."""
        self.broken = self.broken or "closed"
        self._on_lost.clear()
        self._close_socket()
        if self.popen is not None:
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.popen.pid, 9)
                self.popen.wait()
