"""The ``edge`` executable: one robot's edge node, configured as the seed describes.

``EDGE_CONFIG`` names the YAML file (defaults without it), ``EDGE_ROBOT_ID`` /
``EDGE_ZONE_ID`` / ``MESSAGING_URL`` override it; ``--ros-args`` are accepted. Runs until
SIGINT/SIGTERM; a bad configuration prints ``edge: <message>`` and exits with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.fleet.tier import run_tier
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.runner import nodes_started

__all__ = ["main"]


def _start(config: EdgeConfig, context: Context) -> AbstractAsyncContextManager[None]:
    from robotfleet_nodes.edge.node import EdgeNode

    return nodes_started([EdgeNode(config, context=context)])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the edge the environment describes; returns the exit status."""
    return run_tier("edge", _start, argv)


if __name__ == "__main__":
    sys.exit(main())
