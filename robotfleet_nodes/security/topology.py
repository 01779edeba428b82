"""Which robots are in which zone and which zones in which area: the input of the permissions.

Read from a generated deployment (``robots.csv`` and the area YAML files) or built in code.
Robot ``i`` of a container identity ``robots-<from>-<to>`` is the ``i``-th row of
``robots.csv`` (1-based), the order ``rfos fleet gen-config`` writes. The zones at edge
sites (behind a leaf nats-server) are the keys of ``fleet.yaml``'s ``site_domains``.
VDA 5050 vehicles (``vda5050/vehicles.csv``) are robots of their zone too, kept apart from
``robots.csv`` (container identities cut that file only): each has an MQTT identity of its own.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from robotfleet_nodes._yaml import load_yaml
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.security._subjects import check_vda5050_level, root_and_domain_from_env, vda5050_subject

__all__ = ["VEHICLES_CSV", "Topology", "Vehicle", "read_vehicles", "root_and_domain_from_env"]

#: The vehicles of a deployment, relative to its directory (``rfos fleet gen-config --vda5050 N``).
VEHICLES_CSV = "vda5050/vehicles.csv"

_AREA_FILE = re.compile(r"area(-\d+)?\.yaml")


@dataclass(frozen=True)
class Vehicle:
    """A VDA 5050 vehicle: its robot id (its edge's), zone and topic levels, with the NATS
    subjects nats-server's MQTT listener gives its topics (as ``vda5050.topics.VehicleTopics``)."""

    robot_id: str
    zone_id: str
    manufacturer: str
    serial_number: str
    interface_name: str = "uagv"
    major_version: str = "v2"

    def __post_init__(self) -> None:
        check_vda5050_level(self.interface_name, "interfaceName")
        check_vda5050_level(self.major_version, "major version")
        check_vda5050_level(self.manufacturer, "manufacturer")
        check_vda5050_level(self.serial_number, "serialNumber")

    @property
    def prefix(self) -> str:
        """``<interfaceName>/<majorVersion>/<manufacturer>/<serialNumber>`` (MQTT)."""
        return f"{self.interface_name}/{self.major_version}/{self.manufacturer}/{self.serial_number}"

    @property
    def subject_prefix(self) -> str:
        """The NATS subject of :attr:`prefix` (``uagv.v2.Acme.SN//1``)."""
        return vda5050_subject(self.prefix)

    def subject(self, name: str) -> str:
        """The NATS subject of this vehicle's topic ``name`` (``state``, ``order``, ...)."""
        return vda5050_subject(f"{self.prefix}/{name}")


@dataclass(frozen=True)
class Topology:
    """Zones with their robots and areas with their zones, in order."""

    zone_robots: dict[str, list[str]]
    """Zone id -> robot ids, in robots.csv order."""
    area_zones: dict[str, list[str]]
    """Area id -> zone ids."""
    root: str = "rfos"
    """Subject root (``RFOS_SUBJECT_ROOT``)."""
    domain: str = "0"
    """ROS domain id (``ROS_DOMAIN_ID``)."""
    site_zones: tuple[str, ...] = ()
    """Zones at edge sites: each gets a leaf-link identity ``site-<zone>`` (docs/fleet.md, "Edge sites")."""
    vehicles: tuple[Vehicle, ...] = ()
    """VDA 5050 vehicles (not in :attr:`robots`): robots of their zone driven over MQTT."""
    _zone_of: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for zone, robots in self.zone_robots.items():
            for robot in robots:
                self._zone_of[robot] = zone
        for vehicle in self.vehicles:
            self._zone_of[vehicle.robot_id] = vehicle.zone_id

    @property
    def robots(self) -> list[str]:
        """Every robot id, in robots.csv order."""
        return [robot for robots in self.zone_robots.values() for robot in robots]

    @property
    def zones(self) -> list[str]:
        """Every zone id."""
        return list(self.zone_robots)

    def members(self, zone_id: str) -> list[str]:
        """The robot ids of ``zone_id``: its robots, then its vehicles."""
        vehicles = [v.robot_id for v in self.vehicles if v.zone_id == zone_id]
        return [*self.zone_robots.get(zone_id, []), *vehicles]

    def zone_of(self, robot_id: str) -> str:
        """The zone of ``robot_id``; ``KeyError`` for an unknown robot."""
        return self._zone_of[robot_id]

    def area_of(self, zone_id: str) -> str:
        """The area of ``zone_id`` (``area-1`` when no area lists it)."""
        for area, zones in self.area_zones.items():
            if zone_id in zones:
                return area
        return "area-1"

    def robots_of_area(self, area_id: str) -> list[str]:
        """The robots (and vehicles) of every zone of ``area_id``."""
        return [r for zone in self.area_zones.get(area_id, []) for r in self.members(zone)]

    @classmethod
    def from_deployment(cls, out_dir: str | Path, *, root: str = "rfos", domain: str = "0") -> Topology:
        """Read ``robots.csv`` (robot_id,zone_id), ``area*.yaml`` (``area_id``, ``zones``) and
        the vehicles of ``vda5050/vehicles.csv`` (none when it is missing).

        Raises:
            ConfigError: ``robots.csv`` is missing or malformed.
        """
        out = Path(out_dir)
        path = out / "robots.csv"
        zone_robots: dict[str, list[str]] = {}
        try:
            with open(path, encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    robot, zone = (row.get("robot_id") or "").strip(), (row.get("zone_id") or "").strip()
                    if not robot or not zone:
                        raise ConfigError(f"{path}: every row needs robot_id and zone_id")
                    zone_robots.setdefault(zone, []).append(robot)
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read the robots ({exc}); run `rfos fleet gen-config` first"
            ) from None
        area_zones: dict[str, list[str]] = {}
        for area_file in sorted(out.iterdir()):
            if not _AREA_FILE.fullmatch(area_file.name):
                continue
            try:
                data = load_yaml(area_file.read_text(encoding="utf-8"), str(area_file)) or {}
            except OSError as exc:
                raise ConfigError(f"{area_file}: {exc}") from None
            area = str(data.get("area_id", "area-1"))
            area_zones[area] = [str(z) for z in data.get("zones") or []]
        if not area_zones:
            area_zones["area-1"] = list(zone_robots)
        return cls(
            zone_robots=zone_robots,
            area_zones=area_zones,
            root=root,
            domain=domain,
            site_zones=_site_zones(out / "fleet.yaml"),
            vehicles=read_vehicles(out / VEHICLES_CSV) if (out / VEHICLES_CSV).exists() else (),
        )


def read_vehicles(path: Path) -> tuple[Vehicle, ...]:
    """The vehicles of a ``vehicles.csv`` (``robot_id,zone_id,manufacturer,serial_number,
    interface_name,major_version,creds``).

    Raises:
        ConfigError: the file cannot be read, a row lacks a field or names an invalid topic level.
    """
    out: list[Vehicle] = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                fields = {k: (row.get(k) or "").strip() for k in _VEHICLE_FIELDS}
                missing = [k for k, v in fields.items() if not v]
                if missing:
                    raise ConfigError(f"{path}:{line}: {', '.join(missing)} missing")
                try:
                    out.append(Vehicle(**fields))
                except ConfigError as exc:
                    raise ConfigError(f"{path}:{line}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the vehicles ({exc})") from None
    return tuple(out)


_VEHICLE_FIELDS = ("robot_id", "zone_id", "manufacturer", "serial_number", "interface_name", "major_version")


def _site_zones(fleet_file: Path) -> tuple[str, ...]:
    """The keys of ``site_domains`` in ``fleet_file`` (none when it is missing)."""
    if not fleet_file.exists():
        return ()
    try:
        data = load_yaml(fleet_file.read_text(encoding="utf-8"), str(fleet_file)) or {}
    except OSError as exc:
        raise ConfigError(f"{fleet_file}: {exc}") from None
    return tuple(str(zone) for zone in data.get("site_domains") or {})
