"""The area's lease rules (robotfleet_nodes/area/leases.py), case by case: no broker, no clock."""

from __future__ import annotations

import pytest

from robotfleet_nodes.action import ExecuteTask
from robotfleet_nodes.area.leases import (
    REVOCATION_KEEP_S,
    TAKEN_BACK_NOTE,
    LeaseTerms,
    Revocations,
    held_by,
    take_back,
    takeback_due,
    taken_back_from,
)
from robotfleet_nodes.config import LeaseConfig
from robotfleet_nodes.idl.standard import Time
from robotfleet_nodes.msg import WorkOrder, WorkOrderEvent, ZoneSummary

D, A, E = WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING
P, C = WorkOrder.STATE_PENDING, WorkOrder.STATE_COMPLETED
F, X = WorkOrder.STATE_FAILED, WorkOrder.STATE_CANCELLED
FINISH = ExecuteTask.Goal.LEASE_LOSS_FINISH
STAMP = Time(sec=1_700_000_000, nanosec=5)


def summary(zone: float, robot: float, margin: float, loss: int = 0) -> ZoneSummary:
    return ZoneSummary(
        zone_id="zone-1", zone_lease_s=zone, robot_lease_s=robot, lease_margin_s=margin, on_lease_loss=loss
    )


DEFAULTS = LeaseConfig()
DEFAULT_TERMS = LeaseTerms(DEFAULTS.zone_lease_s, DEFAULTS.robot_lease_s, DEFAULTS.margin_s, False)


@pytest.mark.parametrize(
    ("msg", "terms"),
    [
        (None, DEFAULT_TERMS),  # never reported: LeaseConfig()'s defaults
        (summary(0, 0, 0), DEFAULT_TERMS),  # a zone from before leases announces none
        (summary(0.5, 0.5, 0.2), LeaseTerms(0.5, 0.5, 0.2, False)),
        (summary(0, 4, 1), LeaseTerms(0, 4, 1, False)),  # a zone that needs no lease of its own
        (summary(15, 10, 2, ExecuteTask.Goal.LEASE_LOSS_STOP), LeaseTerms(15, 10, 2, False)),
        (summary(15, 10, 2, FINISH), LeaseTerms(15, 10, 2, True)),
    ],
)
def test_terms_come_from_the_zone_summary(msg: ZoneSummary | None, terms: LeaseTerms) -> None:
    got = LeaseTerms.of(msg)  # the message fields are float32: compare with a tolerance
    assert (got.zone_lease_s, got.robot_lease_s, got.margin_s) == pytest.approx(
        (terms.zone_lease_s, terms.robot_lease_s, terms.margin_s)
    )
    assert got.finish is terms.finish


def test_the_sum_is_zone_plus_robot_lease_plus_margin() -> None:
    assert LeaseTerms(15, 10, 2).total_s == 27
    assert DEFAULT_TERMS.total_s == DEFAULTS.zone_lease_s + DEFAULTS.robot_lease_s + DEFAULTS.margin_s


@pytest.mark.parametrize(
    ("granted", "terms", "now", "due"),
    [
        (100.0, LeaseTerms(0.5, 0.5, 0.2), 101.1, False),  # before the sum
        (100.0, LeaseTerms(0.5, 0.5, 0.2), 101.2, True),  # at the sum
        (100.0, LeaseTerms(0.5, 0.5, 0.2), 500.0, True),
        (100.0, LeaseTerms(0, 1, 0), 100.5, False),  # no zone lease: robot lease + margin still wait
        (100.0, LeaseTerms(0.5, 0.5, 0.2, finish=True), 1e9, False),  # FINISH: never
        (float("-inf"), LeaseTerms(1, 1, 1), 0.0, True),
    ],
)
def test_takeback_due(granted: float, terms: LeaseTerms, now: float, due: bool) -> None:
    assert takeback_due(granted, terms, now) is due


@pytest.mark.parametrize(
    ("state", "zone", "area", "held"),
    [
        (D, "zone-1", "area-1", True),
        (A, "zone-1", "area-1", True),
        (E, "zone-1", "area-1", True),
        (P, "zone-1", "area-1", False),
        (C, "zone-1", "area-1", False),
        (F, "zone-1", "area-1", False),
        (X, "zone-1", "area-1", False),
        (E, "zone-2", "area-1", False),  # another zone's
        (E, "zone-1", "area-2", False),  # a zone of the same name in another area
        (D, "", "area-1", False),
    ],
)
def test_held_by(state: int, zone: str, area: str, held: bool) -> None:
    order = WorkOrder(id="o", area_id=area, zone_id=zone, robot_id="robot-1", state=state)
    assert held_by(order, "zone-1", "area-1") is held


def test_take_back_bumps_the_attempt_clears_zone_and_robot_and_records_it() -> None:
    before = WorkOrder(
        id="o-1",
        area_id="area-1",
        zone_id="zone-1",
        robot_id="robot-3",
        state=E,
        attempts=2,
        history=[WorkOrderEvent(state=A, by="zone-1")],
    )
    stored, update = take_back(before, zone_id="zone-1", by="area-1", why="no grant for 27.3 s", stamp=STAMP)
    assert (stored.state, stored.attempts, stored.zone_id, stored.robot_id) == (D, 3, "", "")
    assert stored.area_id == "area-1" and stored.updated == STAMP
    assert len(stored.history) == 2 and stored.history[0] == before.history[0]
    event = stored.history[-1]
    assert (event.state, event.by, event.stamp) == (D, "area-1", STAMP)
    assert event.note == "taken back from silent zone-1 (no grant for 27.3 s)"
    assert (update.order_id, update.attempt, update.state, update.by) == ("o-1", 3, D, "area-1")
    assert update.note == event.note and update.zone_id == "" and update.robot_id == ""
    assert before.attempts == 2 and before.state == E  # the input is left alone


def _waiting(zone: str = "", by: str = "area-1", note: str = TAKEN_BACK_NOTE + "zone-1 (x)") -> WorkOrder:
    return WorkOrder(
        id="o",
        area_id="area-1",
        zone_id=zone,
        state=D,
        attempts=2,
        history=[WorkOrderEvent(state=E, by="zone-1"), WorkOrderEvent(state=D, by=by, note=note)],
    )


@pytest.mark.parametrize(
    ("order", "source"),
    [
        (_waiting(), "zone-1"),
        (_waiting(zone="zone-1"), "zone-1"),  # the fleet's copy still names the old zone
        (_waiting(zone="zone-2"), None),  # handed to zone-2 already
        (_waiting(by="area-2"), None),  # another area's take-back
        (_waiting(by="fleet", note="to zone-1"), None),
        (_waiting().model_copy(update={"state": A}), None),
        (_waiting().model_copy(update={"history": []}), None),
        (_waiting().model_copy(update={"area_id": "area-2"}), None),
    ],
)
def test_taken_back_from(order: WorkOrder, source: str | None) -> None:
    assert taken_back_from(order, "area-1") == source


def test_revocations_list_the_latest_attempt_and_age_out() -> None:
    revoked = Revocations()
    revoked.add("zone-1", "o-1", 2, now=0.0)
    revoked.add("zone-2", "o-2", 0, now=1.0)
    revoked.add("zone-1", "o-1", 1, now=2.0)  # an older attempt never lowers the revocation
    assert revoked.listed(3.0) == (["zone-2", "zone-1"], ["o-2", "o-1"], [0, 2])
    assert revoked.listed(1.0 + REVOCATION_KEEP_S) == (["zone-1"], ["o-1"], [2])
    assert revoked.listed(2.0 + REVOCATION_KEEP_S) == ([], [], [])
    assert len(revoked) == 0


def test_revocations_are_bounded_newest_kept() -> None:
    revoked = Revocations(limit=3)
    for i in range(5):
        revoked.add("zone-1", f"o-{i}", i, now=float(i))
    assert revoked.listed(5.0) == (["zone-1"] * 3, ["o-2", "o-3", "o-4"], [2, 3, 4])
