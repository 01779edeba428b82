"""The local broker: one nats-server per user and port that programs without ``MESSAGING_URL`` share.

ROS 2 programs started in two terminals find each other with no configuration; ours do so
through this broker. The first program to need it starts it **detached** (a supervisor
process, :mod:`robotfleet_nodes._local_broker_supervisor`, running nats-server with
JetStream on ``127.0.0.1:$RFOS_LOCAL_PORT``); it outlives that program and exits by itself
``$RFOS_LOCAL_IDLE_S`` seconds (60) after its last client left. Later programs connect to
it. ``ROS_DOMAIN_ID`` still separates programs: every subject carries the domain.

Check-then-start runs under an exclusive file lock in the broker's state directory
(``$RFOS_STATE_DIR/local-broker-<port>``, else ``~/.local/state/robotfleet/local-broker-<port>``),
so two programs starting at once end with one broker. A program keeps the lock until it
is connected, and the supervisor takes it before stopping an idle broker, so a broker is
never stopped between a program finding it and connecting to it.

``RFOS_LOCAL_PORT=0`` opts out: each program then starts a private embedded nats-server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from robotfleet_nodes.errors import BrokerError, ConfigError

__all__ = [
    "DEFAULT_IDLE_S",
    "DEFAULT_PORT",
    "ENV_IDLE",
    "ENV_PORT",
    "HOST",
    "FileLock",
    "LocalBroker",
    "LocalBrokerState",
    "idle_seconds",
    "local_port",
    "state_dir",
]

log = logging.getLogger(__name__)

#: The port of the local broker; ``0`` = a private embedded broker per program.
ENV_PORT = "RFOS_LOCAL_PORT"
#: Seconds the local broker stays up after its last client left.
ENV_IDLE = "RFOS_LOCAL_IDLE_S"
#: The user's state directory (shared with the edge journal).
ENV_STATE = "RFOS_STATE_DIR"
DEFAULT_PORT = 4222
DEFAULT_IDLE_S = 60.0
#: The local broker listens on loopback only.
HOST = "127.0.0.1"

STATE_FILE = "broker.json"
LOCK_FILE = "lock"
LOG_FILE = "broker.log"
SUPERVISOR_MODULE = "robotfleet_nodes._local_broker_supervisor"


def local_port(environ: Mapping[str, str] | None = None) -> int:
    """``RFOS_LOCAL_PORT`` (default 4222); ``0`` means a private embedded broker."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_PORT, "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(
            f"{ENV_PORT}={raw!r}: expected a TCP port (1-65535; 0 = a private broker per program)"
        )
    return port


def idle_seconds(environ: Mapping[str, str] | None = None) -> float:
    """``RFOS_LOCAL_IDLE_S`` (default 60): how long the local broker outlives its last client."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_IDLE, "").strip()
    if not raw:
        return DEFAULT_IDLE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"{ENV_IDLE}={raw!r}: expected a number of seconds >= 0")
    return value


def state_dir(port: int, environ: Mapping[str, str] | None = None) -> Path:
    """The local broker's directory: lock, state file, log and JetStream store."""
    env = os.environ if environ is None else environ
    root = env.get(ENV_STATE)
    base = Path(root).expanduser() if root else Path.home() / ".local" / "state" / "robotfleet"
    return base / f"local-broker-{port}"


@dataclass(frozen=True, slots=True)
class LocalBrokerState:
    """What the supervisor writes to ``broker.json`` once its server is ready."""

    url: str
    pid: int  #: the supervisor's pid (SIGTERM stops the broker)
    server_pid: int  #: nats-server's pid
    starter_pid: int  #: the program that started it
    idle_s: float

    @classmethod
    def read(cls, directory: Path) -> LocalBrokerState | None:
        """The state in ``directory``, or ``None`` when there is none (or it is unreadable)."""
        try:
            raw = json.loads((directory / STATE_FILE).read_text())
            return cls(
                url=str(raw["url"]),
                pid=int(raw["pid"]),
                server_pid=int(raw["server_pid"]),
                starter_pid=int(raw["starter_pid"]),
                idle_s=float(raw["idle_s"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, directory: Path) -> None:
        """Write atomically (a reader never sees half a file)."""
        tmp = directory / f".{STATE_FILE}.{os.getpid()}"
        tmp.write_text(
            json.dumps(
                {
                    "url": self.url,
                    "pid": self.pid,
                    "server_pid": self.server_pid,
                    "starter_pid": self.starter_pid,
                    "idle_s": self.idle_s,
                }
            )
        )
        tmp.replace(directory / STATE_FILE)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


class FileLock:
    """An exclusive ``flock`` on a file, taken with a timeout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock; ``False`` if ``timeout`` passed first (``0``: try once)."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.02)
                continue
            self._fd = fd
            return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class LocalBroker:
    """Finds the local broker on ``port``, starting it when none runs.

    :meth:`acquire` takes the state directory's lock and returns the URL with the lock
    still held; call :meth:`release` once connected (or on failure), so the supervisor
    cannot stop an idle broker in between.
    """

    def __init__(self, port: int, *, idle_s: float | None = None, directory: Path | None = None) -> None:
        if port <= 0:
            raise ConfigError(f"the local broker needs a port > 0 (got {port})")
        self.port = port
        self.idle_s = idle_seconds() if idle_s is None else idle_s
        self.directory = directory if directory is not None else state_dir(port)
        self.url = f"nats://{HOST}:{port}"
        self.state: LocalBrokerState | None = None  #: ``None``: a server we did not start runs there
        self.started_here = False
        self._lock: FileLock | None = None

    def acquire(self, timeout: float = 30.0) -> str:
        """Find or start the broker (under the lock, which stays held); return its URL."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = FileLock(self.directory / LOCK_FILE)
        if not lock.acquire(timeout):
            raise BrokerError(
                f"the local broker's lock {lock.path} stayed taken for {timeout:.0f} s: a program "
                f"hangs while starting or connecting; stop it, or set MESSAGING_URL "
                f"(or {ENV_PORT}=0 for a private broker)"
            )
        self._lock = lock
        try:
            self._find_or_start(timeout)
        except BaseException:
            self.release()
            raise
        return self.url

    def release(self) -> None:
        """Let others (and the idle supervisor) take the lock; idempotent."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def describe(self) -> str:
        """One line for the log: which broker this is and how long it lives."""
        state = self.state
        if state is None:
            return (
                f"the local broker port {self.url} is served by a nats-server robotfleet did not "
                f"start (e.g. `rfos broker`): using it"
            )
        starter = "this program" if self.started_here else f"pid {state.starter_pid}"
        return (
            f"the local broker at {self.url} (started by {starter}, supervised by pid {state.pid}; "
            f"exits {state.idle_s:g} s after its last client)"
        )

    def _find_or_start(self, timeout: float) -> None:
        state = LocalBrokerState.read(self.directory)
        if state is not None and not _alive(state.pid):
            state = None
        if _listening(self.port):
            self.state = state
            return
        if state is not None:  # a supervisor whose server died: it is on its way out
            log.debug("local broker supervisor %d has no server; starting another", state.pid)
        self._start(timeout)

    def _start(self, timeout: float) -> None:
        cmd = [
            sys.executable,
            "-m",
            SUPERVISOR_MODULE,
            "--port",
            str(self.port),
            "--idle",
            repr(self.idle_s),
            "--dir",
            str(self.directory),
            "--starter",
            str(os.getpid()),
        ]
        log.debug("starting the local broker: %s", " ".join(cmd))
        # The launcher forks the supervisor, waits until its server is ready (or failed),
        # and exits: the supervisor is nobody's child and in a session of its own.
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BrokerError(
                f"the local broker did not start within {timeout:.0f} s "
                f"(its log: {self.directory / LOG_FILE})"
            ) from None
        message = done.stderr.decode("utf-8", "replace").strip()
        if done.returncode != 0:
            raise BrokerError(
                f"the local broker on {self.url} did not start: {message or 'no reason given'} "
                f"(its log: {self.directory / LOG_FILE}; set {ENV_PORT} to another port, "
                f"{ENV_PORT}=0 for a private broker, or MESSAGING_URL)"
            )
        self.state = LocalBrokerState.read(self.directory)
        if self.state is None:
            raise BrokerError(f"the local broker started but wrote no {self.directory / STATE_FILE}")
        self.started_here = True
