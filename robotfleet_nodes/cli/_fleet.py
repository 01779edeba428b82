"""``rfos fleet gen-config``: deployment configs for N robots (what the seed's script runs);
``rfos fleet gen-k8s``: the same plus Kubernetes manifests."""

from __future__ import annotations

import argparse

from robotfleet_nodes.cli._verb import Verb, expose_verb
from robotfleet_nodes.config.generate import add_arguments, generate_from_args
from robotfleet_nodes.config.k8s import add_k8s_arguments, generate_k8s_from_args


@expose_verb("fleet")
class FleetVerb(Verb):
    help = "fleet deployment tools (gen-config, gen-k8s)"
    epilog = """examples:
  rfos fleet gen-config                                   # 1000 robots, 5 zones, 1 area -> deploy/1000
  rfos fleet gen-config --robots 100 --zones 2 --out deploy/100
  rfos fleet gen-config --robots 10000 --zones 50 --areas 5 --out deploy/10000
  rfos fleet gen-config --robots 1000 --status-period 2   # heartbeat every 2 s, OFFLINE after 6 s
  rfos fleet gen-k8s --robots 1000 --zones 5 --out deploy/k8s   # + deploy/k8s/k8s/*.yaml
  rfos fleet gen-k8s --robots 50 --zones 2 --namespace fleet-test --image registry.example/robotfleet:1.0
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        gen = sub.add_parser(
            "gen-config",
            help="write area/zone/edge/fleet YAML files and robots.csv",
            description="Write fleet.yaml, area.yaml, zone-N.yaml, edge/robot-N.yaml and robots.csv.",
        )
        add_arguments(gen)
        k8s = sub.add_parser(
            "gen-k8s",
            help="write the configs, secrets and Kubernetes manifests (OUT/k8s/*.yaml)",
            description="Write what gen-config writes (broker: the 3 NATS pods), then Kubernetes "
            "manifests in OUT/k8s: NATS StatefulSet (3 replicas, JetStream), fleet (2 replicas), "
            "areas, zones, the robot StatefulSet (pods robot-1..robot-N), ConfigMaps, Secrets, "
            "NetworkPolicy. Apply with kubectl apply -f OUT/k8s/.",
        )
        add_k8s_arguments(k8s)

    def run(self, args: argparse.Namespace) -> int:
        if args.action == "gen-k8s":
            print(generate_k8s_from_args(args).describe())
        else:
            print(generate_from_args(args).describe())
        return 0
