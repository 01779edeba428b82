"""``benchmarks/sensors.py`` in its smallest mode: one type, two contenders, the JSON's shape.

The figures are the benchmark's business; this only proves the script runs end to end on a
real (embedded) nats-server and prints one JSON line with a row per mode and encoding, each
contender's cell carrying either figures or an error, and the ratios; in one Context, ours
hands the subscriber the very objects it published.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sensors.py"


def test_quick_string_prints_one_row_per_mode() -> None:
    done = subprocess.run(
        [sys.executable, str(_SCRIPT), "--quick", "--only", "^String$", "--contenders", "ours,raw_typed"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert result["benchmark"] == "sensors"
    assert "memory" not in result  # --only selects it by name only
    assert [(r["type"], r["mode"], r["encoding"]) for r in result["rows"]] == [
        ("String", mode, encoding) for mode in ("cross", "intra", "context") for encoding in ("json", "cdr")
    ]
    for row in result["rows"]:
        assert row["ros_type"] == "std_msgs/msg/String"
        contenders = ("ours",) if row["mode"] == "context" else ("ours", "raw_typed")
        for contender in contenders:
            cell = row[contender]
            assert "error" in cell or {"msg_per_s", "mb_per_s", "drops", "p50_ms", "p99_ms"} <= cell.keys(), (
                cell
            )
        if row["mode"] == "context":
            assert "raw_typed" not in row and row["ratios"] == {}
            assert "error" in row["ours"] or row["ours"]["zero_copy"] is True, row["ours"]
        else:
            assert set(row["ratios"]) == {"ours_vs_raw_typed_msg_per_s", "ours_vs_raw_typed_mb_per_s"}


def test_the_64_mib_row_reports_figures_or_the_publishers_error() -> None:
    """Over every broker's max_payload until chunking lands: the row says why, the run goes on."""
    done = subprocess.run(
        [sys.executable, str(_SCRIPT), "--only", "^Blob64MiB$", "--contenders", "ours"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = json.loads(done.stdout)["rows"]
    assert [(r["type"], r["mode"], r["encoding"]) for r in rows] == [("Blob64MiB", "cross", "cdr")]
    cell = rows[0]["ours"]
    assert cell["bytes"] > 64 << 20
    # without chunking nats-py's MaxPayloadError; with it, figures (back to back into KEEP_LAST 2:
    # some dropped, how many depends on the machine's load)
    assert (
        cell.get("error", "").startswith("MaxPayloadError") or {"sent", "received", "drops"} <= cell.keys()
    ), cell
