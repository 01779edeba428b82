"""The ``edge`` executable: one robot's edge node, configured as the seed describes.

``EDGE_CONFIG`` names the YAML file (defaults without it), ``EDGE_ROBOT_ID`` /
``EDGE_ZONE_ID`` / ``MESSAGING_URL`` override it; ``--ros-args`` are accepted. Runs until
SIGINT/SIGTERM; a bad configuration prints ``edge: <message>`` and exits with status 2.

:func:`zygote_warm_up` is the fork server's hook (``docs/launch.md``, "Fork server").
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from robotfleet_nodes.config import CONFIG_ENV_VARS, ENV_OVERRIDES, EdgeConfig
from robotfleet_nodes.fleet.tier import run_tier
from robotfleet_nodes.node.context import CONNECT_WAIT_ENV, Context
from robotfleet_nodes.node.runner import nodes_started

__all__ = ["WARM_UP_SECONDS", "main", "zygote_warm_up"]

log = logging.getLogger(__name__)

#: How long the fork server's throwaway edge runs: several driver steps and status messages.
WARM_UP_SECONDS = 1.5
_WARM_UP_CONFIG = "robot_id: zygote-warm-up\nzone_id: zygote-warm-up\n"


def _start(config: EdgeConfig, context: Context) -> AbstractAsyncContextManager[None]:
    from robotfleet_nodes.edge.node import EdgeNode

    return nodes_started([EdgeNode(config, context=context)])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the edge the environment describes; returns the exit status."""
    return run_tier("edge", _start, argv)


def zygote_warm_up(seconds: float = WARM_UP_SECONDS) -> int:
    """Run one throwaway edge through :func:`main`'s whole path, then stop it; its exit status.

    The fork server calls this before it forks edges, so the lazily built state every edge
    needs (message classes, pydantic validators and serializers, codecs, nats-py and asyncio
    internals, quickened bytecode) is made once in the zygote and shared copy-on-write,
    instead of being built and written in each child (with the zygote's code packing, 13.5 ->
    8 MiB PSS per forked edge with 1000 of them).
    The edge talks to a private nats-server without JetStream that is stopped afterwards, so
    nothing of the fleet sees it, and keeps its journal in a temporary directory; environment
    and logging are restored; no thread (the journal writer's ends with the edge), socket or
    event loop is left behind.
    """
    from robotfleet_nodes.broker import EmbeddedBroker
    from robotfleet_nodes.edge import _journal_writer

    saved_env = dict(os.environ)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level

    def start(config: EdgeConfig, context: Context) -> AbstractAsyncContextManager[None]:
        asyncio.get_running_loop().call_later(seconds, context.shutdown)
        return _start(config, context)

    try:
        with (
            tempfile.TemporaryDirectory(prefix="rfos-warm-up-") as tmp,
            EmbeddedBroker(jetstream=False) as broker,
        ):
            config = Path(tmp) / "edge.yaml"
            config.write_text(_WARM_UP_CONFIG)
            for name in ENV_OVERRIDES["edge"]:
                os.environ.pop(name, None)
            os.environ.update(
                {
                    CONFIG_ENV_VARS["edge"]: str(config),
                    "MESSAGING_URL": broker.url,
                    CONNECT_WAIT_ENV: "0",
                    "EDGE_JOURNAL_DIR": str(Path(tmp) / "journal"),
                }
            )
            status = run_tier("edge", start, [])
            if not _journal_writer.wait_idle(5.0):
                log.warning("zygote warm-up: the journal writer thread is still running")
            return status
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        for handler in root.handlers:
            if handler not in saved_handlers:
                handler.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


if __name__ == "__main__":
    sys.exit(main())
