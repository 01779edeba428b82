"""Fixtures of the security tests: a generated secured deployment and a real nats-server
started from its ``secrets/nats-server.conf`` (one per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from secured_server import SecuredServer

from robotfleet_nodes.config.generate import generate_deployment


def make_deployment(out: Path, *, robots: int = 20, zones: int = 2) -> Path:
    """A secured deployment: robot-1..10 in zone-1, robot-11..20 in zone-2, area-1."""
    generate_deployment(out, robots=robots, zones=zones, areas=1)
    return out


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deployment directory of 20 robots in 2 zones with its secrets/ (per module)."""
    return make_deployment(tmp_path_factory.mktemp("deploy") / "20")


@pytest.fixture(scope="module")
def server(deployment: Path) -> Iterator[SecuredServer]:
    """nats-server started from the deployment's generated configuration."""
    srv = SecuredServer(deployment / "secrets" / "nats-server.conf")
    srv.start()
    try:
        yield srv
    finally:
        srv.close()
