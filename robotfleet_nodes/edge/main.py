"""The ``edge`` executable: one robot's edge node, configured as the seed describes.

``EDGE_CONFIG`` names the YAML file (defaults without it), ``EDGE_ROBOT_ID`` /
``EDGE_ZONE_ID`` / ``MESSAGING_URL`` override it; ``--ros-args`` are accepted. Runs until
SIGINT/SIGTERM; a bad configuration prints ``edge: <message>`` and exits with status 2.

:func:`run_tier` is the shared body of the tiers' executables (the zone's uses it too).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from robotfleet_nodes.config import EdgeConfig, load_config
from robotfleet_nodes.errors import ConfigError, RobotFleetError
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.runner import freeze_startup_objects

__all__ = ["main", "run_tier"]

log = logging.getLogger(__name__)

#: Exit status for a bad configuration (as argparse uses for bad usage).
EXIT_CONFIG = 2
#: Exit status when the broker cannot be reached or the node fails to start.
EXIT_START = 1


async def _spin(config: Any, make: Callable[[Any, Context], Node], args: Sequence[str]) -> None:
    loop = asyncio.get_running_loop()
    async with Context(url=config.messaging.broker, args=args) as context:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, context.shutdown)
        try:
            await make(config, context).start()
            freeze_startup_objects()
            await context.wait_for_shutdown()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)


def run_tier(
    kind: str,
    make: Callable[[Any, Context], Node],
    argv: Sequence[str] | None = None,
) -> int:
    """Load ``kind``'s config, set up logging, run the node ``make`` builds until a signal.

    Returns the exit status: 0 after SIGINT/SIGTERM, 2 for a bad configuration (printed as
    ``<kind>: <message>``), 1 when the node cannot start (e.g. no broker), 130 for a second
    Ctrl-C during shutdown.
    """
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
        asyncio.run(_spin(config, make, args))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:  # e.g. a bad --ros-args parameter file
        print(f"{kind}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (RobotFleetError, OSError) as exc:
        print(f"{kind}: cannot start: {exc}", file=sys.stderr)
        return EXIT_START
    return 0


def _make(config: EdgeConfig, context: Context) -> Node:
    from robotfleet_nodes.edge.node import EdgeNode

    return EdgeNode(config, context=context)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the edge the environment describes; returns the exit status."""
    return run_tier("edge", _make, argv)


if __name__ == "__main__":
    sys.exit(main())
