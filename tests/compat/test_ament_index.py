"""``ament_index_python`` served by the compat finder: the ament resource index on disk.

A fresh interpreter per case, in an empty directory, with a prefix built in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from robotfleet_nodes import _import_hook

OURS = str(Path(_import_hook.__file__).resolve().parent / "compat" / "ament_index_python" / "__init__.py")

PROGRAM = """
import json, warnings
import ament_index_python as a
out = {"file": a.__file__}
out["prefix"] = a.get_package_prefix("demo_pkg")
out["share"] = a.get_package_share_directory("demo_pkg")
out["packages"] = sorted(n for n in a.get_packages_with_prefixes() if n.startswith("demo_"))
out["resource"] = a.get_resource("packages", "demo_pkg")
out["has"] = a.has_resource("packages", "demo_pkg")
out["has_not"] = a.has_resource("packages", "nothing_here")
out["types"] = sorted(a.get_resource_types())
try:
    a.get_package_prefix("nothing_here")
except a.PackageNotFoundError as exc:
    out["missing"] = [type(exc).__name__, isinstance(exc, KeyError)]
try:
    a.get_package_prefix("bad/name")
except ValueError as exc:
    out["invalid"] = str(exc)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    a.get_package_share_directory("demo_noshare")
    out["warned"] = len(caught)
from ament_index_python.packages import get_package_share_directory
from ament_index_python.resources import has_resource
from ament_index_python.search_paths import get_search_paths
from ament_index_python.constants import AMENT_PREFIX_PATH_ENV_VAR
out["submodules"] = [
    get_package_share_directory("demo_pkg") == out["share"],
    has_resource("packages", "demo_pkg") == out["has"],
    out["prefix"] in get_search_paths(),
    AMENT_PREFIX_PATH_ENV_VAR,
]
print(json.dumps(out))
"""


def _prefix(root: Path) -> Path:
    index = root / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    (index / "demo_pkg").write_text("", encoding="utf-8")
    (index / "demo_noshare").write_text("", encoding="utf-8")
    (root / "share" / "demo_pkg").mkdir()
    return root


def test_the_index_of_ament_prefix_path(tmp_path: Path) -> None:
    prefix = _prefix(tmp_path / "install")
    empty = tmp_path / "cwd"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RFOS_ROS2")}
    env["AMENT_PREFIX_PATH"] = os.pathsep.join([str(tmp_path / "missing"), str(prefix)])
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["file"] == OURS
    assert out["prefix"] == str(prefix)
    assert out["share"] == str(prefix / "share" / "demo_pkg")
    assert out["packages"] == ["demo_noshare", "demo_pkg"]
    assert out["resource"] == ["", str(prefix)]
    assert out["has"] == str(prefix)
    assert out["has_not"] is False
    assert "packages" in out["types"]
    assert out["missing"] == ["PackageNotFoundError", True]
    assert out["invalid"] == "'bad/name' is not a valid package name"
    assert out["warned"] == 1
    assert out["submodules"] == [True, True, True, "AMENT_PREFIX_PATH"]  # ament's module layout


def test_a_real_ament_index_python_wins_in_auto_mode(tmp_path: Path) -> None:
    real = tmp_path / "real" / "ament_index_python"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("WHO = 'real'\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "RFOS_ROS2"}
    code = "import ament_index_python as a; print(getattr(a, 'WHO', 'ours'))"
    for mode, who in (("auto", "real"), ("rfos", "ours")):
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(real.parent), "RFOS_ROS2": mode},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == who, mode
