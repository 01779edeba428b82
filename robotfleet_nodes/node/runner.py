"""Running nodes as programs: ``run_nodes(...)`` is what a node executable's ``main`` calls.

It parses ``--ros-args`` from the command line, starts a :class:`Context` (embedded broker
when ``MESSAGING_URL`` is unset), starts the nodes, and waits for SIGINT/SIGTERM; then it
destroys the nodes and closes the context, so a Ctrl-C always ends cleanly with exit 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.node.context import Context

if TYPE_CHECKING:
    from robotfleet_nodes.node.node import Node

__all__ = ["freeze_startup_objects", "nodes_started", "run_nodes", "serve", "spin_nodes"]

log = logging.getLogger(__name__)

NodeFactory = Callable[[Context], "Node"]


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
    try:
        asyncio.run(spin_nodes(factories, args=args))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130
    return 0
