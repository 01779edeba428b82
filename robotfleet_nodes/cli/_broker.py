"""``rfos broker``: run an embedded nats-server (JetStream on) in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.cli._verb import Verb, expose_verb


@expose_verb("broker")
class BrokerVerb(Verb):
    help = "run a NATS server with JetStream in the foreground (Ctrl-C stops it)"
    epilog = """examples:
  rfos broker                          # nats://localhost:4222, store in a temp dir
  rfos broker --port 4333 --store ./state/nats
  MESSAGING_URL=nats://localhost:4222 rfos interface list   # tools then use it
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
        parser.add_argument(
            "--port", type=int, default=4222, help="client port, 0 = any free (default %(default)s)"
        )
        parser.add_argument("--store", default=None, help="JetStream store directory (default: a temp dir)")
        parser.add_argument("--no-jetstream", action="store_true", help="core NATS only")

    def run(self, args: argparse.Namespace) -> int:
        broker = EmbeddedBroker(
            host=args.host, port=args.port, store_dir=args.store, jetstream=not args.no_jetstream
        )
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        broker.start()
        print(f"nats-server ready at {broker.url} (store: {broker.store_dir}); Ctrl-C to stop", flush=True)
        try:
            while not stop.wait(0.5):
                if not broker.running:
                    print("rfos: nats-server exited unexpectedly", file=sys.stderr)
                    return 1
        finally:
            broker.stop()
        print("nats-server stopped", flush=True)
        return 0
