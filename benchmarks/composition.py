"""1000 nodes composed in one process: start time, ``rfos node list`` time, memory, idle CPU.

Starts N nodes (default options: parameter services, /rosout, graph announcements) in one
context on one broker connection, times one graph query and ``rfos node list`` run as a
user runs it (a separate process, its default graph window included), then measures
the process's resident memory and its CPU use while idle (nodes up, no traffic). The
broker runs in its own process and is measured separately. Prints one JSON line.
``--nodes N`` changes the count (default 1000).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit, progress
from _proc import cpu_seconds, own_cpu, rss_mib

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.node import Context, Node

IDLE_SECONDS = 10.0
RFOS = str(Path(sys.executable).parent / "rfos")


async def node_list(url: str) -> tuple[float, int]:
    """(seconds, nodes printed) of ``rfos node list`` as a separate process."""
    start = time.perf_counter()
    done = await asyncio.to_thread(
        subprocess.run, [RFOS, "node", "list", "--url", url], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, len(done.stdout.split())


async def run(n: int) -> dict[str, Any]:
    with EmbeddedBroker() as broker:
        rss_before = rss_mib()
        async with Context(url=broker.url) as context:
            start = time.perf_counter()
            nodes = []
            for i in range(n):
                node = Node(f"edge_{i}", context=context, namespace=f"/robots/robot-{i + 1}")
                node.declare_parameter("speed", 1.0)
                await node.start()
                nodes.append(node)
                if (i + 1) % max(1, n // 10) == 0:
                    progress(f"composition: {i + 1}/{n} nodes up")
            start_s = time.perf_counter() - start
            await asyncio.sleep(0.2)  # announcements are batched every 50 ms
            graph_start = time.perf_counter()
            participants = await context.transport.graph(timeout=1.0)
            listed = sum(len(p.nodes) for p in participants)
            graph_s = time.perf_counter() - graph_start
            progress("composition: rfos node list")
            node_list_s, node_list_count = await node_list(broker.url)
            await asyncio.sleep(1.0)  # let start-up work drain before measuring idle
            cpu0, bcpu0, t0 = own_cpu(), cpu_seconds(broker.pid or 0), time.perf_counter()
            progress(f"composition: measuring idle CPU for {IDLE_SECONDS:.0f}s")
            await asyncio.sleep(IDLE_SECONDS)
            elapsed = time.perf_counter() - t0
            idle_cpu = (own_cpu() - cpu0) / elapsed
            broker_cpu = (cpu_seconds(broker.pid or 0) - bcpu0) / elapsed
            rss = rss_mib()
            broker_rss = rss_mib(broker.pid or 0)
    return {
        "benchmark": "composition",
        "nodes": n,
        "start_s": round(start_s, 2),
        "graph_query_s": round(graph_s, 3),
        "nodes_listed": listed,
        "node_list_s": round(node_list_s, 2),
        "node_list_printed": node_list_count,
        "rss_mib": round(rss, 1),
        "rss_mib_before_nodes": round(rss_before, 1),
        "idle_cpu_fraction_of_core": round(idle_cpu, 4),
        "broker_idle_cpu_fraction_of_core": round(broker_cpu, 4),
        "broker_rss_mib": round(broker_rss, 1),
        "targets": {"start_s": 5.0, "node_list_s": 1.0, "rss_mib": 300, "idle_cpu_fraction_of_core": 0.05},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    args = parser.parse_args()
    emit(asyncio.run(run(args.nodes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
