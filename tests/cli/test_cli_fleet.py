"""``rfos fleet gen-config``."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotfleet_nodes.cli.main import main
from robotfleet_nodes.config import load_config


def test_gen_config_writes_a_loadable_deployment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "deploy"
    assert main(["fleet", "gen-config", "--robots", "12", "--zones", "3", "--out", str(out)]) == 0
    assert "12 robots" in capsys.readouterr().out
    zone = load_config("zone", out / "zone-3.yaml", environ={})
    assert zone.robots == ["robot-9", "robot-10", "robot-11", "robot-12"]
    edge = load_config("edge", out / "edge" / "robot-12.yaml", environ={"MESSAGING_URL": "nats://nats:4222"})
    assert (edge.zone_id, edge.messaging.broker) == ("zone-3", "nats://nats:4222")
    assert (out / "robots.csv").read_text().splitlines()[:2] == ["robot_id,zone_id", "robot-1,zone-1"]


def test_gen_config_rejects_bad_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "gen-config", "--robots", "0", "--out", str(tmp_path)]) == 1
    assert "robots must be at least 1" in capsys.readouterr().err
