"""The local broker's supervisor: ``python -m robotfleet_nodes._local_broker_supervisor``.

Started by :class:`robotfleet_nodes._local_broker.LocalBroker`, never by hand. It forks:
the parent waits until the child's nats-server is ready (or failed), reports that with its
exit status, and exits; the child, in a session of its own with its output in
``broker.log``, runs nats-server (JetStream on, loopback only, monitoring on a free
loopback port) and asks its ``/connz`` once a second how many clients are connected. After
``--idle`` seconds without any it takes the state directory's lock (a program that found
the broker and is still connecting holds it), checks once more, and stops. SIGTERM stops
it at once. nats-server dies with it (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType

from robotfleet_nodes._local_broker import HOST, LOCK_FILE, LOG_FILE, STATE_FILE, FileLock, LocalBrokerState
from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.errors import RobotFleetError

__all__ = ["client_count", "main"]

log = logging.getLogger("robotfleet_nodes.local_broker")

#: Seconds between two looks at the client count (shorter for short idle timeouts).
_POLL_S = 1.0
# Loopback monitoring must not go through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def client_count(monitor_url: str, timeout: float = 2.0) -> int | None:
    """Clients connected to the server (its ``/connz``), ``None`` if it did not answer."""
    try:
        with _OPENER.open(f"{monitor_url}/connz?limit=1", timeout=timeout) as response:
            return int(json.load(response)["num_connections"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m robotfleet_nodes._local_broker_supervisor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=float, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--starter", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Fork; the parent returns 0 once the child's server is ready, else 1 with the reason."""
    args = _parse(argv)
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            report = pipe.read().decode("utf-8", "replace")
        if report == "ready":
            return 0
        print(report or "the supervisor died while starting nats-server", file=sys.stderr)
        return 1
    os.close(read_end)
    _detach(args.dir / LOG_FILE)
    try:
        return _supervise(args, write_end)
    except Exception as exc:  # the starter must hear about any failure
        log.exception("local broker supervisor failed")
        with contextlib.suppress(OSError):
            os.write(write_end, str(exc).encode())
        return 1


def _detach(log_path: Path) -> None:
    """Point stdin/stdout/stderr away from the starter's pipes (it waits for them to close)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(log_fd, 2)
    os.close(devnull)
    os.close(log_fd)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr, force=True
    )


def _supervise(args: argparse.Namespace, ready_fd: int) -> int:
    directory: Path = args.dir
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    broker = EmbeddedBroker(host=HOST, port=args.port, store_dir=directory / "jetstream", monitor_port=-1)
    try:
        broker.start()
    except RobotFleetError as exc:
        os.write(ready_fd, str(exc).encode())
        os.close(ready_fd)
        return 1
    monitor = broker.monitor_url
    if monitor is None or broker.pid is None:
        raise RuntimeError("nats-server started without its monitoring port")
    state = LocalBrokerState(
        url=broker.url, pid=os.getpid(), server_pid=broker.pid, starter_pid=args.starter, idle_s=args.idle
    )
    state.write(directory)
    log.info(
        "local broker at %s (nats-server pid %d, monitor %s); exits %g s after its last client",
        broker.url,
        broker.pid,
        monitor,
        args.idle,
    )
    os.write(ready_fd, b"ready")
    os.close(ready_fd)
    try:
        _watch(broker, monitor, args.idle, directory, stop)
    finally:
        broker.stop()
        current = LocalBrokerState.read(directory)
        if current is not None and current.pid == os.getpid():
            with contextlib.suppress(OSError):
                (directory / STATE_FILE).unlink()
        log.info("local broker stopped")
    return 0


def _watch(
    broker: EmbeddedBroker, monitor: str, idle_s: float, directory: Path, stop: threading.Event
) -> None:
    """Return when asked to stop, when the server died, or after ``idle_s`` without clients."""
    poll = min(_POLL_S, max(0.1, idle_s / 4))
    lock = FileLock(directory / LOCK_FILE)
    idle_since: float | None = None
    while not stop.wait(poll):
        if not broker.running:
            log.error("nats-server exited unexpectedly")
            return
        count = client_count(monitor)
        if count is None or count > 0:
            idle_since = None
            continue
        now = time.monotonic()
        idle_since = now if idle_since is None else idle_since
        if now - idle_since < idle_s:
            continue
        if not lock.acquire(0):  # a program found us and is connecting
            continue
        if client_count(monitor) == 0:  # stop() runs in the caller, still under the lock
            log.info("no client for %g s: stopping", idle_s)
            broker.stop()
            return
        lock.release()
        idle_since = None


if __name__ == "__main__":
    sys.exit(main())
