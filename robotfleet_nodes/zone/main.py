"""The ``zone`` executable: one :class:`ZoneNode` from ``ZONE_CONFIG`` (docs/fleet.md)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from robotfleet_nodes.config import ZoneConfig
from robotfleet_nodes.fleet.tier import run_tier
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.runner import nodes_started

__all__ = ["main"]


def _start(config: ZoneConfig, context: Context) -> AbstractAsyncContextManager[None]:
    from robotfleet_nodes.zone.node import ZoneNode

    return nodes_started([ZoneNode(config, context=context)])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the zone the environment describes; returns the exit status."""
    return run_tier("zone", _start, argv)


if __name__ == "__main__":
    sys.exit(main())
