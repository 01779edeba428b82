"""``LaunchService``: visits a launch description and supervises the processes it starts.

- Processes start in their own process group, with ``PR_SET_PDEATHSIG``; the environment
  is ``os.environ`` + launch-wide ``set_env`` + the action's ``env``.
- Starting is paced (a batch per event-loop turn) so output keeps flowing during a
  1000-process bring-up; progress goes to stderr (redrawn on a tty, every few seconds
  otherwise).
- Exits are noticed through pidfds in the event loop (no task or thread per process);
  events reach only the handlers indexed under their type and target.
- Output: ``[label] line``, batched; ``output="screen"`` shows stdout and stderr,
  ``output="log"`` shows stderr only; everything goes to ``<log_dir>/<label>.log``. With
  more than ``quiet_threshold`` processes only warning/error lines reach the terminal,
  plus a summary every ``summary_interval`` seconds.
- The launch ends on SIGINT/SIGTERM, a ``Shutdown`` action, a ``required`` process exiting,
  or when nothing is left running (no process, respawn or ``TimerAction`` pending).
  Shutdown sends SIGINT to every process group, SIGTERM after ``sigterm_timeout``, SIGKILL
  after ``sigkill_timeout`` more (a process's own ``sigterm_timeout``/``sigkill_timeout``
  replace the launch's), then kills whatever
  is left in the groups. A second SIGINT skips straight to SIGKILL.
- Exit code: 0, or 1 when a ``required`` process exited with a non-zero code or an error
  happened while reacting to an event.
- A spec with ``entry`` (``forkserver: true``) is forked by a fork server started on first
  use (``_forkserver``); when it is unavailable the command is spawned as usual, with a
  warning. It is closed after every process has exited.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from robotfleet_nodes.launch._forkserver import ForkServer, ForkServerError
from robotfleet_nodes.launch._output import OutputWriter, default_log_dir
from robotfleet_nodes.launch._process import ManagedProcess
from robotfleet_nodes.launch.context import LaunchContext
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.events import Event, ProcessExited, ProcessIO, ProcessStarted, ShutdownRequested

if TYPE_CHECKING:
    from robotfleet_nodes.launch.entity import LaunchEntity
    from robotfleet_nodes.launch.event_handlers import EventHandler
    from robotfleet_nodes.launch.launch_description import LaunchDescription
    from robotfleet_nodes.launch.process_spec import ProcessSpec

__all__ = ["LaunchService"]

log = logging.getLogger(__name__)

_Registered = tuple["EventHandler", LaunchContext]

SPAWN_BATCH = 25
TICK = 0.25


class LaunchService:
    """Runs one launch description to completion; ``run()`` returns the exit code."""

    def __init__(
        self,
        description: LaunchDescription,
        *,
        arguments: Mapping[str, str] | None = None,
        source: str | Path | None = None,
        sigterm_timeout: float = 5.0,
        sigkill_timeout: float = 5.0,
        log_dir: str | Path | None = None,
        stream: TextIO | None = None,
        status_stream: TextIO | None = None,
        quiet_threshold: int = 50,
        progress_interval: float = 5.0,
        summary_interval: float = 10.0,
        handle_signals: bool = True,
    ) -> None:
        self.description = description
        self.arguments = dict(arguments or {})
        self.source = source
        self.sigterm_timeout = sigterm_timeout
        self.sigkill_timeout = sigkill_timeout
        self.log_dir = Path(log_dir) if log_dir is not None else default_log_dir()
        self._stream = stream if stream is not None else sys.stdout
        self._status_stream = status_stream if status_stream is not None else sys.stderr
        self.quiet_threshold = quiet_threshold
        self.progress_interval = progress_interval
        self.summary_interval = summary_interval
        self.handle_signals = handle_signals
        self.writer: OutputWriter | None = None
        self.exit_code = 0
        self._processes: list[ManagedProcess] = []
        self._queue: collections.deque[ProcessSpec] = collections.deque()
        self._label_counts: dict[str, int] = {}
        #: event type -> target key (None: any; id(action); a process name) -> handlers
        self._handlers: dict[type[Event], dict[int | str | None, list[_Registered]]] = {}
        self._live = 0
        self._exited = 0
        self._failed = 0
        self._respawns: set[asyncio.TimerHandle] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._spawner: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        #: (ids of processes still running, set when none is) for each shutdown wait
        self._exit_waiters: list[tuple[set[int], asyncio.Event]] = []
        self._shutdown_reason: str | None = None
        self._signal_count = 0
        self._kill_now: asyncio.Event | None = None
        self._last_progress = 0.0
        self._last_summary = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._env_base: dict[str, str] = {}
        self._forkserver: ForkServer | None = None
        self._forkserver_warned = False

    # -- public ---------------------------------------------------------------------------
    @property
    def processes(self) -> list[ManagedProcess]:
        """Every process started so far (a respawned one appears once)."""
        return list(self._processes)

    @property
    def running(self) -> int:
        """How many processes are running now."""
        return self._live

    def run(self) -> int:
        """Run the launch in a new event loop; returns the exit code."""
        return asyncio.run(self.run_async())

    async def run_async(self) -> int:
        """Visit the description, supervise the processes, shut down; returns the exit code."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._kill_now = asyncio.Event()
        # Python children write through pipes: unbuffered, so lines show up as they happen.
        self._env_base = {"PYTHONUNBUFFERED": "1", **os.environ}
        self.writer = OutputWriter(
            stream=self._stream, status_stream=self._status_stream, log_dir=self.log_dir
        )
        installed = self._install_signals() if self.handle_signals else []
        ticker = self._loop.call_later(TICK, self._tick)
        try:
            self.writer.launcher(f"all log files can be found below {self.log_dir}")
            context = LaunchContext(self, arguments=self.arguments, source=self.source)
            try:
                self.description.visit(context)
            except LaunchError:
                self._stop.set()
                raise
            self._check_done()
            await self._stop.wait()
            await self._shutdown_processes()
        finally:
            ticker.cancel()
            for signum in installed:
                self._loop.remove_signal_handler(signum)
            if self._spawner is not None:
                self._spawner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._spawner
            for proc in self._processes:
                proc.close()
            if self._forkserver is not None:
                self._forkserver.close()
            self.writer.close()
        return self.exit_code

    def shutdown(self, reason: str = "shutdown requested") -> None:
        """Ask the launch to end (idempotent)."""
        if self._shutdown_reason is not None or self._stop is None:
            return
        self._shutdown_reason = reason
        self._say(f"shutting down: {reason}", important=True)
        self._emit(ShutdownRequested(reason))
        self._stop.set()

    # -- LaunchSink -------------------------------------------------------------------------
    def execute(self, spec: ProcessSpec) -> None:
        """Queue ``spec`` to be started."""
        if self._shutdown_reason is not None:
            log.debug("not starting %s: shutting down", spec.name)
            return
        self._queue.append(spec)
        if self._spawner is None or self._spawner.done():
            assert self._loop is not None
            self._spawner = self._loop.create_task(self._spawn_queued())

    def log(self, message: str) -> None:
        """Show a ``LogInfo`` message."""
        self._say(message, important=True)

    def register_handler(self, handler: EventHandler, context: LaunchContext) -> None:
        """Index ``handler`` by its event type and target."""
        target = handler.target
        key = target if target is None or isinstance(target, str) else id(target)
        by_target = self._handlers.setdefault(handler.event_type, {})
        by_target.setdefault(key, []).append((handler, context))

    def schedule(self, delay: float, entities: Sequence[LaunchEntity], context: LaunchContext) -> None:
        """Visit ``entities`` in ``context`` after ``delay`` seconds, unless shutting down by then."""
        if self._shutdown_reason is not None:
            return
        assert self._loop is not None
        box: list[asyncio.TimerHandle] = []
        box.append(self._loop.call_later(delay, self._timer_fired, entities, context, box))
        self._timers.add(box[0])

    def _timer_fired(
        self, entities: Sequence[LaunchEntity], context: LaunchContext, box: list[asyncio.TimerHandle]
    ) -> None:
        self._timers.discard(box[0])
        if self._shutdown_reason is None:
            try:
                context.visit(entities)
            except LaunchError as exc:
                self._say(f"timer action failed: {exc}", level="ERROR")
                self.exit_code = 1
                self.shutdown("error in a timer action")
        self._check_done()

    # -- starting ---------------------------------------------------------------------------
    async def _spawn_queued(self) -> None:
        started = 0
        began = time.monotonic()
        while self._queue and self._shutdown_reason is None:
            spec = self._queue.popleft()
            count = self._label_counts.get(spec.name, 0) + 1
            self._label_counts[spec.name] = count
            proc = ManagedProcess(spec, f"{spec.name}-{count}")
            self._processes.append(proc)
            self._start(proc)
            started += 1
            if started % SPAWN_BATCH == 0:
                await asyncio.sleep(0)
        if started > self.quiet_threshold and self.writer is not None:
            self._last_summary = time.monotonic()
            self.writer.status(
                f"launched {started} processes in {self._last_summary - began:.1f} s, {self._exited} exited"
            )
        self._check_done()

    def _start(self, proc: ManagedProcess) -> None:
        assert self._loop is not None and self.writer is not None
        env = self._env_base if not proc.spec.env else {**self._env_base, **proc.spec.env}
        try:
            forkserver = self._fork_server(proc.spec) if proc.spec.entry is not None else None
            try:
                proc.start(self._loop, env, self._on_line, self._on_exit, forkserver=forkserver)
            except ForkServerError as exc:
                self._forkserver_unavailable(str(exc))
                proc.start(self._loop, env, self._on_line, self._on_exit)
        except OSError as exc:
            self._say(f"cannot start {proc.label} ({' '.join(proc.spec.cmd)}): {exc}", level="ERROR")
            self._failed += 1
            if proc.spec.required:
                self.exit_code = 1
                self.shutdown(f"required process {proc.label} could not start")
            return
        self._live += 1
        if len(self._processes) + len(self._queue) > self.quiet_threshold and not self.writer.quiet:
            self.writer.quiet = True
            self._say(
                f"more than {self.quiet_threshold} processes: only warnings and errors are shown here, "
                f"all output is in {self.log_dir}",
                important=True,
            )
        self._say(f"process started with pid [{proc.pid}]: {proc.label}")
        self._emit(ProcessStarted(proc.spec.action, proc.label, proc.pid), proc)

    def _fork_server(self, spec: ProcessSpec) -> ForkServer | None:
        """The fork server, started on first use; None when it cannot serve."""
        assert self._loop is not None
        if self._forkserver is None:
            entries = [spec.entry, *(s.entry for s in self._queue)]
            preload = sorted({e.partition(":")[0] for e in entries if e})
            server = ForkServer(log_path=self.log_dir / "zygote.log", preload=preload)
            self._forkserver = server
            try:
                server.start(self._loop, self._env_base)
            except OSError as exc:
                server.broken = f"cannot start the fork server: {exc}"
            else:
                server.on_lost(self._fork_server_lost)
                self._say(f"fork server started with pid [{server.pid}]")
        if self._forkserver.broken is not None:
            self._forkserver_unavailable(self._forkserver.broken)
            return None
        return self._forkserver

    def _forkserver_unavailable(self, reason: str) -> None:
        if not self._forkserver_warned and self._shutdown_reason is None:
            self._forkserver_warned = True
            self._say(f"fork server unavailable ({reason}): starting processes normally", level="WARN")

    def _fork_server_lost(self) -> None:
        assert self._forkserver is not None
        self._forkserver_unavailable(self._forkserver.broken or "lost")
        self._forkserver.take_waiters()
        for proc in self._processes:
            proc.orphaned()

    def _respawn(self, proc: ManagedProcess, handle_box: list[asyncio.TimerHandle]) -> None:
        self._respawns.discard(handle_box[0])
        if self._shutdown_reason is None:
            proc.close()
            proc.restarts += 1
            self._start(proc)
        self._check_done()

    # -- running ----------------------------------------------------------------------------
    def _on_line(self, proc: ManagedProcess, text: str, is_stderr: bool) -> None:
        assert self.writer is not None
        self.writer.line(proc.label, text, to_screen=is_stderr or proc.spec.output == "screen")
        if ProcessIO in self._handlers:
            self._emit(ProcessIO(proc.spec.action, proc.label, proc.pid, text, is_stderr), proc)

    def _on_exit(self, proc: ManagedProcess) -> None:
        assert self._loop is not None
        code = proc.returncode if proc.returncode is not None else 0
        self._live -= 1
        self._exited += 1
        shutting_down = self._shutdown_reason is not None
        if code != 0 and not shutting_down:
            self._failed += 1
            self._say(f"process has died [pid {proc.pid}, exit code {code}]: {proc.label}", level="ERROR")
        else:
            self._say(f"process has finished [pid {proc.pid}, exit code {code}]: {proc.label}")
        self._emit(ProcessExited(proc.spec.action, proc.label, proc.pid, code), proc)
        spec = proc.spec
        if not shutting_down:
            if spec.required:
                if code != 0:
                    self.exit_code = 1
                self.shutdown(f"required process {proc.label} exited with code {code}")
            elif spec.respawn and (spec.respawn_max_retries < 0 or proc.restarts < spec.respawn_max_retries):
                box: list[asyncio.TimerHandle] = []
                box.append(self._loop.call_later(spec.respawn_delay, self._respawn, proc, box))
                self._respawns.add(box[0])
            elif spec.respawn:
                self._say(f"{proc.label}: giving up after {proc.restarts} restarts", level="WARN")
        for remaining, done in self._exit_waiters:
            remaining.discard(id(proc))
            if not remaining:
                done.set()
        self._check_done()

    def _check_done(self) -> None:
        if self._shutdown_reason is not None or self._stop is None:
            return
        spawning = self._spawner is not None and not self._spawner.done() and bool(self._queue)
        idle = not self._queue and not self._respawns and not self._timers and not spawning
        if self._live == 0 and idle:
            self.shutdown("all processes exited")

    def _emit(self, event: Event, proc: ManagedProcess | None = None) -> None:
        by_target = self._handlers.get(type(event))
        if not by_target:
            return
        matched = list(by_target.get(None, ()))
        if proc is not None:
            matched += by_target.get(id(proc.spec.action), ())
            matched += by_target.get(proc.spec.name, ())
            if proc.label != proc.spec.name:
                matched += by_target.get(proc.label, ())
        for handler, context in matched:
            try:
                context.visit(handler.entities(event, context))
            except LaunchError as exc:
                self._say(f"event handler failed: {exc}", level="ERROR")
                self.exit_code = 1
                self.shutdown("error in an event handler")

    def _say(self, message: str, *, level: str = "INFO", important: bool = False) -> None:
        if self.writer is not None:
            self.writer.launcher(message, level=level, important=important)

    # -- progress ---------------------------------------------------------------------------
    def _tick(self) -> None:
        assert self._loop is not None and self.writer is not None
        self._loop.call_later(TICK, self._tick)
        now = time.monotonic()
        total = len(self._processes) + len(self._queue)
        bringing_up = bool(self._queue) and self._shutdown_reason is None
        interval = TICK if self.writer.status_is_tty else self.progress_interval
        if bringing_up:
            if now - self._last_progress >= interval:
                self._last_progress = now
                launched = len(self._processes)
                self.writer.status(f"launched {launched}/{total} processes, {self._exited} exited")
        elif self.writer.quiet and now - self._last_summary >= self.summary_interval:
            self._last_summary = now
            restarts = sum(p.restarts for p in self._processes)
            self.writer.status(
                f"running {self._live}/{len(self._processes)} processes, {self._exited} exits "
                f"({self._failed} failed), {restarts} respawns"
            )

    # -- stopping ---------------------------------------------------------------------------
    def _install_signals(self) -> list[int]:
        assert self._loop is not None
        installed: list[int] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._loop.add_signal_handler(signum, self._on_signal, signum)
            except (ValueError, RuntimeError):  # not the main thread
                continue
            installed.append(signum)
        return installed

    def _on_signal(self, signum: int) -> None:
        self._signal_count += 1
        if self._signal_count > 1 and self._kill_now is not None:
            self._say("second signal: killing every process now", level="WARN")
            self._kill_now.set()
        self.shutdown(f"signal {signal.Signals(signum).name}")

    async def _wait_exited(self, procs: list[ManagedProcess], timeout: float) -> bool:
        """Wait until every one of ``procs`` exited (True), ``timeout`` passed or a second signal."""
        assert self._kill_now is not None
        remaining = {id(p) for p in procs if p.running}
        if not remaining:
            return True
        done = asyncio.Event()
        waiter = (remaining, done)
        self._exit_waiters.append(waiter)
        waits = [asyncio.ensure_future(done.wait()), asyncio.ensure_future(self._kill_now.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            self._exit_waiters.remove(waiter)
        return not any(p.running for p in procs)

    async def _shutdown_processes(self) -> None:
        self._queue.clear()
        for handle in (*self._respawns, *self._timers):
            handle.cancel()
        self._respawns.clear()
        self._timers.clear()
        # Processes with their own sigterm_timeout / sigkill_timeout escalate on their own clock.
        groups: dict[tuple[float, float], list[ManagedProcess]] = {}
        for proc in self._processes:
            if proc.running:
                spec = proc.spec
                term = self.sigterm_timeout if spec.sigterm_timeout is None else spec.sigterm_timeout
                kill = self.sigkill_timeout if spec.sigkill_timeout is None else spec.sigkill_timeout
                groups.setdefault((term, kill), []).append(proc)
        await asyncio.gather(*(self._stop_group(procs, term, kill) for (term, kill), procs in groups.items()))
        self._sweep_groups()

    async def _stop_group(
        self, procs: list[ManagedProcess], sigterm_timeout: float, sigkill_timeout: float
    ) -> None:
        """SIGINT, SIGTERM after ``sigterm_timeout``, SIGKILL after ``sigkill_timeout`` more."""
        steps = (
            (signal.SIGINT, sigterm_timeout),
            (signal.SIGTERM, sigkill_timeout),
            (signal.SIGKILL, 5.0),
        )
        for signum, timeout in steps:
            live = [p for p in procs if p.running]
            if not live:
                return
            if signum != signal.SIGINT:
                self._say(f"{len(live)} processes still running: sending {signum.name}", level="WARN")
            for proc in live:
                proc.signal_group(signum)
            if await self._wait_exited(live, timeout):
                return
            if self._kill_now is not None and self._kill_now.is_set() and signum != signal.SIGKILL:
                for proc in procs:
                    if proc.running:
                        proc.signal_group(signal.SIGKILL)

    def _sweep_groups(self) -> None:
        """Kill processes left in our process groups after their leaders exited (grandchildren)."""
        groups = {p.pid for p in self._processes if p.started}
        if not groups:
            return
        leftovers: set[int] = set()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2 :].split()
            if len(fields) > 2 and int(fields[2]) in groups:
                leftovers.add(int(fields[2]))
        for pgid in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        if leftovers:
            self._say(f"killed what was left in {len(leftovers)} process groups", level="WARN")
