"""``rfos fleet gen-config``: deployment configs for N robots (what the seed's script runs)."""

from __future__ import annotations

import argparse

from robotfleet_nodes.cli._verb import Verb, expose_verb
from robotfleet_nodes.config.generate import add_arguments, generate_from_args


@expose_verb("fleet")
class FleetVerb(Verb):
    help = "fleet deployment tools (gen-config)"
    epilog = """examples:
  rfos fleet gen-config                                   # 1000 robots, 5 zones, 1 area -> deploy/1000
  rfos fleet gen-config --robots 100 --zones 2 --out deploy/100
  rfos fleet gen-config --robots 10000 --zones 50 --areas 5 --out deploy/10000
  rfos fleet gen-config --robots 1000 --status-period 2   # heartbeat every 2 s, OFFLINE after 6 s
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        gen = sub.add_parser(
            "gen-config",
            help="write area/zone/edge/fleet YAML files and robots.csv",
            description="Write fleet.yaml, area.yaml, zone-N.yaml, edge/robot-N.yaml and robots.csv.",
        )
        add_arguments(gen)

    def run(self, args: argparse.Namespace) -> int:
        print(generate_from_args(args).describe())
        return 0
