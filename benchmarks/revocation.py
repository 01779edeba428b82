"""Revocation: seconds from ``rfos security revoke robot-7`` to robot-7's connection closed.

Generates a secured deployment (default 1000 robots in 5 zones, 4 edge containers), starts
nats-server from its ``secrets/nats-server.conf`` (TLS, operator mode, full resolver) on a
free port, connects robot-7 on its own identity and the edge container holding robot-7
(``robots-1-250``), then, per round: revoke robot-7 (re-sign the account JWT, re-issue the
container without robot-7, push the account with the system user) and time until both
connections are closed by the server; then re-issue robot-7 (untimed) and reconnect.
Reports the revoke call alone and revoke -> closed, p50 and max over the rounds. Target
(issue #14): <= 2 s. Prints one JSON line; progress on stderr.

    .venv/bin/python benchmarks/revocation.py --robots 1000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from _common import emit, progress
from _proc import free_port

from robotfleet_nodes.broker import find_nats_server
from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.security.revocation import reissue, revoke

TIMEOUT = 10.0


def start_server(config: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = work / "server.log"
    cmd = [find_nats_server(), "-c", str(config), "-a", "127.0.0.1", "-p", str(port)]
    cmd += ["-js", "-sd", str(work / "js"), "-l", str(log)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while not (log.exists() and "Server is ready" in log.read_text(errors="replace")):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("nats-server did not start")
        time.sleep(0.02)
    return proc, f"nats://127.0.0.1:{port}"


async def connect(url: str, secrets: Path, name: str, closed: asyncio.Event) -> Any:
    async def on_closed() -> None:
        closed.set()

    async def on_error(exc: Exception) -> None:
        pass

    return await nats.connect(
        url,
        user_credentials=str(secrets / f"{name}.creds"),
        inbox_prefix=f"_INBOX.{name}",
        tls=ssl.create_default_context(cafile=str(secrets / "ca.pem")),
        allow_reconnect=False,
        closed_cb=on_closed,
        error_cb=on_error,
    )


async def run(robots: int, rounds: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="rfos-revoke-"))
    try:
        out = work / "deploy"
        generate_deployment(out, robots=robots, zones=max(1, robots // 200))
        secrets = out / "secrets"
        proc, url = start_server(secrets / "nats-server.conf", work)
        holder = next(p.stem for p in secrets.glob("robots-1-*.creds"))
        calls, closes = [], []
        try:
            for round_no in range(1, rounds + 1):
                robot_closed, holder_closed = asyncio.Event(), asyncio.Event()
                robot = await connect(url, secrets, "robot-7", robot_closed)
                container = await connect(url, secrets, holder, holder_closed)
                start = time.perf_counter()
                await revoke(out, "robot-7", url=url)
                called = time.perf_counter() - start
                await asyncio.wait_for(asyncio.gather(robot_closed.wait(), holder_closed.wait()), TIMEOUT)
                closed = time.perf_counter() - start
                calls.append(called)
                closes.append(closed)
                progress(
                    f"revocation: round {round_no}/{rounds}: call {called:.3f} s, closed after {closed:.3f} s"
                )
                for nc in (robot, container):
                    if not nc.is_closed:
                        await nc.close()
                await reissue(out, "robot-7", url=url)
        finally:
            proc.terminate()
            proc.wait(5)
        return {
            "benchmark": "revocation",
            "robots": robots,
            "container": holder,
            "rounds": rounds,
            "revoke_call_s": {"p50": round(statistics.median(calls), 3), "max": round(max(calls), 3)},
            "revoke_to_closed_s": {"p50": round(statistics.median(closes), 3), "max": round(max(closes), 3)},
            "target_s": 2.0,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    emit(asyncio.run(run(args.robots, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
