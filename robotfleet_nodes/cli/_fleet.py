"""``rfos fleet gen-config``: deployment configs for N robots (what the seed's script runs)."""

from __future__ import annotations

import argparse

from robotfleet_nodes.cli._verb import Verb, expose_verb
from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.config.models import DEFAULT_BROKER


@expose_verb("fleet")
class FleetVerb(Verb):
    help = "fleet deployment tools (gen-config)"
    epilog = """examples:
  rfos fleet gen-config                                   # 1000 robots, 5 zones, 1 area -> deploy/1000
  rfos fleet gen-config --robots 100 --zones 2 --out deploy/100
  rfos fleet gen-config --robots 10000 --zones 50 --areas 5 --out deploy/10000
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        gen = sub.add_parser(
            "gen-config",
            help="write area/zone/edge/fleet YAML files and robots.csv",
            description="Write fleet.yaml, area.yaml, zone-N.yaml, edge/robot-N.yaml and robots.csv.",
        )
        gen.add_argument("--robots", type=int, default=1000, help="robots in total (default %(default)s)")
        gen.add_argument("--zones", type=int, default=5, help="zones in total (default %(default)s)")
        gen.add_argument("--areas", type=int, default=1, help="areas (default %(default)s)")
        gen.add_argument("--out", default="deploy/1000", help="output directory (default %(default)s)")
        gen.add_argument("--broker", default=DEFAULT_BROKER, help="messaging.broker (default %(default)s)")

    def run(self, args: argparse.Namespace) -> int:
        summary = generate_deployment(
            args.out, robots=args.robots, zones=args.zones, areas=args.areas, broker=args.broker
        )
        print(summary.describe())
        return 0
