"""Real ROS 2 as the reference: the `.venv-ros2` venv built by `make ros2-oracle`.

That venv holds the registry's pinned ``ros-*`` wheels (constraints-ros2.txt): real rclpy and the
standard interface packages, whose ``share/<pkg>/{msg,srv,action}/*.json`` files are the type
descriptions and RIHS01 hashes rosidl generated. Tests use :func:`oracle` to find it. Without
the venv they skip with the command to run, except under CI (``CI=true``): there a missing
oracle fails, so a green CI run always compared against real ROS 2.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["ROOT", "Oracle", "OracleType", "oracle", "oracle_missing", "oracle_venv"]

ROOT = Path(__file__).resolve().parent.parent
BUILD_HINT = "run `make ros2-oracle` (builds .venv-ros2 from constraints-ros2.txt)"


@dataclass(frozen=True)
class OracleType:
    """One interface type described by a ``share/<pkg>/<kind>/<Name>.json`` file."""

    name: str  # "std_srvs/srv/Trigger"
    path: Path
    hashes: dict[str, str]  # every type the file lists (the type, its parts, its references)


@dataclass(frozen=True)
class Oracle:
    """The `.venv-ros2` venv: its interpreter and its type-description files."""

    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def share(self) -> Path:
        return self.venv / "share"

    def types(self, kinds: tuple[str, ...] = ("msg", "srv", "action")) -> list[OracleType]:
        """Every type-description JSON file the wheels installed, sorted by type name."""
        found: list[OracleType] = []
        for kind in kinds:
            for path in sorted(self.share.glob(f"*/{kind}/*.json")):
                data = json.loads(path.read_text(encoding="utf-8"))
                hashes = {entry["type_name"]: entry["hash_string"] for entry in data["type_hashes"]}
                name = data["type_description_msg"]["type_description"]["type_name"]
                found.append(OracleType(name=name, path=path, hashes=hashes))
        return sorted(found, key=lambda t: t.name)

    def hashes(self) -> dict[str, str]:
        """Type name -> RIHS01 hash string of every type (and part) in the share/ JSON files."""
        merged: dict[str, str] = {}
        for described in self.types():
            merged.update(described.hashes)
        return merged


def oracle_venv() -> Path:
    """``.venv-ros2`` of this checkout (``RFOS_ROS2_VENV`` overrides it)."""
    return Path(os.environ.get("RFOS_ROS2_VENV", ROOT / ".venv-ros2"))


def oracle_missing() -> str | None:
    """Why the oracle cannot be used, or None when it can."""
    venv = oracle_venv()
    if not (venv / "bin" / "python").exists() or not (venv / ".installed").exists():
        return f"{venv} is missing: {BUILD_HINT}"
    if not (venv / "share" / "std_srvs").is_dir():
        return f"{venv} has no share/std_srvs: {BUILD_HINT}"
    return None


def oracle() -> Oracle:
    """The oracle venv; skips the test (fails it under ``CI=true``) when it is not built."""
    missing = oracle_missing()
    if missing is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: the ROS 2 oracle is required: {missing}")
        pytest.skip(missing)
    return Oracle(oracle_venv())
