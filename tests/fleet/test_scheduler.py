"""The fleet's scheduler as tables: one case per rule of ``robotfleet_nodes.fleet.scheduler``."""

from __future__ import annotations

from typing import Any

import pytest

from robotfleet_nodes.fleet.scheduler import MAX_BACKOFF_S, AreaState, Pick, backoff_s, picks
from robotfleet_nodes.msg import AreaSummary

NOW = 100.0
TIMEOUT = 3.0  # area_silence_timeout_s
MAX = 64  # max_in_flight unless a case says otherwise
INTERVAL = 0.05  # dispatch_interval_s


def area(capacity: int | None = 10, **fields: Any) -> AreaState:
    """An area whose summary (capacity ``capacity``; None: never reported) arrived at NOW."""
    state = AreaState(**fields)
    if capacity is not None:
        state.note_summary(AreaSummary(area_id="area-1", capacity=capacity), fields.get("seen", NOW))
        for name in ("handed", "freed"):  # note_summary resets them; the case sets them
            setattr(state, name, fields.get(name, 0))
    return state


def budget(state: AreaState, *, max_in_flight: int = MAX) -> int:
    return state.budget(NOW, max_in_flight=max_in_flight, silence_timeout_s=TIMEOUT)


# -- budget: how many dispatch calls may start now ----------------------------------------------

BUDGET_CASES = [
    pytest.param(3, {}, MAX, 3, id="capacity"),
    pytest.param(0, {}, MAX, 0, id="no-capacity"),
    pytest.param(3, {"in_flight": 1}, MAX, 2, id="minus-in-flight"),
    pytest.param(3, {"handed": 2}, MAX, 1, id="minus-handed-since-summary"),
    pytest.param(2, {"freed": 1}, MAX, 3, id="plus-freed-since-summary"),
    pytest.param(3, {"handed": 3, "freed": 1}, MAX, 1, id="freed-offsets-handed"),
    pytest.param(3, {"handed": 2, "in_flight": 2}, MAX, -1, id="over-budget-is-not-positive"),
    pytest.param(100, {}, 4, 4, id="capped-by-max-in-flight"),
    pytest.param(100, {"in_flight": 3}, 4, 1, id="cap-counts-calls-in-flight"),
    pytest.param(100, {"in_flight": 4}, 4, 0, id="cap-reached"),
    pytest.param(3, {"backoff_until": NOW + 0.1}, MAX, 0, id="backoff-window"),
    pytest.param(3, {"backoff_until": NOW}, MAX, 3, id="backoff-ends-now"),
    pytest.param(None, {}, MAX, 1, id="never-reported-probe"),
    pytest.param(None, {"in_flight": 1}, MAX, 0, id="never-reported-one-at-a-time"),
    pytest.param(None, {"backoff_until": NOW + 0.1}, MAX, 0, id="probe-waits-for-backoff"),
    pytest.param(None, {}, 0, 0, id="probe-within-max-in-flight"),
    pytest.param(3, {"seen": NOW - TIMEOUT - 0.01}, MAX, 1, id="silent-area-probe"),
    pytest.param(3, {"seen": NOW - TIMEOUT - 0.01, "in_flight": 1}, MAX, 0, id="silent-one-at-a-time"),
    pytest.param(3, {"seen": NOW - TIMEOUT}, MAX, 3, id="silence-timeout-itself-is-fresh"),
]


@pytest.mark.parametrize(("capacity", "fields", "max_in_flight", "expected"), BUDGET_CASES)
def test_budget_rule(capacity: int | None, fields: dict[str, Any], max_in_flight: int, expected: int) -> None:
    state = area(capacity, **fields)
    assert budget(state, max_in_flight=max_in_flight) == expected
    # the same rule bounds what one pass picks
    for i in range(5):
        state.enqueue(f"wo-{i}", 5, i)
    got = picks(
        {"area-1": state}, NOW, pending=lambda _: True, max_in_flight=max_in_flight, silence_timeout_s=TIMEOUT
    )
    assert len(got) == min(5, max(0, expected))


# -- backoff after a refusal or an unreachable area ----------------------------------------------

BACKOFF_CASES = [
    pytest.param(1, INTERVAL, 0.1, id="first-failure-doubles"),
    pytest.param(2, INTERVAL, 0.2, id="second-failure"),
    pytest.param(5, INTERVAL, 1.6, id="fifth-failure"),
    pytest.param(6, INTERVAL, MAX_BACKOFF_S, id="capped"),
    pytest.param(1, 5.0, MAX_BACKOFF_S, id="long-interval-capped"),
    pytest.param(5000, INTERVAL, MAX_BACKOFF_S, id="many-failures-no-overflow"),
]


@pytest.mark.parametrize(("failures", "interval", "expected"), BACKOFF_CASES)
def test_backoff_rule(failures: int, interval: float, expected: float) -> None:
    assert backoff_s(failures, interval) == pytest.approx(expected)


def test_refusals_back_off_longer_each_time_and_an_acceptance_resets() -> None:
    state = area(3)
    state.note_refused(NOW, INTERVAL)
    assert (state.failures, state.backoff_until) == (1, pytest.approx(NOW + 0.1))
    assert budget(state) == 0
    state.note_refused(NOW, INTERVAL)
    assert (state.failures, state.backoff_until) == (2, pytest.approx(NOW + 0.2))
    state.note_accepted()
    assert (state.failures, state.handed) == (0, 1)
    state.note_refused(NOW, INTERVAL)
    assert state.backoff_until == pytest.approx(NOW + 0.1)


def test_a_summary_restarts_the_handed_and_freed_counts() -> None:
    state = area(3, handed=2, freed=1)
    state.note_freed()
    assert budget(state) == 3 + 2 - 2
    state.note_summary(AreaSummary(area_id="area-1", capacity=4), NOW + 1.0)
    assert (state.handed, state.freed, state.seen) == (0, 0, NOW + 1.0)
    assert budget(state) == 4


# -- the queue: which orders a pass picks, in which order -----------------------------------------

# ids sort differently from their submission order, so FIFO is not alphabetical order
QUEUE_CASES = [
    pytest.param(
        [("wo-c", 0), ("wo-b", 5), ("wo-a", 9)], set(), set(), ["wo-a", "wo-b", "wo-c"], id="priority-9-first"
    ),
    pytest.param(
        [("wo-c", 5), ("wo-a", 5), ("wo-b", 5)],
        set(),
        set(),
        ["wo-c", "wo-a", "wo-b"],
        id="fifo-within-priority",
    ),
    pytest.param(
        [("wo-d", 5), ("wo-c", 9), ("wo-b", 5), ("wo-a", 9)],
        set(),
        set(),
        ["wo-c", "wo-a", "wo-d", "wo-b"],
        id="priority-then-fifo",
    ),
    pytest.param(
        [("wo-c", 5), ("wo-b", 5), ("wo-a", 5)], {"wo-b"}, set(), ["wo-c", "wo-a"], id="discarded-id-skipped"
    ),
    pytest.param(
        [("wo-c", 5), ("wo-b", 5), ("wo-a", 5)], set(), {"wo-b"}, ["wo-c", "wo-a"], id="not-pending-skipped"
    ),
    pytest.param([("wo-c", 5), ("wo-c", 9), ("wo-a", 5)], set(), set(), ["wo-c", "wo-a"], id="queued-once"),
]


@pytest.mark.parametrize(("orders", "discarded", "not_pending", "expected"), QUEUE_CASES)
def test_queue_order(
    orders: list[tuple[str, int]], discarded: set[str], not_pending: set[str], expected: list[str]
) -> None:
    state = area(10)
    for seq, (order_id, priority) in enumerate(orders):
        state.enqueue(order_id, priority, seq)
    for order_id in discarded:
        state.discard(order_id)
    got = picks(
        {"area-1": state},
        NOW,
        pending=lambda oid: oid not in not_pending,
        max_in_flight=MAX,
        silence_timeout_s=TIMEOUT,
    )
    assert [p.order_id for p in got] == expected
    assert state.in_flight == len(expected)
    assert not_pending.isdisjoint(state.queued)  # forgotten, not picked again


def test_waiting_lists_the_dispatch_order_without_discarded_ids() -> None:
    state = area(10)
    for seq, (order_id, priority) in enumerate([("wo-c", 5), ("wo-b", 9), ("wo-a", 5)]):
        state.enqueue(order_id, priority, seq)
    state.discard("wo-a")
    assert state.waiting() == ["wo-b", "wo-c"]


def test_a_requeued_order_keeps_its_place() -> None:
    state = area(1)
    for seq, order_id in enumerate(["wo-c", "wo-b", "wo-a"]):
        state.enqueue(order_id, 5, seq)
    (first,) = picks(
        {"area-1": state}, NOW, pending=lambda _: True, max_in_flight=MAX, silence_timeout_s=TIMEOUT
    )
    assert first == Pick("area-1", "wo-c", 0)
    state.enqueue("wo-z", 5, 3)  # submitted while wo-c was being dispatched
    state.in_flight -= 1
    state.requeue(first.order_id, 5, first.seq)  # the area refused it
    assert state.waiting() == ["wo-c", "wo-b", "wo-a", "wo-z"]


def test_each_area_gets_its_own_budget_and_backoff() -> None:
    areas = {"area-1": area(1), "area-2": area(2), "area-3": area(5, backoff_until=NOW + 1.0)}
    for name, state in areas.items():
        for seq in range(3):
            state.enqueue(f"{name}/wo-{seq}", 5, seq)
    got = picks(areas, NOW, pending=lambda _: True, max_in_flight=MAX, silence_timeout_s=TIMEOUT)
    assert [(p.area_id, p.order_id) for p in got] == [
        ("area-1", "area-1/wo-0"),
        ("area-2", "area-2/wo-0"),
        ("area-2", "area-2/wo-1"),
    ]
    assert [s.in_flight for s in areas.values()] == [1, 2, 0]
    # the calls in flight count against the next pass until they end
    assert picks(areas, NOW, pending=lambda _: True, max_in_flight=MAX, silence_timeout_s=TIMEOUT) == []
