"""The ``fleet`` executable: FleetService + HTTP API + dashboard from ``FLEET_CONFIG``."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from robotfleet_nodes.config import FleetConfig, load_config
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.node import Context
from robotfleet_nodes.node.runner import freeze_startup_objects

__all__ = ["STATIC_DIR", "main", "run_fleet"]

log = logging.getLogger(__name__)

#: Where the dashboard's files live (index.html, app.js, app.css).
STATIC_DIR = Path(__file__).resolve().parent / "static"


async def run_fleet(config: FleetConfig, *, args: Sequence[str] = ()) -> None:
    """Run the fleet service and its HTTP server until SIGINT/SIGTERM."""
    from robotfleet_nodes.fleet.http_api import build_app
    from robotfleet_nodes.fleet.service import FleetService
    from robotfleet_nodes.web import HttpServer

    loop = asyncio.get_running_loop()
    async with Context(url=config.messaging.broker, args=args) as context:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, context.shutdown)
        service = FleetService(config, context)
        try:
            await service.start()
            app = build_app(service, static_dir=STATIC_DIR)
            async with HttpServer(app, config.http.host, config.http.port, metrics=service.metrics):
                shown = "localhost" if config.http.host in ("0.0.0.0", "::", "") else config.http.host
                log.info("dashboard at http://%s:%d/", shown, config.http.port)
                freeze_startup_objects()
                await context.wait_for_shutdown()
        finally:
            await service.stop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on SIGINT/SIGTERM, 2 on a configuration error."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = load_config("fleet")
    except ConfigError as exc:
        sys.stderr.write(f"fleet: {exc}\n")
        return 2
    logging.basicConfig(level=config.log_level, format="[%(levelname)s] [%(name)s]: %(message)s")
    try:
        asyncio.run(run_fleet(config, args=args))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # e.g. the HTTP port is taken
        sys.stderr.write(f"fleet: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
