"""The ``fleet`` executable: FleetService + HTTP API + dashboard from ``FLEET_CONFIG``."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from robotfleet_nodes.config import FleetConfig
from robotfleet_nodes.fleet.tier import run_tier
from robotfleet_nodes.node.context import Context

__all__ = ["STATIC_DIR", "fleet_started", "main"]

log = logging.getLogger(__name__)

#: Where the dashboard's files live (index.html, app.js, app.css).
STATIC_DIR = Path(__file__).resolve().parent / "static"


@asynccontextmanager
async def fleet_started(config: FleetConfig, context: Context) -> AsyncIterator[None]:
    """The fleet service and its HTTP server (API + dashboard), up while inside."""
    from robotfleet_nodes.fleet.http_api import build_app
    from robotfleet_nodes.fleet.service import FleetService
    from robotfleet_nodes.web import HttpPortInUse, HttpServer

    service = FleetService(config, context)
    try:
        await service.start()
        app = build_app(service, static_dir=STATIC_DIR)
        server = HttpServer(app, config.http.host, config.http.port, metrics=service.metrics)
        try:
            await server.start()
        except HttpPortInUse as exc:
            raise HttpPortInUse(f"{exc} (http.port in FLEET_CONFIG, or FLEET_HTTP_PORT)") from None
        try:
            wildcard = config.http.host in ("0.0.0.0", "::", "")
            if not service.http_url and not wildcard:  # what the leader lease advertises
                scheme = "https" if app.tls is not None else "http"
                service.http_url = f"{scheme}://{config.http.host}:{server.port}"
            shown = "localhost" if wildcard else config.http.host
            log.info("dashboard at http://%s:%d/", shown, server.port)
            yield
        finally:
            await server.stop()
    finally:
        await service.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fleet the environment describes; returns the exit status."""
    return run_tier("fleet", fleet_started, argv)


if __name__ == "__main__":
    sys.exit(main())
