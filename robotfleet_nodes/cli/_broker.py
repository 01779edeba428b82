"""``rfos broker``: run an embedded nats-server (JetStream on) in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Final

from robotfleet_nodes.broker import DEFAULT_CLUSTER_NAME, EmbeddedBroker
from robotfleet_nodes.cli._verb import Verb, expose_verb

#: Where ``rfos broker`` listens without --port or --config (the seed's URL).
DEFAULT_PORT: Final = 4222


@expose_verb("broker")
class BrokerVerb(Verb):
    help = "run a NATS server with JetStream in the foreground (Ctrl-C stops it)"
    epilog = """examples:
  rfos broker                          # nats://localhost:4222, store in a temp dir
  rfos broker --port 4333 --store ./state/nats
  rfos broker --config deploy/1000/secrets/nats-server.conf --port 4222 --store state/nats
  rfos broker --mqtt-port 1883         # also MQTT (VDA 5050 vehicles) on mqtt://localhost:1883
  rfos broker --config deploy/1000/secrets/nats-server.conf --port 4222 --store state/nats \
      --mqtt-port 1883 --mqtt-config deploy/1000/secrets/nats-mqtt.conf   # mqtts:// (TLS)
  MESSAGING_URL=nats://localhost:4222 rfos interface list   # tools then use it
  rfos broker --jetstream-domain hub --leafnode-port 7422             # a hub for edge sites
  rfos broker --port 4222 --jetstream-domain zone-3 --leaf-remote nats://hub:7422   # a site

  # one server of a 3-node cluster on this machine (start nats-2, nats-3 likewise):
  rfos broker --port 4222 --store state/nats-1 --server-name nats-1 --cluster-port 6222 \
      --routes nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223,nats-route://127.0.0.1:6224

With --config, the file (accounts, TLS: `rfos fleet gen-config` writes it) sets what the
flags do not; --host, --port and --store override it. A secured cluster also needs the
deployment's route TLS: --cluster-config <deploy>/secrets/nats-cluster.conf.
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--config",
            default=None,
            metavar="FILE",
            help="nats-server configuration file (e.g. <deploy>/secrets/nats-server.conf)",
        )
        parser.add_argument(
            "--host", default=None, help="address to listen on (default 127.0.0.1, or the --config file's)"
        )
        parser.add_argument(
            "--port",
            type=int,
            default=None,
            help="client port, 0 = any free (default 4222, or the --config file's)",
        )
        parser.add_argument(
            "--store",
            default=None,
            help="JetStream store directory (default: a temp dir, or the --config file's)",
        )
        parser.add_argument("--no-jetstream", action="store_true", help="core NATS only")
        parser.add_argument(
            "--server-name", default=None, help="this server's name (a cluster's must differ)"
        )
        parser.add_argument(
            "--cluster-port",
            type=int,
            default=None,
            metavar="PORT",
            help="join a NATS cluster: listen for routes on PORT (on --host)",
        )
        parser.add_argument(
            "--routes",
            default="",
            metavar="URL,URL",
            help="route URLs of every server, e.g. nats-route://127.0.0.1:6222,... (its own is ignored)",
        )
        parser.add_argument(
            "--cluster-name", default=None, help=f"the cluster's name (default {DEFAULT_CLUSTER_NAME})"
        )
        parser.add_argument(
            "--cluster-config",
            default=None,
            metavar="FILE",
            help="route TLS for the cluster block (<deploy>/secrets/nats-cluster.conf of gen-config)",
        )
        parser.add_argument(
            "--mqtt-port",
            type=int,
            default=0,
            metavar="PORT",
            help="also listen for MQTT clients (VDA 5050 vehicles) on PORT (1883; -1: any free; "
            "0: no MQTT listener, the default); needs JetStream",
        )
        parser.add_argument(
            "--mqtt-config",
            default=None,
            metavar="FILE",
            help="the MQTT listener's TLS (<deploy>/secrets/nats-mqtt.conf of gen-config); "
            "ignored without --mqtt-port",
        )
        site = parser.add_argument_group('edge sites (docs/fleet.md, "Edge sites"; not with --config)')
        site.add_argument(
            "--jetstream-domain",
            default=None,
            metavar="NAME",
            help="JetStream domain (hub: hub; a site: its zone id)",
        )
        site.add_argument(
            "--leafnode-port",
            type=int,
            default=None,
            metavar="PORT",
            help="hub: listen for sites' leaf nodes (-1: any free)",
        )
        site.add_argument(
            "--leaf-remote",
            action="append",
            default=[],
            metavar="URL",
            help="site: be a leaf node of the hub at URL (nats://hub:7422; repeatable)",
        )
        site.add_argument(
            "--leaf-credentials", default=None, metavar="FILE", help="site: .creds for the leaf link"
        )
        site.add_argument(
            "--leaf-tls-ca", default=None, metavar="FILE", help="site: CA of the hub's certificate"
        )

    def run(self, args: argparse.Namespace) -> int:
        host, port = args.host, args.port
        if args.config is None:
            host = "127.0.0.1" if host is None else host
            port = DEFAULT_PORT if port is None else port
        broker = EmbeddedBroker(
            host=host,
            port=port,
            store_dir=args.store,
            jetstream=not args.no_jetstream,
            config_file=args.config,
            jetstream_domain=args.jetstream_domain,
            leafnode_port=args.leafnode_port,
            leaf_remotes=args.leaf_remote,
            leaf_credentials=args.leaf_credentials,
            leaf_tls_ca=args.leaf_tls_ca,
            server_name=args.server_name,
            cluster_port=args.cluster_port,
            cluster_name=args.cluster_name,
            routes=tuple(r.strip() for r in args.routes.split(",") if r.strip()),
            cluster_config=args.cluster_config,
            mqtt_port=args.mqtt_port or None,
            mqtt_config=args.mqtt_config if args.mqtt_port else None,
        )
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            broker.start()  # a BrokerError (no such file, refused) is printed as `rfos: <message>`
            store = broker.store_dir if broker.store_dir is not None else "as the config file says"
            print(f"nats-server ready at {broker.url} (store: {store}); Ctrl-C to stop", flush=True)
            if broker.mqtt_url is not None:
                print(f"MQTT clients (VDA 5050 vehicles) dial {broker.mqtt_url}", flush=True)
            if broker.leafnode_url is not None:
                print(f"leaf nodes of edge sites dial {broker.leafnode_url}", flush=True)
            while not stop.wait(0.5):
                if not broker.running:
                    print("rfos: nats-server exited unexpectedly", file=sys.stderr)
                    return 1
        finally:
            broker.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        print("nats-server stopped", flush=True)
        return 0
