"""What a robot is, and what it says of itself, through edge -> zone -> fleet API.

- kind: ``RobotStatus.kind`` (the driver's ``kind``) reaches the zone's ``RobotTable.kinds``
  (empty while every robot is ``sim``), the ``/api/robots`` rows, the SSE rows and the
  ``/api/fleet`` counts per kind;
- factsheet: a driver's ``factsheet`` is stored by its edge in the fleet's factsheet bucket
  (retrying until the fleet created it) and served by ``GET /api/robots/{id}/factsheet``;
  404 for a robot without one and for an unknown robot.

The VDA 5050 robot here is a simulated robot calling itself ``vda5050`` with a factsheet
(``vda_like.py``); secured: tests/security/test_fleet_permissions.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from shared_helpers import eventually, http_call
from topology import small_fleet
from vda_like import FACTSHEET, VdaLikeRobot, vda_like

from robotfleet_nodes import vda5050
from robotfleet_nodes.fleet.views import SentRows, kind_counts, robot_state_names, table_kinds
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.zone._reports import robot_kinds

TIMEOUT = 15.0


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


# -- edge -> zone -> fleet --------------------------------------------------------------------
async def _robots(base: str) -> dict[str, dict[str, Any]]:
    status, rows = await http_call(base, "GET", "/api/robots")
    assert status == 200, rows
    return {row["id"]: row for row in rows}


@pytest.mark.timeout(60)
async def test_kinds_and_factsheet_reach_the_api(nats_url: str, unique: str) -> None:
    """robot-2 is a VDA 5050 vehicle whose edge starts before the fleet: its factsheet waits
    (retried) until the fleet made the bucket, then shows; a changed factsheet replaces it."""
    async with small_fleet(
        nats_url, unique, zones=1, robots=3, drivers={"robot-2": vda_like()}, fleet=False
    ) as topo:
        writer = topo.edges["robot-2"]._factsheet
        await eventually(lambda: writer.failures >= 1, timeout=TIMEOUT, what="a put before the bucket exists")
        assert writer.stored == 0
        await topo.start_fleet()
        base = topo.base_url

        async def kinds_shown() -> dict[str, str] | None:
            rows = await _robots(base)
            kinds = {robot_id: row["kind"] for robot_id, row in rows.items()}
            return kinds if len(kinds) == 3 else None

        kinds = await eventually(kinds_shown, timeout=TIMEOUT, what="three robots in /api/robots")
        assert kinds == {"robot-1": "sim", "robot-2": "vda5050", "robot-3": "sim"}
        status, fleet = await http_call(base, "GET", "/api/fleet")
        assert status == 200 and fleet["robot_kinds"] == {"sim": 2, "vda5050": 1}, fleet
        snapshot = [e for e in topo.service.snapshot_events() if e.event == "robots"]
        rows = [row for e in snapshot for row in json.loads(str(e.data))["robots"]]
        assert {row["id"]: row["kind"] for row in rows} == kinds

        async def stored() -> tuple[int, Any] | None:
            status, body = await http_call(base, "GET", "/api/robots/robot-2/factsheet")
            return (status, body) if status == 200 else None

        status, body = await eventually(stored, timeout=TIMEOUT, what="robot-2's factsheet in the API")
        assert set(body) == {"robot_id", "received", "factsheet"}
        assert body["robot_id"] == "robot-2" and body["factsheet"] == FACTSHEET
        assert datetime.fromisoformat(body["received"]).tzinfo is not None
        assert vda5050.errors("factsheet", body["factsheet"]) == []

        status, body = await http_call(base, "GET", "/api/robots/robot-1/factsheet")
        assert status == 404 and "robot-1" in body["error"] and "no factsheet" in body["error"], body
        status, body = await http_call(base, "GET", "/api/robots/robot-99/factsheet")
        assert status == 404 and "unknown robot" in body["error"], body
        status, body = await http_call(base, "GET", "/api/robots/robot*/factsheet")
        assert status == 404, body

        driver = topo.edges["robot-2"].driver
        assert isinstance(driver, VdaLikeRobot)
        driver.sheet = {**FACTSHEET, "headerId": 2, "serialNumber": "SN.2b"}  # a new object

        async def replaced() -> bool:
            status, body = await http_call(base, "GET", "/api/robots/robot-2/factsheet")
            return status == 200 and body["factsheet"]["serialNumber"] == "SN.2b"

        await eventually(replaced, timeout=TIMEOUT, what="the new factsheet in the API")
        assert writer.stored == 2
