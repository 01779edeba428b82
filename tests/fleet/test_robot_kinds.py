"""What a robot is (``RobotStatus.kind``): the zone's ``RobotTable.kinds`` (empty while
every robot is ``sim``), the ``/api/robots`` rows, the SSE rows and the ``/api/fleet``
counts per kind."""

from __future__ import annotations

import json
from typing import Any

from robotfleet_nodes.fleet.views import SentRows, kind_counts, robot_state_names, table_kinds
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.zone._reports import robot_kinds


# -- pure: the zone's kinds column, the fleet's rows and counts ---------------------------------
class _Status:
    def __init__(self, kind: str) -> None:
        self.kind = kind


def test_a_zone_of_sim_robots_sends_no_kinds_and_a_mixed_zone_one_per_robot() -> None:
    assert robot_kinds([_Status("sim"), _Status(""), None]) == []
    assert robot_kinds([_Status("sim"), _Status("vda5050"), None, _Status("dds")]) == [
        "",
        "vda5050",
        "",
        "dds",
    ]


def _table(kinds: list[str]) -> Any:
    cls: Any = default_registry().get_class("robotfleet_nodes/msg/RobotTable")
    ids = ["robot-1", "robot-2", "robot-3"]
    return cls(
        zone_id="zone-1",
        robot_ids=ids,
        x=[0.0] * 3,
        y=[0.0] * 3,
        theta=[0.0] * 3,
        battery_percent=[50.0] * 3,
        states=[0] * 3,
        current_order_ids=[""] * 3,
        order_progress=[0.0] * 3,
        kinds=kinds,
    )


def test_the_fleet_reads_an_empty_kind_as_sim_and_counts_kinds() -> None:
    assert table_kinds(_table([])) == ["sim", "sim", "sim"]
    assert table_kinds(_table(["", "vda5050", "dds"])) == ["sim", "vda5050", "dds"]
    assert table_kinds(_table(["", "vda5050"])) == ["sim", "vda5050", "sim"]  # short: sim
    assert kind_counts(_table([])) == {"sim": 3}
    assert kind_counts(_table(["", "vda5050", "vda5050"])) == {"sim": 1, "vda5050": 2}


def test_a_changed_kind_is_a_changed_row_on_the_event_stream() -> None:
    sent = SentRows("zone-1")
    names = robot_state_names()
    changed, _ = sent.update(_table([]), names)
    assert [json.loads(row)["kind"] for row in changed] == ["sim", "sim", "sim"]
    changed, removed = sent.update(_table(["", "", "vda5050"]), names)
    assert [json.loads(row) for row in changed] == [
        {**json.loads(changed[0]), "id": "robot-3", "kind": "vda5050"}
    ]
    assert removed == []
    assert sent.update(_table(["", "", "vda5050"]), names) == ([], [])
