"""The area's answer when no zone took an order (robotfleet_nodes/area/refusal.py), case by case."""

from __future__ import annotations

import pytest

from robotfleet_nodes.area.refusal import ZoneRefusal, refusal

ORDER_1 = ZoneRefusal("zone-1", "target (9, 9) outside the zone's bounds", order_refused=True)
ORDER_2 = ZoneRefusal("zone-2", "unknown task 'fly'", order_refused=True)
FULL_2 = ZoneRefusal("zone-2", "no capacity")
GONE_2 = ZoneRefusal("zone-2", "zone unreachable: timeout", answered=False)
GONE_1 = ZoneRefusal("zone-1", "zone unreachable: timeout", answered=False)


@pytest.mark.parametrize(
    ("refusals", "order_refused", "words"),
    [
        ([ORDER_1, ORDER_2], True, ["refused the order itself", "zone-1: target (9, 9)", "zone-2: unknown"]),
        ([ORDER_1], True, ["zone-1: target"]),
        ([ORDER_1, FULL_2], False, ["accepted", "zone-1: target", "zone-2: no capacity"]),  # zone-2 may
        ([ORDER_1, GONE_2], True, ["zone-1: target", "zone-2: zone unreachable"]),  # unanswered: not counted
        ([GONE_1, GONE_2], False, ["accepted", "zone-1: zone unreachable", "zone-2: zone unreachable"]),
        ([FULL_2], False, ["zone-2: no capacity"]),
        ([ZoneRefusal("zone-1", "")], False, ["zone-1: refused"]),
    ],
)
def test_refusal_names_every_zone_and_is_about_the_order_only_if_all_say_so(
    refusals: list[ZoneRefusal], order_refused: bool, words: list[str]
) -> None:
    got, error = refusal("area-1", refusals, silent=["zone-3"])
    assert got is order_refused
    assert "area-1" in error
    for word in words:
        assert word in error, (word, error)


def test_no_zone_offered_names_the_silent_zones() -> None:
    assert refusal("area-1", [], silent=["zone-1", "zone-2"]) == (
        False,
        "area area-1 has no live zone (silent: zone-1, zone-2)",
    )
    assert refusal("area-1", [], silent=[])[1].endswith("(silent: none configured)")
