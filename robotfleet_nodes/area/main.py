"""The ``area`` executable: one :class:`AreaNode` from ``AREA_CONFIG`` (docs/fleet.md)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from robotfleet_nodes.config import AreaConfig
from robotfleet_nodes.fleet.tier import run_tier
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.runner import nodes_started

__all__ = ["main"]


def _start(config: AreaConfig, context: Context) -> AbstractAsyncContextManager[None]:
    from robotfleet_nodes.area.node import AreaNode

    return nodes_started([AreaNode(config, context=context)])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the area the environment describes; returns the exit status."""
    return run_tier("area", _start, argv)


if __name__ == "__main__":
    sys.exit(main())
