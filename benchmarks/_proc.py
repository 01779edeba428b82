"""What the benchmarks read about processes from ``/proc``: trees, CPU, memory, free ports."""

from __future__ import annotations

import base64
import os
import resource
import socket
import time
import zlib
from pathlib import Path

__all__ = [
    "cpu_by_part",
    "cpu_seconds",
    "free_port",
    "own_cpu",
    "part_of",
    "pss_kib",
    "rss_mib",
    "stat",
    "tree",
]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first); None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def tree(root: int) -> dict[int, int]:
    """``{pid: ppid}`` of ``root`` and its live (not zombie) descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat(int(entry))
            if fields is not None and fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found = {root: parents.get(root, 0)}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = parents[child]
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far; 0.0 once it is gone."""
    fields = stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mib(pid: int | str = "self") -> float:
    """Resident set size of ``pid`` in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pss_kib(pid: int) -> int:
    """Proportional set size of ``pid`` (shared pages split among their users) in KiB; 0 if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def part_of(pid: int) -> str:
    """Which part of a launched fleet process ``pid`` is: nats, fleet, area, zone, edges
    (edge processes and edge containers), vehicle_sim (``rfos vda5050 sim``), launch."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    text = b" ".join(argv).decode(errors="replace")
    if "vda5050 sim" in text:
        return "vehicle_sim"
    if "nats-server" in text or " broker" in text:
        return "nats"
    if "_container_main" in text:
        spec = text
        if b"--spec-z" in argv:
            spec = zlib.decompress(base64.b64decode(argv[argv.index(b"--spec-z") + 1])).decode()
        return "zone" if "ZoneComponent" in spec else "edges"
    if "_zygote" in text or "_forkserver" in text:
        return "edges"
    for name in ("fleet", "area", "zone", "edge"):
        if any(Path(a.decode(errors="replace")).name == name for a in argv[:2]):
            return "edges" if name == "edge" else name
    return "launch"


def cpu_by_part(pids: set[int], seconds: float) -> tuple[dict[str, float], list[int]]:
    """CPU of ``pids`` over the next ``seconds``, as a fraction of one core per :func:`part_of`,
    and the pids still alive at the end."""
    before = {pid: cpu_seconds(pid) for pid in pids}
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    parts: dict[str, float] = {}
    for pid in alive:
        part = part_of(pid)
        parts[part] = parts.get(part, 0.0) + (cpu_seconds(pid) - before[pid]) / elapsed
    return parts, alive
