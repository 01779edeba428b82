"""The zone's robot choice as a table: one case per rule of ``robotfleet_nodes.zone.choice``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import pytest

from robotfleet_nodes.config.models import AssignmentConfig
from robotfleet_nodes.zone.choice import OrderTarget, Plan, Policy, RobotSnapshot, candidates, choose, plan

NOW = 100.0
MIN = 20.0  # min_battery_percent in every case that does not say otherwise
EXECUTING, CHARGING, ERROR = 1, 2, 3


def robot(robot_id: str, x: float = 0.0, y: float = 0.0, **kw: Any) -> RobotSnapshot:
    """An online IDLE robot with a full battery at (x, y), unless ``kw`` says otherwise."""
    return RobotSnapshot(robot_id, x=x, y=y, **kw)


def order(order_id: str, x: float | None = None, y: float = 0.0) -> OrderTarget:
    """An order with a target at (x, y), or without a target when ``x`` is None."""
    if x is None:
        return OrderTarget(order_id)
    return OrderTarget(order_id, has_target=True, x=x, y=y)


# -- who is a candidate -----------------------------------------------------------------------

CANDIDATE_CASES = [
    pytest.param({}, MIN, True, id="idle-online-charged"),
    pytest.param({"battery_percent": 19.9}, MIN, False, id="battery-below-min"),
    pytest.param({"battery_percent": 20.0}, MIN, True, id="battery-at-min"),
    pytest.param({"battery_percent": 20.1}, MIN, True, id="battery-above-min"),
    pytest.param({"battery_percent": 0.0}, 0.0, True, id="battery-empty-with-min-0"),
    pytest.param({"battery_percent": 99.0}, 100.0, False, id="battery-below-min-100"),
    pytest.param({"online": False}, MIN, False, id="offline"),
    pytest.param({"state": None}, MIN, False, id="no-status-yet"),
    pytest.param({"state": EXECUTING}, MIN, False, id="state-executing"),
    pytest.param({"state": CHARGING}, MIN, False, id="state-charging"),
    pytest.param({"state": ERROR}, MIN, False, id="state-error"),
    pytest.param({"current_order_id": "wo-9"}, MIN, False, id="status-reports-an-order"),
    pytest.param({"held": True}, MIN, False, id="zone-holds-an-order-on-it"),
    pytest.param({"refused_until": NOW + 0.5}, MIN, False, id="refusal-cooldown-running"),
    pytest.param({"refused_until": NOW}, MIN, True, id="refusal-cooldown-ends-now"),
    pytest.param({"refused_until": NOW - 1.0}, MIN, True, id="refusal-cooldown-over"),
]


@pytest.mark.parametrize(("fields", "min_battery", "expected"), CANDIDATE_CASES)
def test_candidate_rule(fields: dict[str, Any], min_battery: float, expected: bool) -> None:
    r = robot("robot-1", **fields)
    assert candidates([r], now=NOW, min_battery_percent=min_battery) == ([r] if expected else [])
    # the same rule decides a whole pass
    got = plan(
        [order("wo-1", 5.0)], [r], policy="nearest", min_battery_percent=min_battery, now=NOW, cursor=0
    )
    assert got.assignments == ([("wo-1", "robot-1")] if expected else [])


def test_candidates_keep_the_robot_order() -> None:
    robots = [robot("robot-3"), robot("robot-1", online=False), robot("robot-2")]
    got = candidates(robots, now=NOW, min_battery_percent=MIN)
    assert [r.robot_id for r in got] == ["robot-3", "robot-2"]


# -- one pass ---------------------------------------------------------------------------------


@dataclass
class Case:
    robots: list[RobotSnapshot]
    orders: list[OrderTarget]
    policy: Policy
    cursor: int
    assigned: list[tuple[str, str]]  # (order id, robot id) in order
    new_cursor: int
    min_battery: float = MIN
    note: str = ""


LINE = [robot("robot-1", 0.0), robot("robot-2", 10.0), robot("robot-3", 20.0)]  # on the x axis


def line(**changes: dict[str, Any]) -> list[RobotSnapshot]:
    """LINE with some robots' fields changed: ``line(robot_2={"online": False})``."""
    out = []
    for r in LINE:
        fields = changes.get(r.robot_id.replace("-", "_"), {})
        out.append(robot(r.robot_id, r.x, r.y, **fields))
    return out


PLAN_CASES = [
    # nearest
    pytest.param(
        Case(LINE, [order("wo-1", 19.0, 1.0)], "nearest", 0, [("wo-1", "robot-3")], 0),
        id="nearest-picks-the-closest",
    ),
    pytest.param(
        Case(LINE, [order("wo-1", 19.0)], "nearest", 2, [("wo-1", "robot-3")], 2),
        id="nearest-leaves-the-cursor-alone",
    ),
    pytest.param(
        Case(
            [robot("robot-1", 0.0, 6.0), robot("robot-2", 3.0, 4.0)],
            [order("wo-1", 0.0, 0.0)],
            "nearest",
            0,
            [("wo-1", "robot-2")],
            0,
            note="straight-line distance: 5 against 6 (by |dx| + |dy| it would be 7 against 6)",
        ),
        id="nearest-is-straight-line-distance",
    ),
    pytest.param(
        Case(LINE, [order("wo-1", 5.0)], "nearest", 0, [("wo-1", "robot-1")], 0),
        id="nearest-tie-goes-to-first-in-robot-order",
    ),
    pytest.param(
        Case(
            [robot("robot-2", 10.0), robot("robot-1", 0.0)],
            [order("wo-1", 5.0)],
            "nearest",
            0,
            [("wo-1", "robot-2")],
            0,
            note="robot order, not id order",
        ),
        id="nearest-tie-follows-config-order-not-ids",
    ),
    pytest.param(
        Case(
            line(robot_3={"battery_percent": 5.0}),
            [order("wo-1", 19.0)],
            "nearest",
            0,
            [("wo-1", "robot-2")],
            0,
        ),
        id="nearest-skips-a-closer-low-battery-robot",
    ),
    pytest.param(
        Case(line(robot_3={"online": False}), [order("wo-1", 19.0)], "nearest", 0, [("wo-1", "robot-2")], 0),
        id="nearest-skips-a-closer-offline-robot",
    ),
    pytest.param(
        Case(
            LINE,
            [order("wo-1", 19.0), order("wo-2", 21.0)],
            "nearest",
            0,
            [("wo-1", "robot-3"), ("wo-2", "robot-2")],
            0,
        ),
        id="nearest-one-order-per-robot-per-pass",
    ),
    pytest.param(
        Case(LINE, [order("wo-1")], "nearest", 1, [("wo-1", "robot-2")], 2),
        id="nearest-order-without-target-takes-turns",
    ),
    pytest.param(
        Case(
            [robot("robot-1", -1.0), robot("robot-2", 50.0), robot("robot-3", 9.0), robot("robot-4", 1.0)],
            [order("wo-1"), order("wo-2", 0.0)],
            "nearest",
            2,
            [("wo-1", "robot-3"), ("wo-2", "robot-4")],
            3,
            note="after the turn of robot-3 the tie between robot-4 and robot-1 goes to robot-4",
        ),
        id="nearest-tie-after-a-turn-in-the-pass-follows-turn-order",
    ),
    # round robin
    pytest.param(
        Case(LINE, [order("wo-1", 19.0)], "round_robin", 0, [("wo-1", "robot-1")], 1),
        id="rr-first-turn-and-advance",
    ),
    pytest.param(
        Case(LINE, [order("wo-1", 0.0)], "round_robin", 1, [("wo-1", "robot-2")], 2),
        id="rr-starts-at-the-cursor-whatever-the-distance",
    ),
    pytest.param(
        Case(LINE, [order("wo-1")], "round_robin", 2, [("wo-1", "robot-3")], 0),
        id="rr-cursor-wraps-after-the-last-robot",
    ),
    pytest.param(
        Case(line(robot_3={"state": EXECUTING}), [order("wo-1")], "round_robin", 2, [("wo-1", "robot-1")], 1),
        id="rr-search-wraps-around",
    ),
    pytest.param(
        Case(line(robot_1={"held": True}), [order("wo-1")], "round_robin", 0, [("wo-1", "robot-2")], 2),
        id="rr-skips-a-busy-robot",
    ),
    pytest.param(
        Case(
            line(robot_1={"battery_percent": 10.0}, robot_2={"online": False}),
            [order("wo-1")],
            "round_robin",
            0,
            [("wo-1", "robot-3")],
            0,
        ),
        id="rr-skips-low-battery-and-offline",
    ),
    pytest.param(
        Case(
            LINE,
            [order("wo-1"), order("wo-2"), order("wo-3")],
            "round_robin",
            1,
            [("wo-1", "robot-2"), ("wo-2", "robot-3"), ("wo-3", "robot-1")],
            1,
        ),
        id="rr-a-pass-goes-round-once",
    ),
    # either policy
    pytest.param(
        Case(
            line(robot_1={"online": False}, robot_2={"held": True}, robot_3={"state": None}),
            [order("wo-1", 0.0)],
            "nearest",
            1,
            [],
            1,
        ),
        id="no-candidate-no-assignment",
    ),
    pytest.param(
        Case(
            line(robot_1={"state": ERROR}, robot_2={"state": CHARGING}, robot_3={"state": EXECUTING}),
            [order("wo-1")],
            "round_robin",
            1,
            [],
            1,
        ),
        id="no-candidate-cursor-unchanged",
    ),
    pytest.param(Case(LINE, [], "round_robin", 2, [], 2), id="no-orders"),
    pytest.param(
        Case(
            line(robot_2={"held": True}),
            [order("wo-1", 0.0), order("wo-2", 0.0), order("wo-3", 0.0)],
            "nearest",
            0,
            [("wo-1", "robot-1"), ("wo-2", "robot-3")],
            0,
        ),
        id="more-orders-than-robots-first-orders-served",
    ),
    pytest.param(
        Case(
            line(
                robot_1={"battery_percent": 30.0},
                robot_2={"battery_percent": 59.9},
                robot_3={"battery_percent": 60.0},
            ),
            [order("wo-1", 0.0)],
            "nearest",
            0,
            [("wo-1", "robot-3")],
            0,
            min_battery=60.0,
        ),
        id="battery-threshold-is-the-callers",
    ),
]


@pytest.mark.parametrize("case", PLAN_CASES)
def test_plan(case: Case) -> None:
    got = plan(
        case.orders,
        case.robots,
        policy=case.policy,
        min_battery_percent=case.min_battery,
        now=NOW,
        cursor=case.cursor,
    )
    assert got == Plan(case.assigned, case.new_cursor), case.note


# -- passes one after another -------------------------------------------------------------


SEQUENCE_CASES = [
    pytest.param(
        "round_robin", {}, ["robot-1", "robot-2", "robot-3", "robot-1"], id="rr-turns-across-passes"
    ),
    pytest.param(
        "round_robin",
        {"robot-2": {"battery_percent": 19.0}},
        ["robot-1", "robot-3", "robot-1", "robot-3"],
        id="rr-turns-skip-a-low-battery-robot",
    ),
    pytest.param(
        "nearest", {}, ["robot-3", "robot-3", "robot-3", "robot-3"], id="nearest-same-robot-when-free-again"
    ),
]


@pytest.mark.parametrize(("policy", "changes", "expected"), SEQUENCE_CASES)
def test_passes_in_a_row(policy: Policy, changes: dict[str, dict[str, Any]], expected: list[str]) -> None:
    """One order per pass, each robot free again by the next pass: the cursor carries the turns."""
    robots = [robot(r.robot_id, r.x, r.y, **changes.get(r.robot_id, {})) for r in LINE]
    cursor = 0
    got = []
    for i in range(len(expected)):
        result = plan(
            [order(f"wo-{i}", 20.0)], robots, policy=policy, min_battery_percent=MIN, now=NOW, cursor=cursor
        )
        got += [robot_id for _, robot_id in result.assignments]
        cursor = result.cursor
    assert got == expected


# -- choose() on its own ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "policy", "cursor", "expected"),
    [
        pytest.param(order("wo-1", 12.0), "nearest", 1, ("robot-2", 1), id="nearest"),
        pytest.param(order("wo-1", 12.0), "round_robin", 1, ("robot-2", 2), id="round-robin"),
        pytest.param(order("wo-1"), "nearest", 0, ("robot-1", 1), id="no-target-takes-turns"),
        pytest.param(order("wo-1", 12.0), "round_robin", 2, ("robot-3", 0), id="round-robin-wraps"),
    ],
)
def test_choose(target: OrderTarget, policy: Policy, cursor: int, expected: tuple[str, int]) -> None:
    chosen, new_cursor = choose(
        target, LINE, policy=policy, robot_ids=[r.robot_id for r in LINE], cursor=cursor
    )
    assert (chosen.robot_id, new_cursor) == expected


def test_choose_needs_a_candidate() -> None:
    with pytest.raises(ValueError, match="at least one candidate"):
        choose(order("wo-1", 1.0), [], policy="nearest", robot_ids=["robot-1"], cursor=0)


def test_every_configurable_policy_is_known() -> None:
    assert set(get_args(Policy)) == set(get_args(AssignmentConfig.model_fields["policy"].annotation))
