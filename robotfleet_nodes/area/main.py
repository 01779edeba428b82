"""The ``area`` executable: one :class:`AreaNode` from ``AREA_CONFIG`` (docs/fleet.md)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from robotfleet_nodes.config import AreaConfig, load_config
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.node import Context

__all__ = ["main", "run_area"]

log = logging.getLogger(__name__)


async def run_area(config: AreaConfig, *, args: Sequence[str] = ()) -> None:
    """Run the area node on ``config.messaging.broker`` until SIGINT/SIGTERM."""
    from robotfleet_nodes.area.node import AreaNode

    loop = asyncio.get_running_loop()
    async with Context(url=config.messaging.broker, args=args) as context:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, context.shutdown)
        try:
            await AreaNode(config, context=context).start()
            await context.wait_for_shutdown()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on SIGINT/SIGTERM, 2 on a configuration error."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = load_config("area")
    except ConfigError as exc:
        sys.stderr.write(f"area: {exc}\n")
        return 2
    logging.basicConfig(level=config.log_level, format="[%(levelname)s] [%(name)s]: %(message)s")
    try:
        asyncio.run(run_area(config, args=args))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
