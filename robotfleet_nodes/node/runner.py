"""Running nodes as programs: ``run_nodes(...)`` is what a node executable's ``main`` calls.

It parses ``--ros-args`` from the command line, starts a :class:`Context` (the local broker
when ``MESSAGING_URL`` is unset), starts the nodes, and waits for SIGINT/SIGTERM; then it
destroys the nodes and closes the context, so a Ctrl-C always ends cleanly with exit 0.
A program that cannot start (no broker, a bad parameter file) says why in one line on
stderr and exits non-zero (:func:`run_main`), without a traceback.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.errors import ConfigError, RobotFleetError
from robotfleet_nodes.node.context import Context

if TYPE_CHECKING:
    from robotfleet_nodes.node.node import Node

__all__ = [
    "EXIT_CONFIG",
    "EXIT_INTERRUPTED",
    "EXIT_START",
    "freeze_startup_objects",
    "nodes_started",
    "one_line",
    "run_main",
    "run_nodes",
    "serve",
    "spin_nodes",
]

log = logging.getLogger(__name__)

NodeFactory = Callable[[Context], "Node"]

#: Exit status for a bad configuration (as argparse uses for bad usage).
EXIT_CONFIG = 2
#: Exit status when the program cannot start: no broker, JetStream off, a port taken.
EXIT_START = 1
#: Exit status after a second Ctrl-C during shutdown.
EXIT_INTERRUPTED = 130


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (a server's log tail, a YAML excerpt: joined by spaces)."""
    return re.sub(r"\s*\n\s*", " ", str(exc).strip()) or type(exc).__name__


def run_main(
    prog: str,
    main: Coroutine[Any, Any, None],
    *,
    start_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Run ``main`` (a program's whole life) and return its exit status.

    0 when it returns (after SIGINT/SIGTERM); :data:`EXIT_CONFIG` with ``<prog>: <message>``
    on stderr for a :class:`~robotfleet_nodes.errors.ConfigError`; :data:`EXIT_START` with
    ``<prog>: cannot start: <message>`` for any other ``RobotFleetError``, an ``OSError``
    (a port taken) or one of ``start_errors``; :data:`EXIT_INTERRUPTED` for a second Ctrl-C.
    These are the operator's to fix and the message says how, so there is no traceback;
    it is logged at DEBUG. (:func:`serve` returns only after a signal, so whatever
    propagates here was raised while starting or stopping.)
    """
    failures: tuple[type[BaseException], ...] = (RobotFleetError, OSError, *start_errors)
    try:
        asyncio.run(main)
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return EXIT_INTERRUPTED
    except ConfigError as exc:  # e.g. a bad --ros-args parameter file
        log.debug("%s: bad configuration", prog, exc_info=True)
        print(f"{prog}: {one_line(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    except failures as exc:
        log.debug("%s: failed to start", prog, exc_info=True)
        print(f"{prog}: cannot start: {one_line(exc)}", file=sys.stderr)
        return EXIT_START
    return 0


def freeze_startup_objects() -> None:
    """Move everything built at start-up out of the garbage collector's sight.

    A tier holds thousands of long-lived objects (nodes, endpoints, generated classes);
    every full collection would walk them all: measured pauses of ~0.5 s with 1000 edges in
    one process. ``gc.freeze()`` keeps them out of collections; garbage made later is
    collected as usual, less often. No collection first when the collector is disabled (a
    fork server's zygote warming up: freed garbage would leave holes its children fill).
    """
    if gc.isenabled():
        gc.collect()
    gc.freeze()
    # Young-generation collections every 50,000 allocations instead of 700: a busy tier
    # allocates per message, and at 200 work orders/s the default thresholds spent ~28%
    # of a core in collections (measured with benchmarks/workorders.py); ~75 MiB more.
    gc.set_threshold(50_000, 20, 10)


async def serve(context: Context, started: AbstractAsyncContextManager[Any]) -> None:
    """Enter ``started`` (the start-up), then run until SIGINT/SIGTERM; leave it on the way out.

    The one body every executable shares: node programs, containers and the fleet tiers.
    Start-up objects are frozen for the garbage collector once everything is up.
    """
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, context.shutdown)
    try:
        async with started:
            freeze_startup_objects()
            await context.wait_for_shutdown()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


@asynccontextmanager
async def nodes_started(nodes: Sequence[Node]) -> AsyncIterator[None]:
    """Start ``nodes`` in order; the context destroys them when it closes."""
    for node in nodes:
        await node.start()
    yield


async def spin_nodes(factories: Sequence[NodeFactory], *, args: Sequence[str] = ()) -> None:
    """Start one node per factory in a shared context and run until SIGINT/SIGTERM."""
    async with Context(args=args) as context:
        await serve(context, nodes_started([factory(context) for factory in factories]))


def run_nodes(*factories: NodeFactory, argv: Sequence[str] | None = None) -> int:
    """Blocking entry point for a node executable; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    args = list(sys.argv[1:] if argv is None else argv)
    prog = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "node"
    return run_main(prog, spin_nodes(factories, args=args))
