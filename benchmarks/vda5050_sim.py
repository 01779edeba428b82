"""The VDA 5050 vehicle simulator at scale: ``rfos vda5050 sim --count N`` (one process) against
nats-server's MQTT listener, a plain MQTT master in this process. Measures:

- seconds from starting the simulator until the master has seen all N ``connection`` ONLINE
  (and the simulator's own connect time, which leaves out Python's start-up);
- the simulator's and nats-server's CPU while the vehicles idle (state every ``--state-period``);
- with ``--orders-per-s R``: R orders/s for ``--load-s`` seconds, round robin over the vehicles
  (two nodes 1 m apart, one action): order -> first ``state`` showing it (p50/p99), and the CPU;
- seconds from SIGTERM until all N said OFFLINE.

Every message the master receives is validated against the VDA 5050 2.1.0 schemas. Prints one
JSON line.

    .venv/bin/python benchmarks/vda5050_sim.py --vehicles 1000 --idle 20 --orders-per-s 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiomqtt
from _common import emit, progress

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.vda5050 import SCHEMA_VERSION, validate

MANUFACTURER = "RobotFleetSim"


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _order(serial: str, order_id: str, header: int) -> dict[str, Any]:
    node = {"released": True, "actions": []}
    return {
        "headerId": header,
        "timestamp": "2026-12-05T12:00:00.00Z",
        "version": SCHEMA_VERSION,
        "manufacturer": MANUFACTURER,
        "serialNumber": serial,
        "orderId": order_id,
        "orderUpdateId": 0,
        "nodes": [
            {**node, "nodeId": "a", "sequenceId": 0, "nodePosition": {"x": 0.0, "y": 0.0, "mapId": "map"}},
            {
                **node,
                "nodeId": "b",
                "sequenceId": 2,
                "nodePosition": {"x": 1.0, "y": 0.0, "mapId": "map"},
                "actions": [{"actionId": f"{order_id}-a", "actionType": "pick", "blockingType": "HARD"}],
            },
        ],
        "edges": [
            {
                "edgeId": "e",
                "sequenceId": 1,
                "released": True,
                "startNodeId": "a",
                "endNodeId": "b",
                "actions": [],
            }
        ],
    }


class Master:
    """Counts connection states and order acceptances from every vehicle's messages."""

    def __init__(self) -> None:
        self.connection: dict[str, str] = {}
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.messages = 0
        self.invalid = 0
        self.changed = asyncio.Event()

    async def pump(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            parts = str(message.topic).split("/")
            assert isinstance(message.payload, bytes)
            body = json.loads(message.payload)
            self.messages += 1
            try:
                validate(parts[-1], body)
            except ValueError:
                self.invalid += 1
            if parts[-1] == "connection":
                self.connection[parts[3]] = body["connectionState"]
                self.changed.set()
            elif parts[-1] == "state":
                sent = self.sent_at.pop(body["orderId"], None)
                if sent is not None:
                    self.latencies.append(time.perf_counter() - sent)

    async def wait_all(self, count: int, state: str, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while sum(1 for s in self.connection.values() if s == state) < count:
                self.changed.clear()
                await self.changed.wait()


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 1) if ordered else -1.0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "vda5050_sim", "vehicles": args.vehicles}
    with EmbeddedBroker(mqtt_port=-1) as broker:
        assert broker.mqtt_url is not None and broker.pid is not None
        host, port = broker.mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
        master = Master()
        async with aiomqtt.Client(host, int(port), identifier="bench-master") as client:
            await client.subscribe(f"uagv/v2/{MANUFACTURER}/+/connection", qos=1)
            await client.subscribe(f"uagv/v2/{MANUFACTURER}/+/state", qos=0)
            pump = asyncio.create_task(master.pump(client))
            started = time.perf_counter()
            sim = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "robotfleet_nodes.cli.main", "vda5050", "sim",
                "--count", str(args.vehicles), "--manufacturer", MANUFACTURER, "--serial-prefix", "SN.",
                "--mqtt", broker.mqtt_url, "--state-period", str(args.state_period),
                "--concurrency", str(args.concurrency),
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert sim.stdout is not None
            try:
                await master.wait_all(args.vehicles, "ONLINE", 120)
                result["online_seen_s"] = round(time.perf_counter() - started, 2)
                line = (await asyncio.wait_for(sim.stdout.readline(), 30)).decode()
                result["sim_connect_s"] = float(line.split(" in ")[1].split(" s")[0])
                progress(f"{args.vehicles} ONLINE after {result['online_seen_s']} s; idle for {args.idle} s")
                await asyncio.sleep(args.state_period)  # the first state wave passes
                s0, b0, m0, w0 = _cpu_s(sim.pid), _cpu_s(broker.pid), master.messages, time.perf_counter()
                await asyncio.sleep(args.idle)
                wall = time.perf_counter() - w0
                result["idle_sim_cpu_percent"] = round((_cpu_s(sim.pid) - s0) / wall * 100, 1)
                result["idle_broker_cpu_percent"] = round((_cpu_s(broker.pid) - b0) / wall * 100, 1)
                result["idle_states_per_s"] = round((master.messages - m0) / wall, 1)
                if args.orders_per_s > 0:
                    progress(f"{args.orders_per_s} orders/s for {args.load_s} s")
                    s0, b0, w0 = _cpu_s(sim.pid), _cpu_s(broker.pid), time.perf_counter()
                    total = int(args.orders_per_s * args.load_s)
                    for i in range(total):
                        serial = f"SN.{i % args.vehicles + 1}"
                        order_id = f"bench-{i}.1"
                        payload = json.dumps(_order(serial, order_id, i // args.vehicles)).encode()
                        master.sent_at[order_id] = time.perf_counter()
                        await client.publish(f"uagv/v2/{MANUFACTURER}/{serial}/order", payload, qos=0)
                        delay = w0 + (i + 1) / args.orders_per_s - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    sent_wall = time.perf_counter() - w0
                    async with asyncio.timeout(30):
                        while len(master.latencies) < total and master.sent_at:  # noqa: ASYNC110 - a count, no event
                            await asyncio.sleep(0.1)
                    wall = time.perf_counter() - w0
                    result.update(
                        orders_sent=total,
                        orders_per_s_sent=round(total / sent_wall, 1),
                        orders_accepted_seen=len(master.latencies),
                        accepted_p50_ms=_pct(master.latencies, 0.5),
                        accepted_p99_ms=_pct(master.latencies, 0.99),
                        load_sim_cpu_percent=round((_cpu_s(sim.pid) - s0) / wall * 100, 1),
                        load_broker_cpu_percent=round((_cpu_s(broker.pid) - b0) / wall * 100, 1),
                    )
                progress("SIGTERM: every vehicle says OFFLINE")
                stopping = time.perf_counter()
                sim.send_signal(signal.SIGTERM)
                await master.wait_all(args.vehicles, "OFFLINE", 60)
                result["offline_seen_s"] = round(time.perf_counter() - stopping, 2)
                result["sim_exit_code"] = await asyncio.wait_for(sim.wait(), 30)
            finally:
                if sim.returncode is None:
                    sim.kill()
                    await sim.wait()
                pump.cancel()
        result["messages_seen"] = master.messages
        result["invalid_messages"] = master.invalid
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50, help="connects in flight at once")
    parser.add_argument("--state-period", type=float, default=5.0)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU measurement")
    parser.add_argument("--orders-per-s", type=float, default=0.0, help="order load (0: none)")
    parser.add_argument("--load-s", type=float, default=10.0, help="seconds of order load")
    emit(asyncio.run(run(parser.parse_args())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
