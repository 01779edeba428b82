"""mypy sees the fields of message classes: a misspelled ``RobotStatus`` field is an error.

Runs the venv's mypy with the project's configuration (``setup.cfg``: strict, the
pydantic plugin, the standard stubs on ``mypy_path``) on two small files that read a
status the way the zone does, one of them with ``status.batery_percent``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "mypy"


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def _mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "setup.cfg", "--cache-dir", str(cache), str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_correctly_spelled_status_fields_pass(mypy_cache: Path) -> None:
    result = _mypy(DATA / "zone_status_ok.py", mypy_cache)
    assert result.returncode == 0, result.stdout + result.stderr


def test_misspelled_status_field_is_reported(mypy_cache: Path) -> None:
    result = _mypy(DATA / "zone_status_misspelled.py", mypy_cache)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        'zone_status_misspelled.py:13: error: "RobotStatus" has no attribute "batery_percent"'
        in result.stdout
    )
    assert "Found 1 error in 1 file" in result.stdout
