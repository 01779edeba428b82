"""An edge's zone looked up by its robot id in a zone map (``EDGE_ZONE_MAP``).

A zone map is either a CSV file with the header ``robot_id,zone_id`` (``robots.csv`` as
``rfos fleet gen-config`` writes it) or a directory holding one file per robot id whose
content is the zone id: a Kubernetes ConfigMap mounted as a volume (``robot-zone-map``,
``rfos fleet gen-k8s``). Kubernetes does not expand ``$(EDGE_ROBOT_ID)`` in a
``configMapKeyRef`` key, so a pod cannot pick its own key from the map through its env;
it mounts the whole map and the edge reads its own entry.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from robotfleet_nodes.errors import ConfigError

__all__ = ["zone_from_map"]

_HEADER = ["robot_id", "zone_id"]


def zone_from_map(path: str | Path, robot_id: str, *, source: str = "zone_map") -> str:
    """The zone id ``robot_id`` belongs to according to the zone map at ``path``.

    ``source`` names where the path came from (``EDGE_ZONE_MAP`` or the YAML key) in errors.

    Raises:
        ConfigError: the map cannot be read, is malformed, or has no entry for ``robot_id``.
    """
    map_path = Path(path)
    if map_path.is_dir():
        return _from_directory(map_path, robot_id, source)
    try:
        text = map_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: no zone map at {map_path}: expected a robot_id,zone_id CSV file "
            "or a directory with one file per robot id (a mounted ConfigMap)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the zone map {map_path}: {exc}") from None
    return _from_csv(text, map_path, robot_id, source)


def _from_directory(directory: Path, robot_id: str, source: str) -> str:
    entry = directory / robot_id
    try:
        zone = entry.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: robot {robot_id!r} is not in the zone map {directory} (no file {robot_id}): "
            "regenerate the map from robots.csv, or set EDGE_ZONE_ID"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read {entry}: {exc}") from None
    if not zone:
        raise ConfigError(f"{source}: {entry} is empty: it must hold the zone id of {robot_id}")
    return zone


def _from_csv(text: str, path: Path, robot_id: str, source: str) -> str:
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or [cell.strip() for cell in header] != _HEADER:
        raise ConfigError(f"{source}: {path}:1: expected the header 'robot_id,zone_id', got {header!r}")
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != 2:
            raise ConfigError(f"{source}: {path}:{line}: expected 'robot_id,zone_id', got {','.join(row)!r}")
        if row[0].strip() == robot_id:
            return row[1].strip()
    raise ConfigError(
        f"{source}: robot {robot_id!r} is not in the zone map {path}: "
        "regenerate it (rfos fleet gen-config), or set EDGE_ZONE_ID"
    )
