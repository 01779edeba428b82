"""The fleet tier (HTTP API, dashboard, scheduler, order store) and the tiers' shared protocol.

The facade names the fleet as a library: :class:`FleetService` (the core, usable without
HTTP), :class:`FleetNode` (it as a node) and :func:`build_app` (its HTTP API); the
``fleet`` executable is :mod:`.main`. What the four tiers share (names, order states, the
JetStream order store) is :mod:`.protocol`, imported directly by the other tiers. Names
are imported on first access, so importing :mod:`.protocol` does not load the HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes._lazy import lazy_attributes

if TYPE_CHECKING:
    from robotfleet_nodes.fleet.http_api import build_app
    from robotfleet_nodes.fleet.service import FleetNode, FleetService

__all__ = ["FleetNode", "FleetService", "build_app"]

__getattr__, __dir__ = lazy_attributes(
    __name__, {"FleetNode": "service", "FleetService": "service", "build_app": "http_api"}
)
