"""The shared body of the four tier executables (``fleet``, ``area``, ``zone``, ``edge``).

Each tier's ``main`` names its config kind and says how to start; :func:`run_tier` loads
the config (``<KIND>_CONFIG`` and the seed's environment overrides), sets up logging,
connects to ``messaging.broker`` as ``messaging.credentials`` (TLS: ``messaging.tls_*``;
waiting for the broker as ``RFOS_CONNECT_WAIT`` says), runs
until SIGINT/SIGTERM and maps failures to exit codes: 0 after a signal, 2 for a bad
configuration (``<kind>: <message>``), 1 when it cannot start (``<kind>: cannot start:
<message>``: no broker, JetStream off, port taken), 130 for a second Ctrl-C during shutdown.

A failure to start is one line on stderr, never a traceback: it is the operator's to fix,
and the line says how. With ``log_level: DEBUG`` the traceback is logged as well.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from nats import errors as nats_errors

from robotfleet_nodes.config import load_config
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.runner import EXIT_CONFIG, EXIT_START, one_line, run_main, serve

__all__ = ["EXIT_CONFIG", "EXIT_START", "Starter", "run_tier"]

#: ``starter(config, context)``: an async context manager that brings the tier up on entry
#: and takes it down on exit (``nodes_started([...])`` for tiers that are just nodes).
Starter = Callable[[Any, Context], AbstractAsyncContextManager[Any]]


async def _run(config: Any, starter: Starter, args: Sequence[str]) -> None:
    messaging = config.messaging
    async with Context(
        url=messaging.url,
        args=args,
        credentials=messaging.credentials,
        tls_ca=messaging.tls_ca,
        tls_cert=messaging.tls_cert,
        tls_key=messaging.tls_key,
        encoding=messaging.encoding,
        max_message_size=messaging.max_message_size,
        jetstream_replicas=messaging.jetstream_replicas,
    ) as context:
        await serve(context, starter(config, context))


def run_tier(kind: str, starter: Starter, argv: Sequence[str] | None = None) -> int:
    """Run tier ``kind`` until a signal; returns the exit status (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config: Any = load_config(kind)
    except ConfigError as exc:
        print(f"{kind}: {one_line(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s [%(levelname)s] [%(name)s]: %(message)s", force=True
    )
    # nats-py's own errors (a stream refusing our configuration, the connection closing
    # under us) end the start-up as plainly as ours do.
    return run_main(kind, _run(config, starter, args), start_errors=(nats_errors.Error,))
