"""``ManagedProcess``: one started process, its output pipes and its exit notification.

No task per process: the pipes and a pidfd are registered with the event loop's selector
(``loop.add_reader``), so 1000 processes cost 3000 file descriptors and no threads. The
child runs in its own session/process group (signals reach its children too) and gets
``PR_SET_PDEATHSIG`` = SIGKILL, so it never outlives the launcher.

The death signal is set by ``setpriv --pdeathsig KILL`` (util-linux) when it is installed:
a ``preexec_fn`` would force ``fork()`` instead of ``vfork()``, which costs ~13 ms per
process for a 200 MB launcher against ~2 ms through ``setpriv`` (measured).

With ``emulate_tty`` the child's stdout and stderr are pseudo-terminals (read the same way).

A spec with ``entry`` set is forked by the fork server (``_forkserver``/``_zygote``) when
one is given: same pipes, same process group handling; its exit code comes from the
zygote's notification (the launcher is not its parent), and if the zygote dies the pidfd
tells when the child (killed by its death signal) is gone.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from robotfleet_nodes.launch.process_spec import ProcessSpec

if TYPE_CHECKING:
    from robotfleet_nodes.launch._forkserver import ForkServer

__all__ = ["DEATHSIG_PREFIX", "ManagedProcess", "die_with_parent"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_READ_SIZE = 65536

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """``PR_SET_PDEATHSIG`` = SIGKILL for the calling process (a ``preexec_fn``)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_SETPRIV = shutil.which("setpriv")
#: Prepended to every command so the child gets SIGKILL when the launcher dies.
DEATHSIG_PREFIX: list[str] = [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV else []

LineSink = Callable[["ManagedProcess", str, bool], None]


class ManagedProcess:
    """A running (or finished) process of one :class:`ProcessSpec`."""

    def __init__(self, spec: ProcessSpec, label: str) -> None:
        self.spec = spec
        self.label = label
        self.popen: subprocess.Popen[bytes] | None = None
        self.forked = False
        self._pid: int | None = None
        self.returncode: int | None = None
        self.restarts = 0
        self._fds: dict[int, bytearray] = {}
        self._fd_is_stderr: dict[int, bool] = {}
        self._pidfd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_line: LineSink | None = None
        self._on_exit: Callable[[ManagedProcess], None] | None = None

    @property
    def pid(self) -> int:
        """The OS process id (also its process group id)."""
        if self._pid is None:
            raise RuntimeError(f"{self.label} was never started")
        return self._pid

    @property
    def started(self) -> bool:
        """Whether it was ever started."""
        return self._pid is not None

    @property
    def running(self) -> bool:
        """Started and not yet reaped."""
        return self._pid is not None and self.returncode is None

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        env: Mapping[str, str],
        on_line: LineSink,
        on_exit: Callable[[ManagedProcess], None],
        *,
        forkserver: ForkServer | None = None,
    ) -> None:
        """Start the process and register its pipes and exit with ``loop``.

        With ``forkserver`` (and ``spec.entry`` set) the fork server forks it; its errors
        (:class:`~robotfleet_nodes.launch._forkserver.ForkServerError`) propagate.
        """
        self._loop, self._on_line, self._on_exit = loop, on_line, on_exit
        self.returncode = None
        # emulate_tty: a pseudo-terminal each (the child's isatty() is true); reading the
        # master side ends with EIO once every copy of the slave side is closed, like EOF.
        channel = os.openpty if self.spec.emulate_tty else os.pipe
        out_r, out_w = channel()
        err_r, err_w = channel()
        fork = forkserver is not None and self.spec.entry is not None
        try:
            if fork:
                assert forkserver is not None and self.spec.entry is not None
                self._pid = forkserver.fork(
                    self.spec.entry,
                    self.spec.entry_argv,
                    env=env,
                    cwd=self.spec.cwd,
                    fds=(out_w, err_w),
                    on_exit=self._forked_exit,
                )
                self.popen, self.forked = None, True
            else:
                self.popen = self._popen(env, out_w, err_w)
                self._pid, self.forked = self.popen.pid, False
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        for fd, is_err in ((out_r, False), (err_r, True)):
            os.set_blocking(fd, False)
            self._fds[fd] = bytearray()
            self._fd_is_stderr[fd] = is_err
            loop.add_reader(fd, self._read, fd)
        if not fork:
            self._watch_pidfd()

    def _popen(self, env: Mapping[str, str], out_w: int, err_w: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*DEATHSIG_PREFIX, *self.spec.cmd],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            env=dict(env),
            cwd=self.spec.cwd,
            start_new_session=True,
            preexec_fn=None if DEATHSIG_PREFIX else die_with_parent,  # noqa: PLW1509 - one prctl
        )

    def _watch_pidfd(self) -> None:
        assert self._pid is not None and self._loop is not None
        try:
            self._pidfd = os.pidfd_open(self._pid)
        except (AttributeError, OSError):  # pragma: no cover - kernel < 5.3, or already gone
            self._pidfd = None
        if self._pidfd is not None:
            self._loop.add_reader(self._pidfd, self._reap)

    def orphaned(self) -> None:
        """The fork server died: its children die with it; finish when this one is gone."""
        if not (self.forked and self.running):
            return
        self._watch_pidfd()
        if self._pidfd is None:  # already gone
            self._forked_exit(-signal.SIGKILL)

    def _forked_exit(self, code: int) -> None:
        if not self.running:
            return
        self._finish(code)

    def poll(self) -> bool:
        """Reap the process if it has exited (used when pidfds are unavailable)."""
        if self.running and not self.forked:
            self._reap()
        return not self.running

    def _reap(self) -> None:
        if self.forked:  # only watched after the zygote died: killed by the death signal
            self._forked_exit(-signal.SIGKILL)
            return
        assert self.popen is not None
        code = self.popen.poll()
        if code is None:
            return
        self._finish(code)

    def _finish(self, code: int) -> None:
        assert self._loop is not None
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        for fd in list(self._fds):  # take what the process wrote before it died
            self._read(fd)
        self.returncode = code
        if self._on_exit is not None:
            self._on_exit(self)

    def _read(self, fd: int) -> None:
        buffer = self._fds.get(fd)
        if buffer is None:
            return
        while True:
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self._close_fd(fd)
                return
            buffer += data
            if len(data) < _READ_SIZE:
                break
        self._emit_lines(fd, buffer)

    def _emit_lines(self, fd: int, buffer: bytearray, *, final: bool = False) -> None:
        assert self._on_line is not None
        end = buffer.rfind(b"\n")
        if final and buffer:
            end = len(buffer)
        if end < 0:
            return
        chunk = bytes(buffer[:end])
        del buffer[: end + 1]
        is_err = self._fd_is_stderr[fd]
        for raw in chunk.split(b"\n"):
            self._on_line(self, raw.decode("utf-8", "replace").rstrip("\r"), is_err)

    def _close_fd(self, fd: int) -> None:
        buffer = self._fds.pop(fd)
        self._emit_lines(fd, buffer, final=True)
        self._fd_is_stderr.pop(fd, None)
        if self._loop is not None:
            self._loop.remove_reader(fd)
        os.close(fd)

    def close(self) -> None:
        """Stop watching: close the pipes (a grandchild may still hold them) and the pidfd."""
        for fd in list(self._fds):
            self._close_fd(fd)
        if self._pidfd is not None and self._loop is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def signal_group(self, signum: int) -> bool:
        """Send ``signum`` to the process group; False if it is gone."""
        if self._pid is None:
            return False
        try:
            os.killpg(self._pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True
