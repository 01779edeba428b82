"""Which robots are in which zone and which zones in which area: the input of the permissions.

Read from a generated deployment (``robots.csv`` and the area YAML files) or built in code.
Robot ``i`` of a container identity ``robots-<from>-<to>`` is the ``i``-th row of
``robots.csv`` (1-based), the order ``rfos fleet gen-config`` writes. The zones at edge
sites (behind a leaf nats-server) are the keys of ``fleet.yaml``'s ``site_domains``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from robotfleet_nodes._yaml import load_yaml
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.security._subjects import root_and_domain_from_env

__all__ = ["Topology", "root_and_domain_from_env"]

_AREA_FILE = re.compile(r"area(-\d+)?\.yaml")


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
    _zone_of: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for zone, robots in self.zone_robots.items():
            for robot in robots:
                self._zone_of[robot] = zone

    @property
    def robots(self) -> list[str]:
        """Every robot id, in robots.csv order."""
        return [robot for robots in self.zone_robots.values() for robot in robots]

    @property
    def zones(self) -> list[str]:
        """Every zone id."""
        return list(self.zone_robots)

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
        """The robots of every zone of ``area_id``."""
        return [r for zone in self.area_zones.get(area_id, []) for r in self.zone_robots.get(zone, [])]

    @classmethod
    def from_deployment(cls, out_dir: str | Path, *, root: str = "rfos", domain: str = "0") -> Topology:
        """Read ``robots.csv`` (robot_id,zone_id) and ``area*.yaml`` (``area_id``, ``zones``).

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
        )


def _site_zones(fleet_file: Path) -> tuple[str, ...]:
    """The keys of ``site_domains`` in ``fleet_file`` (none when it is missing)."""
    if not fleet_file.exists():
        return ()
    try:
        data = load_yaml(fleet_file.read_text(encoding="utf-8"), str(fleet_file)) or {}
    except OSError as exc:
        raise ConfigError(f"{fleet_file}: {exc}") from None
    return tuple(str(zone) for zone in data.get("site_domains") or {})
