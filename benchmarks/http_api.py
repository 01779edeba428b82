"""The fleet's HTTP API under load, BEFORE (a git ref) and AFTER (the working tree) in one run.

For each side this brings up a real 1000-robot fleet from that side's own source tree (a
temporary ``git worktree add --detach`` of the ref, or a directory as is; the processes run
with ``PYTHONPATH=<tree>`` and ``cwd=<tree>`` on this venv's interpreter): ``rfos fleet
gen-config``, then ``launch/fleet_1000.launch.yaml`` with embedded NATS on a free port, the
HTTP API on a free port, a fresh JetStream store and edges composed ~250 per container. When
``GET /api/fleet`` shows every robot online, ``GET /healthz`` answers ok and ``GET
/api/robots`` returns one row per robot, it loads, one endpoint after the other:

- ``GET /api/fleet`` (a small JSON object),
- ``GET /api/robots`` (1000 rows),
- ``POST /api/work-orders`` (a new order per request: a counter-based id, area-1, move, 5),

with ``wrk`` (1 thread, 8 keep-alive connections, closed loop: ``--warmup`` seconds not
counted, then ``--duration`` seconds measured). wrk is the client because it is cheap: on a
2-core machine a Python client would cost the server its CPU. Its Lua script counts answers
by status and prints the request count and latency percentiles from wrk's histogram.

Per endpoint: req/s, p50/p99/max latency (µs), non-2xx answers (``non_2xx``), 5xx answers
(``5xx``; for the POST without the 503s, which are ``queue_full_503``: the fleet's
"try again later", counted apart), socket errors, and the fleet process's CPU per request
(with its workers, if any): less disturbed than req/s by other load on a shared machine.
Then SIGINT to the launcher, and a check that no process of the stack is left (any left is
killed and reported).
BEFORE and AFTER run one after the other, never at the same time; ``--rounds N`` alternates
them N times and keeps each side's best req/s per endpoint.

Prints one JSON line: both sides' absolute figures and ``after_over_before`` ratios
(req/s: higher is better; latency and CPU per request: lower is better). Progress on stderr.

    python benchmarks/http_api.py                                # before 748aec6, after: this tree
    python benchmarks/http_api.py --before main~3 --after HEAD   # two refs
    python benchmarks/http_api.py --robots 100 --duration 3      # a quick look

(Not ``benchmarks/http.py``: a script's folder comes first on ``sys.path``, and a file named
``http.py`` there hides the standard library's ``http`` package from every benchmark.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import emit, progress
from _proc import cpu_seconds, free_port, stat, tree

ROOT = Path(__file__).resolve().parent.parent
RFOS = Path(sys.executable).parent / "rfos"
DEFAULT_BEFORE = "748aec6"
WRK_INSTALL = "apt-get update && apt-get install -y wrk  (as root; `make bench` does it)"
ROBOTS_PER_CONTAINER = 250
ORDER = {"area_id": "area-1", "task": "move", "priority": 5}
ENDPOINTS = ("GET /api/fleet", "GET /api/robots", "POST /api/work-orders")

# Counts answers by status in each thread and prints one "RESULT {json}" line at the end.
_LUA_COMMON = """\
statuses = {}
local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
"""

# A new order per request: "<prefix>-<thread>-<counter>" is unique in the run.
_LUA_POST = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0

function request()
  counter = counter + 1
  local body = string.format(BODY_FORMAT, PREFIX, tid, counter)
  return wrk.format(nil, nil, nil, body)
end
"""


class BenchError(Exception):
    """The benchmark cannot run or a stack did not come up; the message says why."""


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a source tree and what it is."""

    name: str
    spec: str
    path: Path
    commit: str
    dirty: bool


def _git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], check=False, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def _source_tree(name: str, spec: str) -> Iterator[Side]:
    """``spec`` as a source tree: a directory as is, or a ref checked out in a temporary worktree."""
    if Path(spec).is_dir():
        path = Path(spec).resolve()
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no", cwd=path))
        yield Side(name, spec, path, _git("rev-parse", "HEAD", cwd=path), dirty)
        return
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
    except BenchError:
        raise BenchError(f"--{name} {spec!r} is neither a directory nor a git commit of {ROOT}") from None
    path = Path(tempfile.mkdtemp(prefix=f"rfos-http-{name}-"))
    _git("worktree", "add", "--detach", str(path), commit)
    try:
        yield Side(name, spec, path, commit, False)
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(path)], check=False, cwd=ROOT, capture_output=True
        )
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], check=False, cwd=ROOT, capture_output=True)


def _check_imports_from(side: Side, env: dict[str, str]) -> None:
    """The side's processes will import ``robotfleet_nodes`` from the side's tree, not the venv's."""
    code = "import importlib.util; print(importlib.util.find_spec('robotfleet_nodes').origin)"
    origin = subprocess.run(
        [sys.executable, "-c", code], cwd=side.path, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    if not Path(origin).resolve().is_relative_to(side.path):
        raise BenchError(f"{side.name}: robotfleet_nodes imports from {origin}, not from {side.path}")


def _get(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _alive(pid: int) -> bool:
    fields = stat(pid)
    return fields is not None and fields[0] != "Z"


def _fleet_pid(pids: set[int]) -> int:
    """The fleet tier's process (``python .../bin/fleet``) among ``pids``."""
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(Path(arg.decode(errors="replace")).name == "fleet" for arg in argv[:2]):
            return pid
    raise BenchError("no fleet process found under the launcher")


def _wrk_script(directory: Path, method: str, prefix: str) -> Path:
    path = directory / f"{method.lower()}-{prefix}.lua"
    text = _LUA_COMMON
    if method == "POST":
        body = json.dumps({**ORDER, "id": "@"}, separators=(",", ":")).replace("@", "%s-%d-%d")
        text += f"BODY_FORMAT = {json.dumps(body)}\nPREFIX = {json.dumps(prefix)}\n" + _LUA_POST
    path.write_text(text)
    return path


def _wrk(url: str, script: Path, *, seconds: float, connections: int, threads: int) -> dict[str, Any]:
    """One wrk run; its RESULT line as a dict."""
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return result
    raise BenchError(f"wrk printed no result (exit {done.returncode}): {done.stdout}{done.stderr}")


def _measure(
    base: str, endpoint: str, *, fleet_pid: int, scripts: Path, run_id: str, args: argparse.Namespace
) -> dict[str, Any]:
    method, path = endpoint.split(" ")
    load = {"connections": args.connections, "threads": args.threads}
    if args.warmup > 0:
        _wrk(base + path, _wrk_script(scripts, method, f"{run_id}w"), seconds=args.warmup, **load)
    fleet = set(tree(fleet_pid))  # with any worker processes the HTTP server may have
    cpu0 = {pid: cpu_seconds(pid) for pid in fleet}
    raw = _wrk(base + path, _wrk_script(scripts, method, f"{run_id}m"), seconds=args.duration, **load)
    cpu = sum(cpu_seconds(pid) - cpu0[pid] for pid in fleet)
    statuses = {int(code): n for code, n in raw["statuses"].items()}
    requests = raw["requests"]
    queue_full = statuses.get(503, 0) if method == "POST" else 0
    result = {
        "requests": requests,
        "req_per_s": round(requests / (raw["duration_us"] / 1e6), 1),
        "p50_us": raw["p50_us"],
        "p99_us": raw["p99_us"],
        "max_us": raw["max_us"],
        "non_2xx": sum(n for code, n in statuses.items() if not 200 <= code < 300),
        "5xx": sum(n for code, n in statuses.items() if 500 <= code < 600) - queue_full,
        "socket_errors": raw["errors"],
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "fleet_cpu_us_per_request": round(cpu / requests * 1e6, 1) if requests else None,
    }
    if method == "POST":
        result["queue_full_503"] = queue_full
        result["created_201"] = statuses.get(201, 0)
    return result


def _wait_ready(base: str, robots: int, launcher: subprocess.Popen[bytes], timeout: float) -> float:
    """Seconds until every robot is online; then ``/healthz`` ok and ``/api/robots`` complete."""
    started = time.perf_counter()
    online, last_report = 0, 0.0
    while online < robots:
        waited = time.perf_counter() - started
        if launcher.poll() is not None:
            raise BenchError(f"the launcher exited ({launcher.returncode}) before the fleet was up")
        if waited > timeout:
            raise BenchError(f"{online}/{robots} robots online after {timeout:.0f} s")
        try:
            status, fleet = _get(f"{base}/api/fleet")
            online = int(fleet["robots_online"]) if status == 200 else 0
        except (OSError, ValueError, KeyError, TypeError):
            online = 0
        if waited - last_report >= 5:
            progress(f"http: {online}/{robots} robots online after {waited:.0f} s")
            last_report = waited
        if online < robots:
            time.sleep(0.5)
    visible = time.perf_counter() - started
    status, health = _get(f"{base}/healthz")
    if status != 200 or not isinstance(health, dict) or health.get("status") != "ok":
        raise BenchError(f"GET /healthz answered {status} {health}, not ok")
    status, rows = _get(f"{base}/api/robots", timeout=30)
    if status != 200 or not isinstance(rows, list) or len(rows) != robots:
        raise BenchError(f"GET /api/robots answered {status} with {len(rows or [])} rows, not {robots}")
    return visible


def _stop(launcher: subprocess.Popen[bytes], pids: set[int]) -> list[int]:
    """SIGINT the launcher, wait for it; the stack's processes still alive after (killed)."""
    launcher.send_signal(signal.SIGINT)
    try:
        launcher.wait(60)
    except subprocess.TimeoutExpired:
        progress("http: the launcher did not stop within 60 s after SIGINT; killing it")
        launcher.kill()
        launcher.wait()
    deadline = time.monotonic() + 5
    left = [pid for pid in pids if _alive(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [pid for pid in left if _alive(pid)]
    for pid in left:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def run_side(side: Side, args: argparse.Namespace) -> dict[str, Any]:
    """Bring up ``side``'s fleet, load each endpoint, tear it down; its figures."""
    with tempfile.TemporaryDirectory(prefix=f"rfos-http-{side.name}-run-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(side.path), "RFOS_LOG_DIR": str(Path(tmp) / "logs")}
        env.pop("MESSAGING_URL", None)
        env["RFOS_INSECURE"] = "1"  # open API and broker on both refs: tokens are timed in workorders.py
        _check_imports_from(side, env)
        deploy = Path(tmp) / "deploy"
        gen = [str(RFOS), "fleet", "gen-config", "--robots", str(args.robots), "--zones", str(args.zones)]
        subprocess.run([*gen, "--out", str(deploy)], cwd=side.path, env=env, check=True, capture_output=True)
        http_port = free_port()
        base = f"http://127.0.0.1:{http_port}"
        log_path = Path(tmp) / "launch.log"
        progress(f"http: {side.name} ({side.spec} = {side.commit[:10]}): starting {args.robots} robots ...")
        with log_path.open("wb") as log:
            launcher = subprocess.Popen(
                [
                    str(RFOS),
                    "launch",
                    str(side.path / "launch" / "fleet_1000.launch.yaml"),
                    f"robots:={args.robots}",
                    f"zones:={args.zones}",
                    f"containers:={max(1, round(args.robots / ROBOTS_PER_CONTAINER))}",
                    f"config_dir:={deploy}",
                    f"nats_port:={free_port()}",
                    f"http_port:={http_port}",
                    f"state_dir:={Path(tmp) / 'nats'}",
                    f"journal_dir:={Path(tmp) / 'journal'}",
                    "secure:=false",  # the HTTP path alone (an older ref ignores the argument)
                ],
                cwd=side.path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        pids: set[int] = {launcher.pid}
        left: list[int] = []
        try:
            visible_s = _wait_ready(base, args.robots, launcher, args.timeout)
            progress(f"http: {side.name}: {args.robots} robots online after {visible_s:.1f} s; settling")
            time.sleep(args.settle)
            pids = set(tree(launcher.pid))
            fleet_pid = _fleet_pid(pids)
            run_id = f"bench-{side.name}-{uuid.uuid4().hex[:6]}"
            endpoints = {}
            for n, endpoint in enumerate(ENDPOINTS):
                progress(
                    f"http: {side.name}: {endpoint}: {args.warmup:g} s warm-up + {args.duration:g} s ..."
                )
                result = _measure(
                    base, endpoint, fleet_pid=fleet_pid, scripts=Path(tmp), run_id=f"{run_id}-{n}", args=args
                )
                progress(
                    f"http: {side.name}: {endpoint}: {result['req_per_s']} req/s, "
                    f"p50 {result['p50_us']} us, p99 {result['p99_us']} us, non-2xx {result['non_2xx']}"
                )
                endpoints[endpoint] = result
            _, fleet = _get(f"{base}/api/fleet")
            orders_in_fleet = sum(fleet["work_orders"].values()) if isinstance(fleet, dict) else None
        except BaseException:
            tail = log_path.read_text(errors="replace")[-3000:]
            progress(f"http: {side.name} failed; the launcher's output ended with:\n{tail}")
            raise
        finally:
            pids |= set(tree(launcher.pid))
            left = _stop(launcher, pids)
            progress(f"http: {side.name}: stopped; {len(left)} process(es) left behind")
    return {
        "ref": side.spec,
        "commit": side.commit,
        "dirty_tree": side.dirty,
        "visible_s": round(visible_s, 1),
        "endpoints": endpoints,
        "orders_in_fleet_after": orders_in_fleet,
        "processes": len(pids),
        "left_behind": len(left),
    }


def _best(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Per endpoint, the round with the higher req/s."""
    if old is None:
        return new
    merged = {**new, "endpoints": dict(old["endpoints"])}
    for endpoint, result in new["endpoints"].items():
        if result["req_per_s"] > merged["endpoints"][endpoint]["req_per_s"]:
            merged["endpoints"][endpoint] = result
    merged["left_behind"] = old["left_behind"] + new["left_behind"]
    return merged


def _ratios(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for endpoint in ENDPOINTS:
        b, a = before["endpoints"][endpoint], after["endpoints"][endpoint]
        out[endpoint] = {
            key: round(a[key] / b[key], 3) if a.get(key) and b.get(key) else None
            for key in ("req_per_s", "p50_us", "p99_us", "fleet_cpu_us_per_request")
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="git ref (default: %(default)s)")
    parser.add_argument(
        "--after", default=str(ROOT), help="git ref or source directory (default: this working tree)"
    )
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--zones", type=int, default=0, help="default: one per 200 robots")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds between all online and load")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up on bring-up after this")
    parser.add_argument("--rounds", type=int, default=1, help="before/after alternations (best kept)")
    args = parser.parse_args()
    args.zones = args.zones or max(1, args.robots // 200)
    wrk = shutil.which("wrk")
    if wrk is None:
        print(f"http_api: wrk is not installed; install it with: {WRK_INSTALL}", file=sys.stderr)
        return 2
    version = subprocess.run([wrk, "--version"], check=False, capture_output=True, text=True).stdout.split(
        " ["
    )[0]
    results: dict[str, dict[str, Any] | None] = {"before": None, "after": None}
    try:
        with _source_tree("before", args.before) as before, _source_tree("after", args.after) as after:
            for round_no in range(1, args.rounds + 1):
                for side in (before, after):
                    progress(f"http: round {round_no}/{args.rounds}: {side.name} ...")
                    results[side.name] = _best(results[side.name], run_side(side, args))
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"http_api: {exc}", file=sys.stderr)
        return 1
    if results["before"] is None or results["after"] is None:
        return 1
    emit(
        {
            "benchmark": "http_api",
            "client": f"{version}, {args.threads} thread, {args.connections} connections, closed loop",
            "robots": args.robots,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "before": results["before"],
            "after": results["after"],
            "after_over_before": _ratios(results["before"], results["after"]),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
