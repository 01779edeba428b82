"""The VDA 5050 vehicle simulator at scale: N vehicles in one process against nats-server's MQTT
listener. Seconds until all are ONLINE (connected, ONLINE + factsheet published, subscribed),
then the simulator's and the broker's CPU while the vehicles idle (state every
``--state-period`` s). Prints one JSON line.

    .venv/bin/python benchmarks/vda5050_sim.py --vehicles 1000 --idle 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from _common import emit, progress

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.vda5050.sim import VehicleSim, start_fleet, stop_fleet


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(args: argparse.Namespace) -> dict[str, object]:
    with EmbeddedBroker(mqtt_port=-1) as broker:
        assert broker.mqtt_url is not None and broker.pid is not None
        vehicles = [
            VehicleSim(
                "RobotFleetSim",
                f"SN.{i}",
                mqtt_url=broker.mqtt_url,
                state_period_s=args.state_period,
                start=(float(i % 100), float(i // 100), 0.0),
            )
            for i in range(1, args.vehicles + 1)
        ]

        def shown(done: int, total: int) -> None:
            if done % 100 == 0 or done == total:
                progress(f"{done}/{total} vehicles online")

        connect_s = await start_fleet(vehicles, concurrency=args.concurrency, on_progress=shown)
        progress(f"all online in {connect_s:.1f} s; measuring idle CPU for {args.idle} s")
        await asyncio.sleep(args.state_period)  # let the first state wave pass
        sim0, broker0, wall0 = time.process_time(), _cpu_s(broker.pid), time.perf_counter()
        sent0 = sum(v.counters.messages_sent for v in vehicles)
        await asyncio.sleep(args.idle)
        wall = time.perf_counter() - wall0
        sim_cpu = (time.process_time() - sim0) / wall
        broker_cpu = (_cpu_s(broker.pid) - broker0) / wall
        sent = sum(v.counters.messages_sent for v in vehicles) - sent0
        connected = sum(v.connected.is_set() for v in vehicles)
        progress("stopping (OFFLINE, DISCONNECT)")
        stopping = time.perf_counter()
        await stop_fleet(vehicles)
        stop_s = time.perf_counter() - stopping
    return {
        "benchmark": "vda5050_sim",
        "vehicles": args.vehicles,
        "concurrency": args.concurrency,
        "state_period_s": args.state_period,
        "connect_all_s": round(connect_s, 2),
        "still_connected": connected,
        "idle_states_per_s": round(sent / wall, 1),
        "idle_sim_cpu_percent": round(sim_cpu * 100, 1),
        "idle_broker_cpu_percent": round(broker_cpu * 100, 1),
        "stop_all_s": round(stop_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50, help="connects in flight at once")
    parser.add_argument("--state-period", type=float, default=5.0)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU measurement")
    emit(asyncio.run(run(parser.parse_args())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
