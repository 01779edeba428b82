"""Simulated robots: what one 100 ms tick of N ``SimulatedRobot`` costs in one process.

An edge container steps every robot it hosts on each tick, so this is the floor under the
CPU figures of ``bringup.py``. N robots (default 1000), half of them executing a ``pick``
with random failures and faults on, are stepped through ``--ticks`` ticks of 0.1 s of
simulated time; best of ``--rounds`` rounds. Reported: ``tick_ms`` (wall time of one tick of
all N robots), ``robot_steps_per_s`` and ``tick_fraction_of_period`` (``tick_ms`` / 100 ms:
the share of one core the simulation alone needs at 10 Hz). Prints one JSON line.

    .venv/bin/python benchmarks/sim.py --robots 1000
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import emit, progress

from robotfleet_nodes.edge.driver import Pose2D, TaskRequest
from robotfleet_nodes.edge.sim import SimConfig, SimulatedRobot

TICK_S = 0.1


def one_round(n: int, ticks: int) -> float:
    """Seconds of wall time for ``ticks`` ticks of ``n`` robots (half of them busy)."""
    cfg = SimConfig(task_failure_probability=0.1, error_probability_per_s=0.001)
    robots = [SimulatedRobot(f"r{i}", cfg, Pose2D(float(i % 50), float(i // 50))) for i in range(n)]
    for r in robots:
        r.step(0.0)
    for i, r in enumerate(robots):
        if i % 2 == 0:
            r.start_task(TaskRequest(f"t{i}", "pick"))
    start = time.perf_counter()
    for k in range(1, ticks + 1):
        now = k * TICK_S
        for r in robots:
            r.step(now)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    best = float("inf")
    for round_no in range(1, args.rounds + 1):
        seconds = one_round(args.robots, args.ticks)
        progress(f"sim: round {round_no}/{args.rounds}: {args.ticks} ticks in {seconds:.3f} s")
        best = min(best, seconds)
    tick_s = best / args.ticks
    emit(
        {
            "benchmark": "sim_step",
            "robots": args.robots,
            "ticks": args.ticks,
            "rounds": args.rounds,
            "tick_ms": round(tick_s * 1e3, 2),
            "robot_steps_per_s": round(args.robots * args.ticks / best),
            "tick_fraction_of_period": round(tick_s / TICK_S, 3),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
