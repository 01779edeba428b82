"""The shared body of the four tier executables (``fleet``, ``area``, ``zone``, ``edge``).

Each tier's ``main`` names its config kind and says how to start; :func:`run_tier` loads
the config (``<KIND>_CONFIG`` and the seed's environment overrides), sets up logging,
connects to ``messaging.broker`` (waiting for it as ``RFOS_CONNECT_WAIT`` says), runs
until SIGINT/SIGTERM and maps failures to exit codes: 0 after a signal, 2 for a bad
configuration (``<kind>: <message>``), 1 when it cannot start (no broker, port taken),
130 for a second Ctrl-C during shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from robotfleet_nodes.config import load_config
from robotfleet_nodes.errors import ConfigError, RobotFleetError
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.runner import serve

__all__ = ["EXIT_CONFIG", "EXIT_START", "Starter", "run_tier"]

#: Exit status for a bad configuration (as argparse uses for bad usage).
EXIT_CONFIG = 2
#: Exit status when the broker cannot be reached or the tier fails to start.
EXIT_START = 1

#: ``starter(config, context)``: an async context manager that brings the tier up on entry
#: and takes it down on exit (``nodes_started([...])`` for tiers that are just nodes).
Starter = Callable[[Any, Context], AbstractAsyncContextManager[Any]]


async def _run(config: Any, starter: Starter, args: Sequence[str]) -> None:
    async with Context(url=config.messaging.broker, args=args) as context:
        await serve(context, starter(config, context))


def run_tier(kind: str, starter: Starter, argv: Sequence[str] | None = None) -> int:
    """Run tier ``kind`` until a signal; returns the exit status (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config: Any = load_config(kind)
    except ConfigError as exc:
        print(f"{kind}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s [%(levelname)s] [%(name)s]: %(message)s", force=True
    )
    try:
        asyncio.run(_run(config, starter, args))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:  # e.g. a bad --ros-args parameter file
        print(f"{kind}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (RobotFleetError, OSError) as exc:
        print(f"{kind}: cannot start: {exc}", file=sys.stderr)
        return EXIT_START
    return 0
