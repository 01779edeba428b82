"""Fixtures for launch tests: tiny child programs and a LaunchService writing to a Capture."""

from __future__ import annotations

import io
import sys
import textwrap
from pathlib import Path

import pytest
from launch_helpers import Capture, ScriptFactory, ServiceFactory

from robotfleet_nodes.launch import LaunchDescription, LaunchService


@pytest.fixture
def script(tmp_path: Path) -> ScriptFactory:
    """``script(name, body)`` writes a Python program and returns the command running it."""

    def make(name: str, body: str) -> list[str]:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(body))
        return [sys.executable, str(path)]

    return make


@pytest.fixture
def service(tmp_path: Path) -> ServiceFactory:
    """``service(description, **options)`` builds a LaunchService writing to a Capture."""

    def make(description: LaunchDescription, **options: object) -> tuple[LaunchService, Capture]:
        out = Capture()
        options.setdefault("log_dir", tmp_path / "log")
        options.setdefault("handle_signals", False)
        svc = LaunchService(description, stream=out, status_stream=io.StringIO(), **options)  # type: ignore[arg-type]
        return svc, out

    return make
