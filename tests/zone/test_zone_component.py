"""The zone as a composable node: several zones in one container (large fleets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.node.container import ComponentContainer
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.transport import IntraProcessTransport, NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.zone.component import ZoneComponent
from robotfleet_nodes.zone.node import ZoneNode

PLUGIN = "robotfleet_nodes.zone.component:ZoneComponent"


async def test_two_zones_composed_in_one_container(nats_url: str, unique: str, tmp_path: Path) -> None:
    generate_deployment(tmp_path, robots=4, zones=2)
    nats = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    try:
        async with Context(transport=IntraProcessTransport(nats), enable_rosout=False) as ctx:
            container = ComponentContainer("zones_1", context=ctx, namespace="/zones")
            await container.start()
            loaded = [
                await container.load(PLUGIN, parameters={"config": str(tmp_path / f"zone-{z}.yaml")})
                for z in (1, 2)
            ]
            zones = [node for _, node in loaded]
            assert all(isinstance(zone, ZoneNode) for zone in zones)
            assert [zone.get_fully_qualified_name() for zone in zones] == [
                "/zones/zone-1/zone",
                "/zones/zone-2/zone",
            ]
            assert [list(zone.config.robots) for zone in zones] == [
                ["robot-1", "robot-2"],
                ["robot-3", "robot-4"],
            ]  # type: ignore[attr-defined]
            await container.destroy_node()
    finally:
        await nats.close()


async def test_unknown_parameter_is_refused(nats_url: str, unique: str) -> None:
    nats = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    try:
        async with Context(transport=nats, enable_rosout=False) as ctx:
            with pytest.raises(ConfigError, match=r"unknown parameter.*robot_id"):
                ZoneComponent(ctx, parameter_overrides={"robot_id": "robot-1"})
    finally:
        await nats.close()
