"""What the interface import hook costs every interpreter of the environment, and first use.

``robotfleet_nodes-import-hook.pth`` runs on every start of this venv's Python (pip, mypy,
pytest ...), so its price matters. Each figure is the median over ``RUNS`` fresh
interpreters of the CPU time (user + system) the child used, which a busy machine disturbs
far less than wall time:

- ``hook_import_us``: what ``-X importtime`` charges to importing the hook at start-up
  (``robotfleet_nodes`` and ``robotfleet_nodes._import_hook``), the whole added cost;
- ``pass_cpu_ms``: ``python -c pass`` with the hook, as installed;
- ``pass_no_site_cpu_ms``: ``python -S -c pass`` (no site-packages at all), for scale;
- ``first_interface_cpu_ms``: ``from std_msgs.msg import String; String(data="x")``:
  the first use, where pydantic, rosbags' typestore and the registry load.

Prints one JSON line. ``python benchmarks/startup.py [RUNS]``.
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile

from _common import emit, progress

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
_IMPORTTIME = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \|\s+(\S.*)$")


def _cpu_ms(args: list[str], cwd: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, *args], check=True, cwd=cwd, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3


def _hook_import_us(cwd: str) -> int:
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"],
        check=True,
        cwd=cwd,
        capture_output=True,
        text=True,
    ).stderr
    cumulative = {m.group(2).strip(): int(m.group(1)) for m in map(_IMPORTTIME.match, err.splitlines()) if m}
    if "robotfleet_nodes" not in cumulative:
        raise SystemExit("the import hook is not installed at start-up: reinstall the package (make setup)")
    return cumulative["robotfleet_nodes"]


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def main() -> None:
    # A neutral working directory: the checkout must not be on sys.path of the children.
    with tempfile.TemporaryDirectory() as cwd:
        progress(f"{RUNS} interpreters per figure")
        _cpu_ms(["-c", "pass"], cwd)  # warm the caches (and bytecode)
        hook = [float(_hook_import_us(cwd)) for _ in range(RUNS)]
        plain = [_cpu_ms(["-c", "pass"], cwd) for _ in range(RUNS)]
        no_site = [_cpu_ms(["-S", "-c", "pass"], cwd) for _ in range(RUNS)]
        first = [
            _cpu_ms(["-c", 'from std_msgs.msg import String; String(data="x")'], cwd)
            for _ in range(RUNS // 5 or 1)
        ]
    emit(
        {
            "benchmark": "startup",
            "runs": RUNS,
            "bytecode_cache": not os.environ.get("PYTHONDONTWRITEBYTECODE"),
            "hook_import_us": _median(hook),
            "pass_cpu_ms": _median(plain),
            "pass_no_site_cpu_ms": _median(no_site),
            "first_interface_cpu_ms": _median(first),
        }
    )


if __name__ == "__main__":
    main()
