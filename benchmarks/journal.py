"""Execution journal: how long a start record takes to become durable, many robots at once.

An edge writes ``{"e": "start", ...}`` and waits for its ``fdatasync`` before the robot
moves, so this latency is added to every order's start. N robots (default 250) share one
process and its one writer thread (as in a composed edge container); each round all N
start an order in the same event-loop turn, then end it. Reported: p50/p99 of the time from
the call of ``journal.start`` to the moment its future resolves (durable), over all rounds,
the syncs per round the group commit needed (``fsync_batches``), and how long the event loop
was blocked at most meanwhile (``loop_max_block_ms``, from a 1 ms ticker). The directory
is a temporary one on the current file system (``--dir`` to choose: the disk matters most).
Prints one JSON line.

    .venv/bin/python benchmarks/journal.py --robots 250 --rounds 20
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, percentiles_us, progress

from robotfleet_nodes.edge import _journal_writer
from robotfleet_nodes.edge.journal import ExecutionJournal


async def ticker(stop: asyncio.Event, worst: list[float]) -> None:
    """Record the longest gap between 1 ms sleeps (how long the loop was blocked)."""
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last - 0.001)
        last = now


async def run(directory: Path, robots: int, rounds: int) -> dict[str, object]:
    journals = await asyncio.gather(*(ExecutionJournal.open(f"robot-{i}", directory) for i in range(robots)))
    syncs = [0]
    real_sync = _journal_writer._sync

    def counting_sync(fd: int) -> None:
        syncs[0] += 1
        real_sync(fd)

    _journal_writer._sync = counting_sync
    latencies: list[float] = []
    batches: list[int] = []
    stop = asyncio.Event()
    worst = [0.0]
    tick = asyncio.ensure_future(ticker(stop, worst))

    async def timed(journal: ExecutionJournal, order: str) -> None:
        t0 = time.perf_counter()
        await journal.start(order, 1)
        latencies.append(time.perf_counter() - t0)

    try:
        for r in range(rounds):
            before = syncs[0]
            await asyncio.gather(*(timed(j, f"wo-{r}") for j in journals))
            batches.append(syncs[0] - before)  # each batch syncs every file it touched once
            await asyncio.gather(*(j.end(f"wo-{r}", 1, "SUCCEEDED", "completed") for j in journals))
            progress(f"journal: round {r + 1}/{rounds}")
    finally:
        stop.set()
        await tick
        _journal_writer._sync = real_sync
        await asyncio.gather(*(j.close() for j in journals))
    return {
        "benchmark": "journal_start_durable",
        "robots": robots,
        "rounds": rounds,
        **percentiles_us(latencies),
        "fsyncs_per_round": round(sum(batches) / len(batches), 1),
        "loop_max_block_ms": round(worst[0] * 1e3, 2),
        "sync_threads": _journal_writer.SYNC_THREADS,
        "directory": str(directory),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sync-threads", type=int, default=_journal_writer.SYNC_THREADS)
    parser.add_argument("--dir", type=Path, default=None, help="where the journals go (default: a temp dir)")
    args = parser.parse_args()
    _journal_writer.SYNC_THREADS = args.sync_threads
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        emit(asyncio.run(run(Path(tmp), args.robots, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
