"""The chaos benchmark's arithmetic: executions from the robots' journals, and what they say.

Pure functions over plain data (no processes, no clock), so ``tests/benchmarks`` can pin
every rule with synthetic journal lines:

- :func:`parse_journal` reads one robot's execution journal (the edge's contract, see
  docs/fleet.md and the issue-13 design: ``start`` / ``end`` / ``fence`` records, one JSON
  object a line) into :class:`Execution` s. A ``start`` whose ``end`` is ``REFUSED`` is no
  execution (the driver never ran it); a ``start`` without an ``end`` stays open.
- :func:`parse_edge_log` is the FALLBACK for edges that keep no journal yet: the same
  records made up from the edges' log lines ("received work order X", "rejected work
  order X", "work order X completed", "work order X ended: ..."), time-stamped when the
  benchmark read them.
- :func:`count` says, per order, whether it was executed twice (two executions that
  overlapped in time, or two that both SUCCEEDED) or completed twice (>= 2 SUCCEEDED), and
  compares with the fleet's final view: lost, stuck, COMPLETED without a SUCCEEDED line.
- :func:`first_after` finds the recovery moments (the first execution start / success on a
  path after a time).

Optional ``pause`` / ``resume`` records (``{"e": "pause", "o": ..., "a": ..., "t": ...}``; NOT
in the journal contract yet, proposed so that a paused lease is not counted as executing) cut
an execution's active time: two executions overlap only where both were active. Their ``t``
should be when the robot stopped moving (the lease deadline), not when the record was written.

An execution that never ended, or ended INTERRUPTED (the restarted edge writes that record
when it starts again, so its time is the restart, not the stop), is taken to have stopped
when its robot's process was killed (``down_at``): the benchmark knows when it killed it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FINAL_STATES",
    "Execution",
    "Tally",
    "count",
    "first_after",
    "parse_edge_log",
    "parse_journal",
]

#: Order states the API reports as final.
FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})

_OPEN_ENDS = frozenset({None, "INTERRUPTED"})
_KINDS = frozenset({"start", "end", "fence", "pause", "resume"})


@dataclass(frozen=True)
class Execution:
    """One run of an order on a robot: from its ``start`` record to its ``end`` record."""

    robot: str
    order: str
    attempt: int
    start: float
    end: float | None = None
    """Time of the ``end`` record; None while (or if) the journal has none."""
    outcome: str | None = None
    """SUCCEEDED, FAILED, CANCELLED or INTERRUPTED; None without an end record."""
    pauses: tuple[tuple[float, float], ...] = ()
    """``(pause t, resume t)`` of optional ``pause`` / ``resume`` records (+inf: never resumed)."""

    def stopped(self, down_at: Sequence[float] = ()) -> float:
        """When the robot stopped executing it: its end, or the first kill of its process after the
        start when that came first or the end says nothing (INTERRUPTED, none); +inf if unknown."""
        end = math.inf if self.outcome in _OPEN_ENDS or self.end is None else self.end
        kills = [t for t in down_at if t >= self.start]
        return min([end, *kills])

    def active(self, down_at: Sequence[float] = ()) -> list[tuple[float, float]]:
        """The intervals it was executing: start to :meth:`stopped`, minus its pauses."""
        stop = self.stopped(down_at)
        out: list[tuple[float, float]] = []
        cursor = self.start
        for paused, resumed in sorted(self.pauses):
            if paused > cursor:
                out.append((cursor, min(paused, stop)))
            cursor = max(cursor, resumed)
        if cursor < stop:
            out.append((cursor, stop))
        return [(a, b) for a, b in out if b > a]


def _records_to_executions(robot: str, records: Iterable[Mapping[str, Any]]) -> list[Execution]:
    # per (order, attempt): the open runs, each [start time, its pauses]
    open_: dict[tuple[str, int], list[tuple[float, list[list[float]]]]] = {}
    done: list[Execution] = []
    for rec in records:
        kind, order, attempt = rec.get("e"), str(rec.get("o", "")), int(rec.get("a", 0))
        t = float(rec.get("t", 0.0))
        runs = open_.get((order, attempt))
        if kind == "start":
            open_.setdefault((order, attempt), []).append((t, []))
        elif kind == "pause" and runs:
            runs[-1][1].append([t, math.inf])
        elif kind == "resume" and runs and runs[-1][1] and runs[-1][1][-1][1] == math.inf:
            runs[-1][1][-1][1] = t
        elif kind == "end" and runs:  # an end without a start: nothing ran that we saw begin
            began, pauses = runs.pop()  # the latest start of that attempt (LIFO)
            if rec.get("s") != "REFUSED":
                held = tuple((p, r) for p, r in pauses)
                done.append(Execution(robot, order, attempt, began, t, str(rec.get("s")), held))
    for (order, attempt), runs_left in open_.items():
        done.extend(
            Execution(robot, order, attempt, began, pauses=tuple((p, r) for p, r in pauses))
            for began, pauses in runs_left
        )
    return sorted(done, key=lambda x: x.start)


def parse_journal(robot: str, lines: Iterable[str]) -> tuple[list[Execution], int]:
    """The executions in one robot's journal lines, and how many lines were not valid records.

    A torn last line (a process killed mid-write) is counted as invalid, not fatal.
    """
    records: list[Mapping[str, Any]] = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(rec, dict) and rec.get("e") in _KINDS and "o" in rec:
            records.append(rec)
        else:
            bad += 1
    return _records_to_executions(robot, records), bad


_LOG_PATTERNS = (
    (re.compile(r"(?P<robot>[A-Za-z][\w-]*): received work order (?P<order>\S+) \("), "start", None),
    (re.compile(r"(?P<robot>[A-Za-z][\w-]*): rejected work order (?P<order>\S+):"), "end", "REFUSED"),
    (re.compile(r"(?P<robot>[A-Za-z][\w-]*): work order (?P<order>\S+) completed"), "end", "SUCCEEDED"),
    (re.compile(r"(?P<robot>[A-Za-z][\w-]*): work order (?P<order>\S+) ended: (?P<m>.*)"), "end", "FAILED"),
)


def parse_edge_log(lines: Iterable[tuple[float, str]]) -> dict[str, list[Execution]]:
    """FALLBACK: executions per robot made up from edge log lines ``(time read, line)``.

    Today's edges log "received work order X (...)" when a goal arrives, "rejected work
    order X: ..." when they refuse it, and "work order X completed" / "ended: <why>" when it
    ends; a killed edge logs nothing more (its open run ends at the kill, see ``down_at``).
    """
    records: dict[str, list[dict[str, Any]]] = {}
    for t, line in lines:
        for pattern, kind, outcome in _LOG_PATTERNS:
            match = pattern.search(line)
            if match is None:
                continue
            rec: dict[str, Any] = {"e": kind, "o": match["order"], "a": 0, "t": t}
            if outcome is not None:
                cancelled = outcome == "FAILED" and "cancel" in match.groupdict().get("m", "").lower()
                rec["s"] = "CANCELLED" if cancelled else outcome
            records.setdefault(match["robot"], []).append(rec)
            break
    return {robot: _records_to_executions(robot, recs) for robot, recs in records.items()}


@dataclass
class Tally:
    """What :func:`count` found."""

    executions: int = 0
    orders_executed: int = 0
    executed_twice: list[str] = field(default_factory=list)
    completed_twice: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    completed_without_success: list[str] = field(default_factory=list)
    succeeded_not_completed: list[str] = field(default_factory=list)
    api_states: dict[str, int] = field(default_factory=dict)
    lost_states: dict[str, int] = field(default_factory=dict)
    """The API's final state of the lost orders ("404": unknown to it)."""
    details: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per order found executed twice: its executions (robot, attempt, start, end, outcome)."""

    def summary(self, examples: int = 10) -> dict[str, Any]:
        """Counts, plus the first ``examples`` order ids of each finding."""
        out: dict[str, Any] = {"executions": self.executions, "orders_executed": self.orders_executed}
        for name in (
            "lost",
            "stuck",
            "executed_twice",
            "completed_twice",
            "not_found",
            "completed_without_success",
            "succeeded_not_completed",
        ):
            ids = getattr(self, name)
            out[name] = len(ids)
            if ids:
                out[f"{name}_ids"] = sorted(ids)[:examples]
        out["lost_by_api_state"] = dict(sorted(self.lost_states.items()))
        out["api_states"] = dict(sorted(self.api_states.items()))
        return out


def _overlap(a: Execution, b: Execution, down_at: Mapping[str, Sequence[float]]) -> bool:
    return any(
        min(a1, b1) > max(a0, b0)
        for a0, a1 in a.active(down_at.get(a.robot, ()))
        for b0, b1 in b.active(down_at.get(b.robot, ()))
    )


def count(
    executions: Iterable[Execution],
    accepted: Iterable[str],
    api_state: Mapping[str, str | None],
    *,
    down_at: Mapping[str, Sequence[float]] | None = None,
) -> Tally:
    """Count executions per order against what the API accepted and reports at the end.

    ``accepted``: order ids the API answered 2xx; ``api_state``: each one's final state per
    the API (None: 404); ``down_at``: per robot, times its process was killed.
    """
    down = down_at or {}
    per_order: dict[str, list[Execution]] = {}
    tally = Tally()
    for execution in executions:
        per_order.setdefault(execution.order, []).append(execution)
        tally.executions += 1
    tally.orders_executed = len(per_order)
    for order, runs in per_order.items():
        successes = sum(1 for r in runs if r.outcome == "SUCCEEDED")
        overlapping = any(_overlap(a, b, down) for i, a in enumerate(runs) for b in runs[i + 1 :])
        if successes >= 2:
            tally.completed_twice.append(order)
        if successes >= 2 or overlapping:
            tally.executed_twice.append(order)
            tally.details[order] = [
                {"robot": r.robot, "attempt": r.attempt, "start": r.start, "end": r.end, "outcome": r.outcome}
                for r in sorted(runs, key=lambda x: x.start)
            ]
    for order in accepted:
        state = api_state.get(order)
        key = state or "404"
        tally.api_states[key] = tally.api_states.get(key, 0) + 1
        succeeded = any(r.outcome == "SUCCEEDED" for r in per_order.get(order, ()))
        if state is None:
            tally.not_found.append(order)
        elif state not in FINAL_STATES:
            tally.stuck.append(order)
        if not succeeded and state not in ("FAILED", "CANCELLED"):
            tally.lost.append(order)
            tally.lost_states[key] = tally.lost_states.get(key, 0) + 1
        if state == "COMPLETED" and not succeeded:
            tally.completed_without_success.append(order)
        if succeeded and state != "COMPLETED":
            tally.succeeded_not_completed.append(order)
    return tally


def first_after(
    executions: Iterable[Execution],
    after: float,
    *,
    robots: Iterable[str] | None = None,
    orders: Iterable[str] | None = None,
    what: str = "success",
) -> float | None:
    """The first time after ``after`` an execution on ``robots`` / of ``orders`` (None: any)
    ``what`` = ``"success"`` ended SUCCEEDED or ``"start"`` started; None if never."""
    robot_set = set(robots) if robots is not None else None
    order_set = set(orders) if orders is not None else None
    times = [
        (x.end if what == "success" else x.start)
        for x in executions
        if (robot_set is None or x.robot in robot_set)
        and (order_set is None or x.order in order_set)
        and (what == "start" or (x.outcome == "SUCCEEDED" and x.end is not None))
    ]
    later = [t for t in times if t is not None and t > after]
    return min(later) if later else None
