"""A NATS cluster on this machine: several ``nats-server`` children routed to each other.

:class:`EmbeddedCluster` (re-exported by :mod:`robotfleet_nodes.broker`) is what tests and
benchmarks use to run the fleet on a 3-node JetStream cluster without any set-up; ``rfos
launch ... nats_cluster:=3`` starts the same topology from ``rfos broker`` processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from robotfleet_nodes.errors import BrokerError

if TYPE_CHECKING:  # broker.py re-exports this module's class: import it at run time only
    from robotfleet_nodes.broker import EmbeddedBroker

__all__ = ["EmbeddedCluster"]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedCluster:
    """``size`` (default 3) nats-servers with JetStream, clustered on ``host`` (loopback).

    Each server is an :class:`EmbeddedBroker` named ``nats-1`` .. ``nats-<size>``, with its
    own store directory under ``store_dir`` (a temporary directory unless given), a route
    port picked free at construction and routes to every peer. :meth:`start` returns once
    every server is ready and knows the JetStream meta leader (read from the servers'
    logs), so streams and buckets can be created at once. ``config_file`` /
    ``cluster_config``: a secured deployment's ``nats-server.conf`` and
    ``nats-cluster.conf`` (route TLS), given to every server.

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
    ) -> None:
        from robotfleet_nodes.broker import DEFAULT_CLUSTER_NAME, EmbeddedBroker

        if size < 1:
            raise BrokerError(f"a cluster needs at least one server, got size={size}")
        #: The cluster's name (``rfos`` unless given).
        self.name = name or DEFAULT_CLUSTER_NAME
        self._root = Path(store_dir) if store_dir is not None else None
        self._owns_root = store_dir is None
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="rfos-cluster-"))
        route_ports = [_free_port(host) for _ in range(size)]
        routes = tuple(f"nats-route://{host}:{port}" for port in route_ports)
        #: The servers, ``nats-1`` first.
        self.servers: list[EmbeddedBroker] = [
            EmbeddedBroker(
                host=host,
                port=_free_port(host),
                store_dir=self._root / f"nats-{i + 1}",
                server_name=f"nats-{i + 1}",
                config_file=config_file,
                cluster_port=route_ports[i],
                cluster_name=self.name,
                routes=routes,
                cluster_config=cluster_config,
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        """The client URL of every server (``nats://127.0.0.1:<port>``), ``nats-1`` first."""
        return [server.url for server in self.servers]

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
        """Stop every server and remove a temporary store."""
        for server in self.servers:
            server.stop()
        if self._owns_root and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> EmbeddedCluster:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedCluster:
        import asyncio

        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)
