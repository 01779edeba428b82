"""``rfos bag record|play|info``: rosbag2 bags of topics.

Recordings are what ``ros2 bag record -s mcap`` writes (a directory with rosbag2's
``metadata.yaml`` and an MCAP file: profile ``ros2``, ``ros2msg`` schemas, ``cdr``
messages), so ``ros2 bag``, ``rosbags``, Foxglove Studio and the ``mcap`` tools read them.
``rfos bag info`` and ``rfos bag play`` read any rosbag2 bag, MCAP or sqlite3 (``.db3``), as
a directory or one file. See :mod:`robotfleet_nodes.bag`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from robotfleet_nodes.bag import Player, Recorder, print_summary, summarize
from robotfleet_nodes.cli._common import EXIT_OK, AsyncVerb, CliError, add_common, connect, expand
from robotfleet_nodes.cli._verb import expose_verb


@expose_verb("bag")
class BagVerb(AsyncVerb):
    help = "record topics to a rosbag2 bag (MCAP), play one back (MCAP or .db3), describe one"
    epilog = """examples:
  rfos bag record -a                              # every topic -> rosbag2_<date>-<time>/
  rfos bag record /chatter /robots/robot-1/status -o my_bag
  rfos bag record -a -e '/parameter_events|/rosout' --max-duration 60
  rfos bag info my_bag                            # duration, message count, topics and types
  rfos bag play my_bag                            # original timing
  rfos bag play my_bag --rate 2 --loop --topics /chatter
  rfos bag play rosbag2_2024_05_01-10_00_00/      # a ros2 bag: .db3 (sqlite3) or .mcap
  rfos bag info talker.db3                        # one storage file on its own
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        fmt = argparse.RawDescriptionHelpFormatter
        record = sub.add_parser(
            "record",
            help="record topics into a new bag directory (Ctrl-C stops and finalizes it)",
            formatter_class=fmt,
            epilog="Messages are stored as ROS 2 CDR; JSON messages are converted using their rfos-type.",
        )
        which = record.add_mutually_exclusive_group(required=True)
        which.add_argument("-a", "--all", action="store_true", help="record every topic")
        which.add_argument("topics", nargs="*", default=[], metavar="TOPIC", help="topics to record")
        record.add_argument("-o", "--output", default=None, metavar="DIR", help="bag directory to create")
        record.add_argument("-e", "--exclude", default=None, metavar="REGEX", help="skip matching topics")
        record.add_argument(
            "--max-duration", type=float, default=None, metavar="S", help="stop after S seconds"
        )
        add_common(record, graph=False)
        play = sub.add_parser(
            "play",
            help="publish a bag's messages with their original timing (as node /rosbag2_player)",
            formatter_class=fmt,
            epilog="Relative topic names in the bag play as /name (as ROS 2 resolves them). Types the\n"
            "registry does not know come from the bag's stored definitions and are sent as JSON.",
        )
        play.add_argument("bag", metavar="DIR", help="bag directory (or .mcap / .db3 file)")
        play.add_argument("-r", "--rate", type=float, default=1.0, help="time scale (default %(default)s)")
        play.add_argument("-l", "--loop", action="store_true", help="play again and again until Ctrl-C")
        play.add_argument(
            "--topics", nargs="+", default=[], metavar="TOPIC", help="only these topics (resolved names)"
        )
        add_common(play, graph=False)
        info = sub.add_parser("info", help="print a bag's duration, message count and topics")
        info.add_argument("bag", metavar="DIR", help="bag directory (or .mcap / .db3 file)")

    async def arun(self, args: argparse.Namespace) -> int:
        if args.action == "info":
            print(summarize(args.bag).describe())
            return EXIT_OK
        if args.action == "record":
            return await self._record(args)
        return await self._play(args)

    async def _record(self, args: argparse.Namespace) -> int:
        if args.max_duration is not None and args.max_duration <= 0:
            raise CliError(f"--max-duration must be positive, got {args.max_duration}")
        async with connect(args) as transport:
            recorder = Recorder(
                transport,
                args.output,
                topics=[] if args.all else [expand(t) for t in args.topics],
                exclude=args.exclude,
                progress=sys.stderr,
            )
            try:
                await recorder.run(args.max_duration)
            except asyncio.CancelledError:  # Ctrl-C under asyncio.run: the file is finalized
                print_summary(recorder)
                raise
            print_summary(recorder)
        return EXIT_OK

    async def _play(self, args: argparse.Namespace) -> int:
        async with connect(args) as transport:
            player = Player(
                transport,
                args.bag,
                rate=args.rate,
                topics=[expand(t) for t in args.topics],
                loop=args.loop,
            )
            stats = await player.run()
        print(f"published {stats.published} messages", file=sys.stderr)
        for topic, count in sorted(stats.topics.items()):
            print(f"  {topic}: {count}", file=sys.stderr)
        if stats.skipped:
            print(f"  skipped (not cdr, invalid topic name or undecodable): {stats.skipped}", file=sys.stderr)
        return EXIT_OK
