"""The event stream sends a zone's robots in full once, then only the rows that changed.

Tables are fed to ``FleetService._on_robot_table`` directly (what the subscription to
``/zones/<z>/robots`` calls), so every push is deterministic: no zone, no timer.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from topology import fast_fleet_config, fleet_service

from robotfleet_nodes.fleet.service import FleetService
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.web import ServerSentEvent, Subscription

TIMEOUT = 10.0
RobotTable: Any = default_registry().get_class("robotfleet_nodes/msg/RobotTable")


def table(zone_id: str, batteries: dict[str, float], states: dict[str, int] | None = None) -> Any:
    """A RobotTable of ``zone_id``: one robot per entry of ``batteries`` (IDLE unless said)."""
    ids = list(batteries)
    return RobotTable(
        zone_id=zone_id,
        robot_ids=ids,
        x=[float(i) for i in range(len(ids))],
        y=[0.0] * len(ids),
        theta=[0.0] * len(ids),
        battery_percent=[batteries[i] for i in ids],
        states=[(states or {}).get(i, 0) for i in ids],
        current_order_ids=[""] * len(ids),
        order_progress=[0.0] * len(ids),
    )


def offline_service() -> FleetService:
    """A FleetService that is never started: only its views and its event hub are used."""
    return FleetService(fast_fleet_config(), cast(Any, None))


async def next_robots(sub: Subscription[ServerSentEvent]) -> dict[str, Any]:
    """The next ``robots`` event of ``sub`` (others skipped), decoded."""
    while True:
        event = await asyncio.wait_for(anext(sub), TIMEOUT)
        if event.event == "robots":
            assert isinstance(event.data, str)
            data: dict[str, Any] = json.loads(event.data)
            return data


def rows_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in data["robots"]}


async def test_second_push_sends_only_the_changed_row_and_removals() -> None:
    service = offline_service()
    async with service.events.subscribe() as sub:
        service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 80.0, "robot-3": 70.0}))
        first = await next_robots(sub)
        assert first["full"] is True and first["zone_id"] == "zone-1"
        assert sorted(rows_by_id(first)) == ["robot-1", "robot-2", "robot-3"]

        service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 79.9, "robot-3": 70.0}))
        delta = await next_robots(sub)
        assert delta["full"] is False and delta["removed"] == []
        assert [r["id"] for r in delta["robots"]] == ["robot-2"]
        assert delta["robots"][0]["battery"] == 79.9
        # the row is the /api/robots row, byte for byte the same keys and values, without
        # `stale` (the zone's state in the `zones` event says it: docs/fleet.md)
        api_row = service.robots(zone_id="zone-1")[1]
        assert api_row.pop("stale") is False
        assert delta["robots"][0] == api_row

        service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 79.9, "robot-3": 70.0}))
        service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 79.9}))  # robot-3 left
        gone = await next_robots(sub)  # the unchanged table before it sent nothing
        assert gone["full"] is False and gone["robots"] == [] and gone["removed"] == ["robot-3"]
        assert len(sub) == 0


async def test_a_late_client_starts_from_the_full_state() -> None:
    service = offline_service()
    async with service.events.subscribe() as early:
        service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 80.0}))
        service._on_robot_table(table("zone-2", {"robot-3": 50.0}))
        service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 60.0}))
        await next_robots(early)
        await next_robots(early)
    # nobody watches now: the next table builds nothing, the late client still gets it
    service._on_robot_table(table("zone-2", {"robot-3": 45.0, "robot-4": 99.0}))
    snapshot = service.snapshot_events()
    assert [e.event for e in snapshot] == ["fleet", "zones", "robots", "robots"]
    zones = [json.loads(cast(str, e.data)) for e in snapshot[2:]]
    assert [(z["zone_id"], z["full"]) for z in zones] == [("zone-1", True), ("zone-2", True)]
    assert {i: r["battery"] for i, r in rows_by_id(zones[0]).items()} == {"robot-1": 90.0, "robot-2": 60.0}
    assert {i: r["battery"] for i, r in rows_by_id(zones[1]).items()} == {"robot-3": 45.0, "robot-4": 99.0}
    # and the deltas that follow are relative to that snapshot
    async with service.events.subscribe() as late:
        service._on_robot_table(table("zone-2", {"robot-3": 45.0, "robot-4": 98.0}))
        delta = await next_robots(late)
        assert delta["full"] is False and [r["id"] for r in delta["robots"]] == ["robot-4"]


async def test_a_slow_client_gets_the_full_zone_instead_of_a_lost_delta() -> None:
    service = offline_service()
    async with service.events.subscribe() as fast, service.events.subscribe() as slow:
        service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 80.0}))
        assert (await next_robots(fast))["full"] is True
        service._on_robot_table(table("zone-1", {"robot-1": 89.0, "robot-2": 80.0}))  # robot-1 changed
        assert [r["id"] for r in (await next_robots(fast))["robots"]] == ["robot-1"]
        service._on_robot_table(table("zone-1", {"robot-1": 89.0, "robot-2": 79.0}))  # robot-2 changed
        assert [r["id"] for r in (await next_robots(fast))["robots"]] == ["robot-2"]
        # ``slow`` read nothing: one event for the zone is queued, and it carries both changes
        assert len(slow) == 1
        merged = await next_robots(slow)
        assert merged["full"] is True
        assert {i: r["battery"] for i, r in rows_by_id(merged).items()} == {"robot-1": 89.0, "robot-2": 79.0}


async def read_events(reader: asyncio.StreamReader, names: set[str]) -> tuple[str, Any]:
    """Read SSE events until one named in ``names``; return its name and decoded data."""
    event = None
    while True:
        line = (await asyncio.wait_for(reader.readline(), TIMEOUT)).decode().rstrip("\r\n")
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: ") and event in names:
            return event, json.loads(line[len("data: ") :])


async def test_stream_snapshot_then_deltas_and_a_resync_after_overflow(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 80.0}))  # before any client
        reader, writer = await asyncio.open_connection("127.0.0.1", fleet.server.port)
        try:
            writer.write(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            await writer.drain()
            _, full = await read_events(reader, {"robots"})  # the late client: full state first
            assert full["full"] is True and sorted(rows_by_id(full)) == ["robot-1", "robot-2"]

            service._on_robot_table(table("zone-1", {"robot-1": 90.0, "robot-2": 75.5}))
            _, delta = await read_events(reader, {"robots"})
            assert delta == {
                "zone_id": "zone-1",
                "full": False,
                "robots": [delta["robots"][0]],
                "removed": [],
            }
            assert delta["robots"][0]["id"] == "robot-2" and delta["robots"][0]["battery"] == 75.5

            # Overflow this client's queue (one synchronous burst: the stream cannot drain it):
            # the delta inside the burst is dropped with the rest, so the client must be told
            # and given the full state again, on the same connection.
            service._on_robot_table(table("zone-1", {"robot-1": 10.0, "robot-2": 75.5}))
            for i in range(2001):
                service.events.publish(ServerSentEvent({"n": i}, event="noise"))
            assert service.events.overflow_disconnects == 1
            name, _ = await read_events(reader, {"resync", "robots"})
            assert name == "resync"
            _, again = await read_events(reader, {"robots"})
            assert again["full"] is True and rows_by_id(again)["robot-1"]["battery"] == 10.0

            service._on_robot_table(table("zone-1", {"robot-1": 11.0, "robot-2": 75.5}))
            _, after = await read_events(reader, {"robots"})
            assert after["full"] is False and [r["battery"] for r in after["robots"]] == [11.0]
        finally:
            writer.close()
            await writer.wait_closed()
