"""The fork server ("zygote"): ``python -m robotfleet_nodes.launch._zygote --fd N``.

One Python process that imports the heavy modules once (pydantic, nats-py, the package,
the generated message classes), runs each entry module's warm-up, freezes everything out of
the garbage collector's sight and then forks a child per request, so 1000 processes share
those pages copy-on-write instead of each importing its own (~34 MB PSS per ``edge``
process otherwise).

Warm-up: an entry module may define ``zygote_warm_up()`` (:data:`WARM_UP_HOOK`), called
once after the import. It should run the program's start-up path for real (``edge`` runs a
throwaway edge against a private nats-server for 1.5 s), so what every child would build
lazily and write into (message classes, validators, codecs, client and event-loop
internals, quickened bytecode) is built here once. It must leave no thread, socket or
event loop behind; the zygote restores signal handlers and the wakeup fd after it. The
code objects the first run called are then packed together (:func:`pack_code`) and the
hook runs once more to quicken the copies. ``docs/launch.md`` ("Fork server") has the
measurements.

Protocol on the inherited ``SOCK_SEQPACKET`` socket ``N`` (one JSON object per message):

- request (launcher -> zygote): ``{"id", "entry": "module:function", "argv", "env", "cwd"}``
  with the child's stdout and stderr pipe write ends as ``SCM_RIGHTS`` file descriptors;
- reply: ``{"id", "pid"}`` or ``{"id", "error"}``;
- notification: ``{"exit": pid, "code": returncode}`` (``Popen`` convention: ``-signum``
  when killed) once the zygote has reaped the child.

Lifetime: the zygote has ``PR_SET_PDEATHSIG`` = SIGKILL on the launcher (set before exec
by the launcher) and each child has it on the zygote, so killing the launcher takes the
zygote and with it every child. The zygote exits when the launcher closes the socket.
A child runs in its own session (its pid is its process group), with its own environment,
working directory, default signal dispositions, and ``os._exit(main(argv))``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib
import io
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import CodeType, FrameType, FunctionType
from typing import Any

__all__ = ["WARM_UP_HOOK", "main", "pack_code", "preload", "run_entry"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
MAX_MESSAGE = 1 << 20
#: The entry module's function the zygote calls once after importing it (see the docstring).
WARM_UP_HOOK = "zygote_warm_up"
#: Code objects replaced by :func:`pack_code`, kept alive.
_ORIGINAL_CODE: list[CodeType] = []


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def _run_hook(module: Any, hook: Callable[[], Any], profile: Callable[..., Any] | None = None) -> bool:
    """Call ``hook`` (under ``profile``) and undo what it may leave in this process; whether it succeeded."""
    handlers = {
        signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)
    }
    wakeup_fd = signal.set_wakeup_fd(-1)  # an event loop takes it and resets it to -1 on close
    sys.setprofile(profile)
    try:
        status = hook()
    finally:
        sys.setprofile(None)
        signal.set_wakeup_fd(wakeup_fd)
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)
    if threading.active_count() > 1:
        log.warning(
            "zygote: %s.%s left threads running: %s", module.__name__, WARM_UP_HOOK, threading.enumerate()
        )
    if status not in (None, 0):
        log.warning("zygote: %s.%s failed with status %s", module.__name__, WARM_UP_HOOK, status)
        return False
    return True


def pack_code(ran: Mapping[int, CodeType]) -> int:
    """Give each function whose code object is in ``ran`` (by ``id``) a fresh copy of it.

    Every code object a child runs is written by the child (reference count, warm-up
    counter, quickened bytecode and its inline caches), copying its memory page. After the
    imports, the few hundred code objects one program runs are scattered over as many pages
    among the tens of thousands that it never runs; copied one after another they share a
    fraction of the pages (about 1 MiB less private memory per forked edge). The originals
    are kept alive: freeing them would leave holes that children fill. Returns the number
    of copies.
    """
    copies: dict[int, CodeType] = {}

    def copy(code: CodeType) -> CodeType:
        new = copies.get(id(code))
        if new is None:
            consts = tuple(copy(c) if isinstance(c, CodeType) and id(c) in ran else c for c in code.co_consts)
            new = copies[id(code)] = code.replace(co_consts=consts)
        return new

    gc.unfreeze()  # gc.get_objects() does not list frozen objects; preload() freezes again
    for obj in gc.get_objects():
        if isinstance(obj, FunctionType) and id(obj.__code__) in ran:
            obj.__code__ = copy(obj.__code__)
    _ORIGINAL_CODE.extend(ran.values())
    return len(copies)


def _warm_up(module: Any) -> None:
    """Run ``module``'s warm-up hook, pack the code it ran (:func:`pack_code`), run it again.

    The second run quickens the packed copies and refills the call sites' caches here,
    rather than in every child.
    """
    hook = getattr(module, WARM_UP_HOOK, None)
    if not callable(hook):
        return
    ran: dict[int, CodeType] = {}

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            ran[id(frame.f_code)] = frame.f_code

    if not _run_hook(module, hook, profile):
        return
    packed = pack_code(ran)
    _run_hook(module, hook)
    log.info("zygote: warmed up %s (%d code objects packed)", module.__name__, packed)


def preload(modules: Sequence[str]) -> None:
    """Import ``modules`` and run their warm-ups, then freeze every object made so far.

    No ``gc.collect()`` first (the collector is disabled in the zygote): collecting would
    leave free slots in the shared memory pools, which every child then fills with its own
    objects, copying those pages (the ``gc.freeze`` documentation's advice).
    """
    for module in modules:
        if module in sys.modules:
            continue
        try:
            _warm_up(importlib.import_module(module))
        except Exception:  # the child will import it again and report the error
            log.warning("zygote: cannot preload or warm up %s", module, exc_info=True)
    gc.freeze()


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_entry(entry: str, argv: Sequence[str]) -> int:
    """Call ``entry`` (``module:function``) with ``argv``; its exit status."""
    sys.argv = [entry.partition(":")[0], *argv]
    try:
        result = _resolve(entry)(list(argv))
    except SystemExit as exc:
        result = exc.code
    except KeyboardInterrupt:
        return 130
    except BaseException:
        traceback.print_exc()
        return 1
    if result is None:
        return 0
    if isinstance(result, int):
        return result & 0xFF
    print(result, file=sys.stderr)
    return 1


def _text_stream(fd: int, errors: str) -> io.TextIOWrapper:
    """An unbuffered text stream on ``fd`` (lines reach the launcher as they are written)."""
    raw = open(fd, "wb", buffering=0, closefd=False)  # noqa: SIM115 - lives as long as the process
    return io.TextIOWrapper(raw, encoding="utf-8", errors=errors, line_buffering=True, write_through=True)


def _child(request: dict[str, Any], fds: list[int], closing: Sequence[int], zygote: int) -> None:
    """Runs in the forked child: never returns."""
    code = 1
    try:
        os.setsid()
        _die_with_parent()
        if os.getppid() != zygote:  # the zygote died before prctl
            os._exit(137)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.set_wakeup_fd(-1)
        gc.enable()
        for fd in closing:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = _text_stream(1, "strict")
        sys.stderr = _text_stream(2, "backslashreplace")
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        if request.get("cwd"):
            os.chdir(request["cwd"])
        logging.getLogger().handlers.clear()
        code = run_entry(str(request["entry"]), [str(a) for a in request.get("argv") or []])
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _check_fds(fds: list[int]) -> None:
    if len(fds) != 2:
        raise ValueError(f"expected 2 file descriptors (stdout, stderr), got {len(fds)}")


class Zygote:
    """The serving loop: fork on request, reap on SIGCHLD, report exits."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: set[int] = set()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def _send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message).encode())

    def serve(self) -> None:
        """Serve until the launcher closes the socket."""
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher decides when we stop
        try:
            while True:
                ready, _, _ = select.select([self.sock.fileno(), self._wake_r], [], [])
                if self._wake_r in ready:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                self._reap()
                if self.sock.fileno() in ready and not self._handle():
                    return
        finally:
            self._reap()

    def _handle(self) -> bool:
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, 4)
        except InterruptedError:
            return True
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        request: dict[str, Any] = {}
        try:
            request = json.loads(data)
            _check_fds(fds)
            module = str(request["entry"]).partition(":")[0]
            if module not in sys.modules:  # later children share it
                preload([module])
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request, fds, (self.sock.fileno(), self._wake_r, self._wake_w), os.getppid())
            self.children.add(pid)
            self._send({"id": request.get("id"), "pid": pid})
        except Exception as exc:
            self._send({"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"})
        finally:
            for fd in fds:
                os.close(fd)
        return True

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)
            with contextlib.suppress(OSError):
                self._send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: preload, tell the launcher we are ready, serve."""
    parser = argparse.ArgumentParser(prog="python -m " + __name__)
    parser.add_argument("--fd", type=int, required=True, help="the inherited SOCK_SEQPACKET socket")
    parser.add_argument("--parent", type=int, default=0, help="exit at once if this is not our parent")
    parser.add_argument("--preload", action="append", default=[], help="module to import before serving")
    gc.disable()  # see preload()
    ns = parser.parse_args(argv)
    _die_with_parent()
    if ns.parent and os.getppid() != ns.parent:
        return 1
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [zygote]: %(message)s")
    sock = socket.socket(fileno=ns.fd)
    sock.setblocking(True)
    preload(ns.preload)
    zygote = Zygote(sock)
    zygote._send({"ready": os.getpid()})
    zygote.serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
