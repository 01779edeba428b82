"""Many simulated vehicles in one process: the vehicles file, staggered connects, one shutdown."""

from __future__ import annotations

import asyncio
import csv
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robotfleet_nodes.errors import Vda5050ConfigError
from robotfleet_nodes.security.creds import read_creds
from robotfleet_nodes.vda5050._sim_vehicle import VehicleSim
from robotfleet_nodes.vda5050.topics import DEFAULT_INTERFACE, DEFAULT_MAJOR_VERSION

__all__ = ["VEHICLES_HEADER", "VehicleEntry", "read_vehicles", "run_fleet", "start_fleet", "stop_fleet"]

_log = logging.getLogger(__name__)
#: The header of ``<deploy>/vda5050/vehicles.csv``.
VEHICLES_HEADER = (
    "robot_id",
    "zone_id",
    "manufacturer",
    "serial_number",
    "interface_name",
    "major_version",
    "creds",
)


@dataclass(frozen=True, slots=True)
class VehicleEntry:
    """One row of the vehicles file; ``password`` is the user JWT of its ``.creds`` (or None)."""

    robot_id: str
    zone_id: str
    manufacturer: str
    serial_number: str
    interface_name: str = DEFAULT_INTERFACE
    major_version: str = DEFAULT_MAJOR_VERSION
    password: str | None = None

    def vehicle(self, mqtt_url: str, **options: Any) -> VehicleSim:
        """A :class:`VehicleSim` for this row (MQTT username = robot id, password = its JWT)."""
        return VehicleSim(
            self.manufacturer,
            self.serial_number,
            mqtt_url=mqtt_url,
            interface_name=self.interface_name,
            major_version=self.major_version,
            username=self.robot_id,
            password=self.password,
            client_id=self.robot_id,
            **options,
        )


def read_vehicles(path: str | Path) -> list[VehicleEntry]:
    """The rows of a vehicles file (header :data:`VEHICLES_HEADER`); ``creds`` are read now.

    Raises:
        Vda5050ConfigError: the file is missing, its header is wrong, or a row is incomplete.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise Vda5050ConfigError(
            f"{file}: cannot read the vehicles file ({exc.strerror or exc}); "
            "generate one with `rfos fleet gen-config ... --vda5050 N`"
        ) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or tuple(c.strip() for c in rows[0]) != VEHICLES_HEADER:
        raise Vda5050ConfigError(f"{file}: the first line must be the header {','.join(VEHICLES_HEADER)}")
    entries = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(VEHICLES_HEADER):
            raise Vda5050ConfigError(
                f"{file}:{number}: expected {len(VEHICLES_HEADER)} columns, got {len(row)}"
            )
        robot_id, zone_id, manufacturer, serial, interface, major, creds = (c.strip() for c in row)
        if not (robot_id and manufacturer and serial):
            raise Vda5050ConfigError(
                f"{file}:{number}: robot_id, manufacturer and serial_number must not be empty"
            )
        password = read_creds(file.parent / creds).jwt if creds else None
        entries.append(
            VehicleEntry(
                robot_id,
                zone_id,
                manufacturer,
                serial,
                interface or DEFAULT_INTERFACE,
                major or DEFAULT_MAJOR_VERSION,
                password,
            )
        )
    return entries


async def start_fleet(
    vehicles: Sequence[VehicleSim],
    *,
    concurrency: int = 50,
    on_progress: Callable[[int, int], None] | None = None,
) -> float:
    """Start every vehicle, at most ``concurrency`` connects at once; returns the seconds it took.

    A vehicle whose connect fails raises (after the others were tried); the ones that came up
    stay up.
    """
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    started = time.perf_counter()

    async def one(vehicle: VehicleSim) -> None:
        nonlocal done
        async with gate:
            await vehicle.start()
        done += 1
        if on_progress is not None:
            on_progress(done, len(vehicles))

    results = await asyncio.gather(*(one(v) for v in vehicles), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        _log.error("%d of %d vehicles did not connect; first: %s", len(failures), len(vehicles), failures[0])
        raise failures[0]
    return time.perf_counter() - started


async def stop_fleet(vehicles: Iterable[VehicleSim], *, concurrency: int = 100) -> None:
    """Stop every vehicle gracefully (OFFLINE, then DISCONNECT)."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(vehicle: VehicleSim) -> None:
        async with gate:
            await vehicle.stop()

    await asyncio.gather(*(one(v) for v in vehicles), return_exceptions=True)


async def run_fleet(
    vehicles: Sequence[VehicleSim],
    *,
    stop: asyncio.Event,
    concurrency: int = 50,
    on_progress: Callable[[int, int], None] | None = None,
) -> float:
    """Start all ``vehicles``, run until ``stop`` is set, stop them all; returns the connect time."""
    try:
        took = await start_fleet(vehicles, concurrency=concurrency, on_progress=on_progress)
        _log.info("%d VDA 5050 vehicles online in %.1f s", len(vehicles), took)
        await stop.wait()
        return took
    finally:
        await stop_fleet(vehicles)
