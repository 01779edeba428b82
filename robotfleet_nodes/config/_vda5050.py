"""The VDA 5050 vehicles of a generated deployment (``rfos fleet gen-config --vda5050 N``).

Vehicle ``i`` (1-based) is manufacturer :data:`MANUFACTURER`, serial number ``SN.<i>`` (a
``.`` on purpose: nats-server maps it to ``//`` in the subject, so every run exercises the
mapping) and robot id ``RobotFleetSim-SN_<i>`` (:func:`~robotfleet_nodes.vda5050.topics.default_robot_id`);
vehicles go to the zones round robin (vehicle 1 to zone-1, vehicle 2 to zone-2, ...).

Files: ``edge/<robot_id>.yaml`` (an ordinary edge with ``driver: vda5050``) and
``vda5050/vehicles.csv`` (what ``rfos vda5050 sim --vehicles`` reads), header
``robot_id,zone_id,manufacturer,serial_number,interface_name,major_version,creds``, ``creds``
relative to the CSV's directory (empty in an open deployment). Secured, the identities are
``secrets/vda5050/<robot_id>.creds`` (the vehicle's MQTT login) and
``secrets/vda5050/<robot_id>-master.creds`` (its edge's MQTT login, to read the retained
``connection``); :mod:`robotfleet_nodes.security.identities` issues them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from robotfleet_nodes.security.topology import VEHICLES_CSV, Vehicle
from robotfleet_nodes.vda5050.topics import VehicleTopics, default_robot_id

__all__ = [
    "EDGE_FILE",
    "MANUFACTURER",
    "MQTT_PORT",
    "VEHICLES_CSV",
    "edge_yaml",
    "mqtt_url_for",
    "vehicles",
    "vehicles_csv",
]

#: The manufacturer of the generated vehicles (the simulator's).
MANUFACTURER = "RobotFleetSim"
#: The MQTT listener's port the generated configurations name (``mqtt.port``).
MQTT_PORT = 1883
#: The file names of generated vehicles' edges (for removing stale ones).
EDGE_FILE = re.compile(re.escape(MANUFACTURER) + r"-SN_\d+\.yaml")
_HEADER = "robot_id,zone_id,manufacturer,serial_number,interface_name,major_version,creds\n"


def vehicles(count: int, zone_ids: Sequence[str]) -> list[Vehicle]:
    """``count`` vehicles spread over ``zone_ids`` round robin."""
    out = []
    for i in range(1, count + 1):
        serial = f"SN.{i}"
        VehicleTopics(MANUFACTURER, serial)  # checks the levels as the edge and the simulator will
        out.append(
            Vehicle(
                default_robot_id(MANUFACTURER, serial),
                zone_ids[(i - 1) % len(zone_ids)],
                MANUFACTURER,
                serial,
            )
        )
    return out


def mqtt_url_for(broker: str) -> str:
    """``mqtts://<host>:1883`` on the host of ``broker``'s first NATS URL."""
    host = urlsplit(broker.split(",", maxsplit=1)[0].strip()).hostname or "localhost"
    return f"mqtts://{host}:{MQTT_PORT}"


def edge_yaml(vehicle: Vehicle, *, header: str, messaging: str, rest: str, broker: str, secure: bool) -> str:
    """The edge file of ``vehicle``: robot and zone, ``driver: vda5050``, its ``vda5050:``
    section (secured: ``mqtts://`` and the master's credentials), then ``messaging`` and
    ``rest`` as for any edge."""
    t = vehicle
    text = (
        f"{header}# The master of VDA 5050 vehicle {t.prefix} (speaks MQTT through the NATS broker).\n"
        f"robot_id: {vehicle.robot_id}\nzone_id: {vehicle.zone_id}\ndriver: vda5050\nvda5050:\n"
        f"  manufacturer: {t.manufacturer}\n  serial_number: {t.serial_number}\n"
        f"  interface_name: {t.interface_name}\n  major_version: {t.major_version}\n"
    )
    if secure:
        text += (
            f"  mqtt_url: {mqtt_url_for(broker)}\n"
            f"  mqtt_credentials: ../secrets/vda5050/{vehicle.robot_id}-master.creds\n"
        )
    return text + messaging + rest


def vehicles_csv(items: Sequence[Vehicle], *, secure: bool) -> str:
    """``vda5050/vehicles.csv`` of ``items``; ``creds`` paths relative to the CSV's directory."""
    rows = [_HEADER]
    for v in items:
        t = v
        path = f"../secrets/vda5050/{v.robot_id}.creds" if secure else ""
        rows.append(
            f"{v.robot_id},{v.zone_id},{t.manufacturer},{t.serial_number},{t.interface_name},{t.major_version},{path}\n"
        )
    return "".join(rows)
