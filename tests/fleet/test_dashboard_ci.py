"""The dashboard browser test skips without Chromium only outside CI; under CI it fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DASHBOARD_TESTS = Path(__file__).with_name("test_dashboard.py")
#: How many browser tests that file holds (each must error under CI, skip outside it).
BROWSER_TESTS = DASHBOARD_TESTS.read_text().count("\nasync def test_")


def run_dashboard_tests(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``pytest test_dashboard.py`` in a child with Chromium pointed at a file that is not there."""
    child_env = {k: v for k, v in os.environ.items() if k != "CI"}
    child_env.update(RFOS_TEST_CHROMIUM=str(tmp_path / "no-chromium"), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(DASHBOARD_TESTS)],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("ci", ["true", "1"])
def test_missing_chromium_fails_under_ci(tmp_path: Path, ci: str) -> None:
    done = run_dashboard_tests(tmp_path, CI=ci)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{BROWSER_TESTS} errors" in done.stdout and "skipped" not in done.stdout
    assert "no-chromium is missing: run `make browser`" in done.stdout


def test_missing_chromium_skips_with_the_hint_outside_ci(tmp_path: Path) -> None:
    done = run_dashboard_tests(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert BROWSER_TESTS >= 2 and f"{BROWSER_TESTS} skipped" in done.stdout
    assert "no-chromium is missing: run `make browser`" in done.stdout
