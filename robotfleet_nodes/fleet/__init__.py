"""The fleet tier (HTTP API, dashboard, scheduler, order store) and the tiers' shared protocol.

The facade names the fleet as a library: :class:`FleetService` (the core, usable without
HTTP), :class:`FleetNode` (it as a node), :func:`build_app` (its HTTP API) and the audit
trail's readers (:func:`read_audit`, :func:`follow_audit`, :func:`audit_stream`); the
``fleet`` executable is :mod:`.main`. What the four tiers share (names, order states, the
JetStream order store) is :mod:`.protocol`, imported directly by the other tiers. Names
are imported on first access, so importing :mod:`.protocol` does not load the HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes._lazy import lazy_attributes

if TYPE_CHECKING:
    from robotfleet_nodes.fleet._audit import AUDIT_ACTIONS, audit_stream, follow_audit, read_audit
    from robotfleet_nodes.fleet.http_api import build_app
    from robotfleet_nodes.fleet.service import FleetNode, FleetService

__all__ = [
    "AUDIT_ACTIONS",
    "FleetNode",
    "FleetService",
    "audit_stream",
    "build_app",
    "follow_audit",
    "read_audit",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "AUDIT_ACTIONS": "_audit",
        "FleetNode": "service",
        "FleetService": "service",
        "audit_stream": "_audit",
        "build_app": "http_api",
        "follow_audit": "_audit",
        "read_audit": "_audit",
    },
)
