"""``rfos vda5050 sim``: simulated VDA 5050 vehicles over MQTT (see :mod:`robotfleet_nodes.vda5050.sim`).

The vehicles come from a vehicles file (``<deploy>/vda5050/vehicles.csv``, written by
``rfos fleet gen-config --vda5050 N``; each row's ``.creds`` JWT is the MQTT password, the
robot id the username) or are made up (``--count N``, open mode). They run until SIGINT or
SIGTERM, then say ``connection`` OFFLINE and disconnect.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from robotfleet_nodes.cli._common import EXIT_OK, AsyncVerb, CliError
from robotfleet_nodes.cli._verb import expose_verb
from robotfleet_nodes.vda5050.sim import VehicleSim, read_vehicles, start_fleet, stop_fleet
from robotfleet_nodes.vda5050.topics import default_robot_id

__all__ = ["Vda5050Verb"]


@expose_verb("vda5050")
class Vda5050Verb(AsyncVerb):
    help = "VDA 5050 tools: simulated vehicles speaking MQTT (`sim`)"
    epilog = """examples:
  rfos vda5050 sim --vehicles deploy/1000/vda5050/vehicles.csv --mqtt mqtt://127.0.0.1:1883
  rfos vda5050 sim --count 10 --manufacturer Acme --serial-prefix SN. --mqtt mqtt://127.0.0.1:1883
  rfos vda5050 sim --count 1 --mqtt mqtts://broker.example:8883 --tls-ca ca.pem --validate
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        sim = sub.add_parser(
            "sim",
            help="run simulated VDA 5050 2.1.0 vehicles until Ctrl-C / SIGTERM",
            description="Simulated VDA 5050 2.1.0 vehicles, one MQTT session each, in this process.",
        )
        which = sim.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--vehicles", metavar="FILE.csv", help="vehicles file (header robot_id,zone_id,...)"
        )
        which.add_argument("--count", type=int, metavar="N", help="make up N vehicles (no credentials)")
        sim.add_argument("--manufacturer", default="RobotFleetSim", help="with --count (default %(default)s)")
        sim.add_argument(
            "--serial-prefix",
            default="SN.",
            help="with --count: serials PREFIX1..PREFIXN (default %(default)s)",
        )
        sim.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", metavar="URL", help="mqtt:// or mqtts://")
        sim.add_argument("--tls-ca", default=None, metavar="FILE", help="CA certificate for mqtts://")
        sim.add_argument(
            "--state-period", type=float, default=5.0, metavar="S", help="state at least every S s"
        )
        sim.add_argument("--speed", type=float, default=1.0, metavar="M_PER_S", help="driving speed")
        sim.add_argument("--work-time", type=float, default=0.5, metavar="S", help="seconds each action runs")
        sim.add_argument(
            "--validate", action="store_true", help="check every sent message against the schemas"
        )
        sim.add_argument(
            "--concurrency", type=int, default=50, metavar="N", help="connects in flight at once"
        )

    async def arun(self, args: argparse.Namespace) -> int:
        if args.state_period <= 0 or args.speed <= 0 or args.work_time < 0:
            raise CliError("--state-period and --speed must be positive, --work-time not negative")
        options = {
            "tls_ca": args.tls_ca,
            "state_period_s": args.state_period,
            "speed": args.speed,
            "work_time_s": args.work_time,
            "validate": args.validate,
        }
        if args.vehicles is not None:
            vehicles = [entry.vehicle(args.mqtt, **options) for entry in read_vehicles(args.vehicles)]
        else:
            if args.count < 1:
                raise CliError(f"--count must be at least 1, got {args.count}")
            vehicles = [
                VehicleSim(
                    args.manufacturer,
                    f"{args.serial_prefix}{i}",
                    mqtt_url=args.mqtt,
                    client_id=default_robot_id(args.manufacturer, f"{args.serial_prefix}{i}"),
                    **options,
                )
                for i in range(1, args.count + 1)
            ]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def shown(done: int, total: int) -> None:
            if done == total or done % 100 == 0:
                print(f"{done}/{total} vehicles online", file=sys.stderr, flush=True)

        try:
            took = await start_fleet(vehicles, concurrency=args.concurrency, on_progress=shown)
            print(
                f"{len(vehicles)} VDA 5050 vehicles online at {args.mqtt} in {took:.1f} s; Ctrl-C to stop",
                flush=True,
            )
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await stop_fleet(vehicles)
        print(f"{len(vehicles)} vehicles stopped (connection OFFLINE)", flush=True)
        return EXIT_OK
