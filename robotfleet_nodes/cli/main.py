"""``rfos``: the RobotFleetOS command line (``rfos --help`` lists the verbs)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from robotfleet_nodes import __version__
from robotfleet_nodes.cli import (  # noqa: F401 - registers the verbs
    _action,
    _audit,
    _bag,
    _broker,
    _doctor,
    _fleet,
    _interface,
    _launch,
    _lifecycle,
    _node,
    _param,
    _security,
    _service,
    _topic,
    _vda5050,
)
from robotfleet_nodes.cli._common import EXIT_FAILURE, EXIT_INTERRUPTED, AsyncVerb
from robotfleet_nodes.cli._verb import verbs
from robotfleet_nodes.errors import RobotFleetError

__all__ = ["build_parser", "main", "run_cli"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-parser per registered verb."""
    parser = argparse.ArgumentParser(
        prog="rfos",
        description="RobotFleetOS: inspect and run ROS 2-style nodes and the robot fleet on NATS.",
        epilog="Run `rfos VERB --help` for a verb's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"rfos {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output to stderr")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    sub.required = True
    for name, cls in verbs().items():
        verb = cls()
        verb_parser = sub.add_parser(
            name,
            help=verb.help,
            description=verb.description or verb.help,
            epilog=verb.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        verb.configure(verb_parser)
        verb_parser.set_defaults(_verb=verb)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rfos`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args._verb.run(args)
    except RobotFleetError as exc:
        print(f"rfos: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


async def run_cli(argv: Sequence[str]) -> int:
    """``rfos ARGV`` in the running event loop; returns the exit code like :func:`main`.

    For tests and embedding: the nodes the command talks to may live on the same loop.
    Usage errors exit via ``SystemExit(2)`` as argparse does.
    """
    args = build_parser().parse_args(list(argv))
    verb = args._verb
    try:
        if isinstance(verb, AsyncVerb):
            return await verb.arun(args)
        code: int = await asyncio.to_thread(verb.run, args)
        return code
    except RobotFleetError as exc:
        print(f"rfos: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
