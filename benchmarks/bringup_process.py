"""Bring-up of N robots as N forked ``edge`` processes (``edges:=process``): time, memory, CPU.

    .venv/bin/python benchmarks/bringup_process.py --robots 1000

Generates configs (``rfos fleet gen-config``), runs ``rfos launch launch/fleet_1000.launch.yaml
robots:=N zones:=Z edges:=process ...`` and reports one JSON line:

- ``bringup_s``: seconds from starting the launcher until ``GET /api/fleet`` reports N
  robots online;
- ``pss_total_mib``: sum of ``Pss`` (``/proc/<pid>/smaps_rollup``) over the launcher and
  every descendant, after ``--settle`` seconds; ``pss_edge_mib_mean``: per forked edge;
  ``pss_zygote_mib``; ``processes``;
- ``cpu_cores``: CPU time of the whole tree over ``--cpu-window`` seconds, in cores
  (``cpu_edges_cores``: the edges' share);
- ``shutdown_s`` and ``left_behind`` after SIGINT to the launcher.

Guard: when ``MemAvailable`` drops below ``--min-available-gib`` (2 GiB) the launcher gets
SIGINT and the line has ``"aborted"``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from _proc import cpu_seconds, free_port, pss_kib, stat, tree

ROOT = Path(__file__).resolve().parents[1]
RFOS = Path(sys.executable).parent / "rfos"


def _mem_available_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return 0.0


def _cpu(pids: Iterable[int]) -> float:
    """CPU seconds used so far by ``pids`` together."""
    return sum(cpu_seconds(pid) for pid in pids)


def _zygote(tree: dict[int, int]) -> int | None:
    """The process most of the tree's processes are children of (the fork server)."""
    counts: dict[int, int] = {}
    for ppid in tree.values():
        counts[ppid] = counts.get(ppid, 0) + 1
    return max(counts, key=lambda p: counts[p], default=None)


def _online(port: int, token: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/fleet", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(json.loads(response.read())["robots_online"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run one bring-up and return the measurements."""
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="rfos-bringup-"))
    deploy = work / "deploy"
    gen = [str(RFOS), "fleet", "gen-config", "--robots", str(args.robots), "--zones", str(args.zones)]
    subprocess.run(
        [*gen, "--out", str(deploy)],
        check=True,
        capture_output=True,
    )
    token = (deploy / "secrets" / "api-admin.token").read_text().strip()  # secured, as make run
    http = free_port()
    env = {**os.environ, "RFOS_LOG_DIR": str(work / "logs")}
    env.pop("MESSAGING_URL", None)
    result: dict[str, Any] = {"robots": args.robots, "zones": args.zones, "edges": "process"}
    started = time.monotonic()
    with open(work / "launch.out", "wb") as out:
        launcher = subprocess.Popen(
            [
                str(RFOS),
                "launch",
                str(ROOT / "launch" / "fleet_1000.launch.yaml"),
                f"robots:={args.robots}",
                f"zones:={args.zones}",
                "edges:=process",
                f"config_dir:={deploy}",
                f"http_port:={http}",
                f"nats_port:={free_port()}",
                f"state_dir:={work / 'nats'}",
                f"journal_dir:={work / 'journal'}",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    min_available = float("inf")
    try:
        online = 0
        deadline = started + args.timeout
        while online < args.robots:
            available = _mem_available_gib()
            min_available = min(min_available, available)
            if available < args.min_available_gib:
                result["aborted"] = f"MemAvailable {available:.2f} GiB < {args.min_available_gib} GiB"
                break
            if time.monotonic() > deadline or launcher.poll() is not None:
                result["aborted"] = f"{online}/{args.robots} online after {time.monotonic() - started:.0f} s"
                break
            try:
                online = _online(http, token)
            except (OSError, ValueError, KeyError):
                online = 0
            time.sleep(0.5)
        else:
            result["bringup_s"] = round(time.monotonic() - started, 1)
        if "aborted" not in result:
            time.sleep(args.settle)
            procs = tree(launcher.pid)
            zygote = _zygote(procs)
            edges = [pid for pid, ppid in procs.items() if ppid == zygote]
            pss = {pid: pss_kib(pid) for pid in procs}
            result["processes"] = len(procs)
            result["forked_edges"] = len(edges)
            result["pss_total_mib"] = round(sum(pss.values()) / 1024, 1)
            result["pss_edges_mib"] = round(sum(pss[p] for p in edges) / 1024, 1)
            result["pss_edge_mib_mean"] = round(sum(pss[p] for p in edges) / 1024 / max(1, len(edges)), 2)
            result["pss_zygote_mib"] = round(pss.get(zygote or 0, 0) / 1024, 1)
            others = sorted(((v, p) for p, v in pss.items() if p not in edges and p != zygote), reverse=True)
            result["pss_others_mib"] = round(sum(v for v, _ in others) / 1024, 1)
            before_all, before_edges = _cpu(procs), _cpu(edges)
            time.sleep(args.cpu_window)
            after_all, after_edges = _cpu(procs), _cpu(edges)
            result["cpu_cores"] = round((after_all - before_all) / args.cpu_window, 3)
            result["cpu_edges_cores"] = round((after_edges - before_edges) / args.cpu_window, 3)
            result["mem_available_min_gib"] = round(min(min_available, _mem_available_gib()), 2)
    finally:
        family = list(tree(launcher.pid))
        stopping = time.monotonic()
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(args.timeout)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
        result["shutdown_s"] = round(time.monotonic() - stopping, 1)
        time.sleep(1.0)
        left = [pid for pid in family if (stat(pid) or ["Z"])[0] != "Z"]
        result["left_behind"] = len(left)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        result["launcher_exit"] = launcher.returncode
        result["work_dir"] = str(work)
    return result


def main() -> None:
    """Parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--zones", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for the bring-up")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait before measuring")
    parser.add_argument("--cpu-window", type=float, default=10.0)
    parser.add_argument("--min-available-gib", type=float, default=2.0)
    parser.add_argument("--work-dir", help="where configs, logs and the NATS store go (default: a temp dir)")
    print(json.dumps(run(parser.parse_args())), flush=True)


if __name__ == "__main__":
    main()
