"""The launch runtime: seconds to start N processes and to stop them all again.

A launch description of N ``/bin/sleep`` processes (``ForEach``, default 200 and 1000) is
run by ``LaunchService``; reported per size: ``start_s`` (run until all N are running) and
``stop_s`` (``shutdown()`` until the service returned with every process gone). The child
is as cheap as a process gets, so these are the runtime's own costs, the floor under
``bringup_process.py``'s forked edges. Prints one JSON line.

    .venv/bin/python benchmarks/launch.py --processes 200 1000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from typing import Any

from _common import emit, progress

from robotfleet_nodes.launch import ExecuteProcess, ForEach, LaunchDescription, LaunchService


async def one_run(n: int) -> dict[str, Any]:
    sleeper = ExecuteProcess(["/bin/sleep", "300"], name="s$(var i)")
    desc = LaunchDescription([ForEach("i", [sleeper], stop=n)])
    with tempfile.TemporaryDirectory(prefix="rfos-bench-launch-") as logs:
        svc = LaunchService(
            desc, log_dir=logs, stream=io.StringIO(), status_stream=io.StringIO(), handle_signals=False
        )
        started = time.perf_counter()
        task = asyncio.create_task(svc.run_async())
        while svc.running < n:
            if task.done():
                raise SystemExit(f"launch ended early with {task.result()}")
            await asyncio.sleep(0.01)
        start_s = time.perf_counter() - started
        stopping = time.perf_counter()
        svc.shutdown("benchmark")
        code = await task
        stop_s = time.perf_counter() - stopping
    if code != 0:
        raise SystemExit(f"launch exited with {code}")
    return {"start_s": round(start_s, 3), "stop_s": round(stop_s, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, nargs="+", default=[200, 1000])
    args = parser.parse_args()
    sizes: dict[str, dict[str, Any]] = {}
    for n in args.processes:
        progress(f"launch: {n} processes ...")
        sizes[str(n)] = asyncio.run(one_run(n))
        progress(f"launch: {n} processes: {sizes[str(n)]}")
    targets = {"200": {"start_s": 10, "stop_s": 5}}
    emit({"benchmark": "launch_processes", "processes": sizes, "targets": targets})
    return 0


if __name__ == "__main__":
    sys.exit(main())
