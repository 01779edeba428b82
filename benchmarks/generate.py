"""The deployment generator: seconds to write the configs of N robots (the seed's first step).

``generate_deployment`` (what ``rfos fleet gen-config`` and
``scripts/generate-1000-robot-config.sh`` run) for each size (default 1000 and 10000
robots, 5 zones per 1000), into a fresh directory each round; best of ``--rounds``. The
files go to tmpfs (``/dev/shm``) when there is one, since creating thousands of files on a
(virtual) disk alone can take about a second and that is the disk's figure, not ours.
Prints one JSON line.

    .venv/bin/python benchmarks/generate.py --robots 1000 10000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, progress

from robotfleet_nodes.config.generate import generate_deployment


def scratch_dir() -> str | None:
    """``/dev/shm`` when writable (tmpfs), else the default temporary directory."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def one_round(robots: int) -> tuple[float, int]:
    """(seconds, files written) of one generation of ``robots`` robots."""
    base = Path(tempfile.mkdtemp(prefix="rfos-gen-", dir=scratch_dir()))
    try:
        start = time.perf_counter()
        summary = generate_deployment(base / "d", robots=robots, zones=max(1, robots // 200))
        return time.perf_counter() - start, len(summary.files)
    finally:
        shutil.rmtree(base)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes: dict[str, dict[str, float | int]] = {}
    for robots in args.robots:
        best, files = float("inf"), 0
        for round_no in range(1, args.rounds + 1):
            seconds, files = one_round(robots)
            progress(f"generate: {robots} robots, round {round_no}/{args.rounds}: {seconds:.3f} s")
            best = min(best, seconds)
        sizes[str(robots)] = {"seconds": round(best, 3), "files": files}
    emit(
        {
            "benchmark": "generate_deployment",
            "rounds": args.rounds,
            "on_tmpfs": scratch_dir() is not None,
            "robots": sizes,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
