"""The chaos benchmark's counting rules (``benchmarks/_chaos_count.py``), on synthetic journals.

The benchmark itself is never run by the tests (it takes minutes); what it counts is pinned
here: a refused start is no execution, an interrupted run retried later is not "twice",
overlapping runs and two successes are, and the fleet's view is checked against the journals.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_chaos_count.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_count_under_test", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cc = _load()


def _lines(*records: dict[str, Any]) -> list[str]:
    return [json.dumps(r) for r in records]


def start(o: str, a: int, t: float) -> dict[str, Any]:
    return {"e": "start", "o": o, "a": a, "t": t}


def end(o: str, a: int, t: float, s: str, m: str = "") -> dict[str, Any]:
    return {"e": "end", "o": o, "a": a, "s": s, "m": m, "t": t}


def executions(journals: dict[str, list[str]]) -> list[Any]:
    out: list[Any] = []
    for robot, lines in journals.items():
        found, bad = cc.parse_journal(robot, lines)
        assert bad == 0
        out.extend(found)
    return out


def test_refused_start_is_no_execution() -> None:
    runs = executions({"robot-1": _lines(start("wo-1", 1, 10.0), end("wo-1", 1, 10.1, "REFUSED", "stale"))})
    assert runs == []


def test_fence_records_are_not_executions() -> None:
    runs = executions({"robot-1": _lines({"e": "fence", "o": "wo-1", "a": 2, "t": 5.0})})
    assert runs == []


def test_interrupted_then_retried_elsewhere_is_not_twice() -> None:
    """robot-1 was killed at t=14 mid-task; its restart wrote INTERRUPTED at t=25, but the retry
    on robot-2 began at t=20: the kill time, not the INTERRUPTED record, ends the first run."""
    runs = executions(
        {
            "robot-1": _lines(
                start("wo-1", 1, 10.0), end("wo-1", 1, 25.0, "INTERRUPTED", "the edge stopped")
            ),
            "robot-2": _lines(start("wo-1", 2, 20.0), end("wo-1", 2, 24.0, "SUCCEEDED")),
        }
    )
    tally = cc.count(runs, ["wo-1"], {"wo-1": "COMPLETED"}, down_at={"robot-1": [14.0]})
    assert tally.executions == 2
    assert tally.executed_twice == []
    assert tally.completed_twice == []
    assert tally.lost == [] and tally.stuck == []


def test_interrupted_without_known_kill_overlaps() -> None:
    """Without a kill of robot-1's process the INTERRUPTED run's stop is unknown: it overlaps."""
    runs = executions(
        {
            "robot-1": _lines(start("wo-1", 1, 10.0), end("wo-1", 1, 25.0, "INTERRUPTED")),
            "robot-2": _lines(start("wo-1", 2, 20.0), end("wo-1", 2, 24.0, "SUCCEEDED")),
        }
    )
    assert cc.count(runs, ["wo-1"], {"wo-1": "COMPLETED"}).executed_twice == ["wo-1"]


def test_overlapping_runs_are_executed_twice() -> None:
    """robot-1 cancelled at t=18 after robot-2 had started at t=15: both ran for 3 s."""
    runs = executions(
        {
            "robot-1": _lines(start("wo-1", 1, 10.0), end("wo-1", 1, 18.0, "CANCELLED", "revoked by zone-1")),
            "robot-2": _lines(start("wo-1", 2, 15.0), end("wo-1", 2, 20.0, "SUCCEEDED")),
        }
    )
    tally = cc.count(runs, ["wo-1"], {"wo-1": "COMPLETED"})
    assert tally.executed_twice == ["wo-1"]
    assert tally.completed_twice == []
    assert [d["robot"] for d in tally.details["wo-1"]] == ["robot-1", "robot-2"]


def test_back_to_back_runs_do_not_overlap() -> None:
    runs = executions(
        {
            "robot-1": _lines(start("wo-1", 1, 10.0), end("wo-1", 1, 15.0, "CANCELLED")),
            "robot-2": _lines(start("wo-1", 2, 15.0), end("wo-1", 2, 20.0, "SUCCEEDED")),
        }
    )
    assert cc.count(runs, ["wo-1"], {"wo-1": "COMPLETED"}).executed_twice == []


def test_two_successes_in_sequence_are_executed_and_completed_twice() -> None:
    """The issue's zone-restart story: the same robot ran the order again after finishing it."""
    runs = executions(
        {
            "robot-1": _lines(
                start("wo-1", 1, 10.0),
                end("wo-1", 1, 14.0, "SUCCEEDED"),
                start("wo-1", 2, 30.0),
                end("wo-1", 2, 34.0, "SUCCEEDED"),
            )
        }
    )
    tally = cc.count(runs, ["wo-1"], {"wo-1": "COMPLETED"})
    assert tally.executed_twice == ["wo-1"]
    assert tally.completed_twice == ["wo-1"]


def test_open_run_without_end_overlaps_a_later_run() -> None:
    """A start never ended and never killed: still running, so a second run overlaps it."""
    runs = executions(
        {
            "robot-1": _lines(start("wo-1", 1, 10.0)),
            "robot-2": _lines(start("wo-1", 2, 40.0), end("wo-1", 2, 44.0, "SUCCEEDED")),
        }
    )
    assert cc.count(runs, ["wo-1"], {"wo-1": "COMPLETED"}).executed_twice == ["wo-1"]


def test_lost_stuck_404_and_the_fleets_view() -> None:
    runs = executions(
        {
            "robot-1": _lines(
                start("done", 1, 1.0),
                end("done", 1, 2.0, "SUCCEEDED"),
                start("unreported", 1, 3.0),
                end("unreported", 1, 4.0, "SUCCEEDED"),
            )
        }
    )
    api = {
        "done": "COMPLETED",
        "unreported": "EXECUTING",  # the robot finished, the fleet never heard: stuck, not lost
        "phantom": "COMPLETED",  # COMPLETED with no SUCCEEDED line anywhere: lost, a finding
        "waiting": "PENDING",  # never ran: stuck and lost
        "failed": "FAILED",  # never ran, but the API says why: neither
        "forgotten": None,  # accepted, then 404
    }
    tally = cc.count(runs, list(api), api)
    assert sorted(tally.lost) == ["forgotten", "phantom", "waiting"]
    assert sorted(tally.stuck) == ["unreported", "waiting"]
    assert tally.not_found == ["forgotten"]
    assert tally.completed_without_success == ["phantom"]
    assert tally.succeeded_not_completed == ["unreported"]
    assert tally.lost_states == {"404": 1, "COMPLETED": 1, "PENDING": 1}
    summary = tally.summary()
    assert summary["lost"] == 3 and summary["stuck"] == 2 and summary["executed_twice"] == 0


def test_torn_last_line_is_counted_not_fatal() -> None:
    lines = [*_lines(start("wo-1", 1, 1.0), end("wo-1", 1, 2.0, "SUCCEEDED")), '{"e": "start", "o": "wo-']
    runs, bad = cc.parse_journal("robot-1", lines)
    assert bad == 1
    assert [r.outcome for r in runs] == ["SUCCEEDED"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("robot-3: work order wo-1 completed", "SUCCEEDED"),
        ("robot-3: work order wo-1 ended: cancelled by the zone", "CANCELLED"),
        ("robot-3: work order wo-1 ended: battery empty", "FAILED"),
        ("robot-3: rejected work order wo-1: already executing it", None),
    ],
)
def test_fallback_log_lines(line: str, expected: str | None) -> None:
    lines = [(1.0, "[INFO] [edge]: robot-3: received work order wo-1 (task=pick, target=auto)"), (5.0, line)]
    runs = cc.parse_edge_log(lines)["robot-3"]
    assert [r.outcome for r in runs] == ([expected] if expected else [])


def test_first_after() -> None:
    runs = executions(
        {
            "robot-1": _lines(start("a", 1, 1.0), end("a", 1, 5.0, "SUCCEEDED")),
            "robot-2": _lines(start("b", 1, 6.0), end("b", 1, 9.0, "FAILED"), start("c", 1, 9.5)),
        }
    )
    assert cc.first_after(runs, 0.0) == 5.0
    assert cc.first_after(runs, 5.0) is None
    assert cc.first_after(runs, 5.0, what="start") == 6.0
    assert cc.first_after(runs, 0.0, robots=["robot-2"]) is None
    assert cc.first_after(runs, 6.0, orders=["c"], what="start") == 9.5


def test_paused_run_does_not_overlap_the_retry() -> None:
    """Optional pause/resume records: robot-1 paused at t=14 (lease lost) and was revoked at t=25;
    robot-2 ran the retry from t=20: robot-1 was not executing then."""
    runs = executions(
        {
            "robot-1": _lines(
                start("wo-1", 1, 10.0),
                {"e": "pause", "o": "wo-1", "a": 1, "t": 14.0},
                end("wo-1", 1, 25.0, "CANCELLED", "revoked by zone-1"),
            ),
            "robot-2": _lines(start("wo-1", 2, 20.0), end("wo-1", 2, 24.0, "SUCCEEDED")),
        }
    )
    assert runs[0].active() == [(10.0, 14.0)]
    assert cc.count(runs, ["wo-1"], {"wo-1": "COMPLETED"}).executed_twice == []


def test_resumed_run_overlapping_the_retry_is_twice() -> None:
    runs = executions(
        {
            "robot-1": _lines(
                start("wo-1", 1, 10.0),
                {"e": "pause", "o": "wo-1", "a": 1, "t": 14.0},
                {"e": "resume", "o": "wo-1", "a": 1, "t": 21.0},
                end("wo-1", 1, 23.0, "FAILED", "blocked"),
            ),
            "robot-2": _lines(start("wo-1", 2, 20.0), end("wo-1", 2, 24.0, "SUCCEEDED")),
        }
    )
    assert runs[0].active() == [(10.0, 14.0), (21.0, 23.0)]
    assert cc.count(runs, ["wo-1"], {"wo-1": "COMPLETED"}).executed_twice == ["wo-1"]
