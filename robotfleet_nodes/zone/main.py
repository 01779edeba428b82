"""The ``zone`` executable: one zone node, configured as the seed describes.

``ZONE_CONFIG`` names the YAML file (defaults without it), ``MESSAGING_URL`` overrides the
broker; ``--ros-args`` are accepted. Runs until SIGINT/SIGTERM; a bad configuration prints
``zone: <message>`` and exits with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from robotfleet_nodes.config import ZoneConfig
from robotfleet_nodes.edge.main import run_tier
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node

__all__ = ["main"]


def _make(config: ZoneConfig, context: Context) -> Node:
    from robotfleet_nodes.zone.node import ZoneNode

    return ZoneNode(config, context=context)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the zone the environment describes; returns the exit status."""
    return run_tier("zone", _make, argv)


if __name__ == "__main__":
    sys.exit(main())
