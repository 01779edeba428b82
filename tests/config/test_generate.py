"""The deployment generator and the seed's scripts/generate-1000-robot-config.sh."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from robotfleet_nodes.config import load_config
from robotfleet_nodes.config.generate import generate_deployment, heartbeat_for, main, split_evenly
from robotfleet_nodes.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "generate-1000-robot-config.sh"


@pytest.fixture(scope="module")
def deploy_1000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed's deployment, generated once for the module."""
    out = tmp_path_factory.mktemp("deploy") / "1000"
    generate_deployment(out)
    return out


def test_writes_exactly_the_seed_files(deploy_1000: Path) -> None:
    top = sorted(p.name for p in deploy_1000.iterdir())
    seed = ["area.yaml", "edge", "fleet.yaml", "robots.csv"] + [f"zone-{i}.yaml" for i in range(1, 6)]
    assert top == sorted([*seed, "secrets"])
    edges = {p.name for p in (deploy_1000 / "edge").iterdir()}
    assert edges == {f"robot-{i}.yaml" for i in range(1, 1001)}


def test_area_owns_five_zones(deploy_1000: Path) -> None:
    area = load_config("area", deploy_1000 / "area.yaml", environ={})
    assert area.area_id == "area-1"
    assert area.zones == ["zone-1", "zone-2", "zone-3", "zone-4", "zone-5"]


@pytest.mark.parametrize("zone", range(1, 6))
def test_each_zone_has_200_robots_in_order(deploy_1000: Path, zone: int) -> None:
    config = load_config("zone", deploy_1000 / f"zone-{zone}.yaml", environ={})
    assert config.zone_id == f"zone-{zone}"
    assert config.area_id == "area-1"
    assert len(config.robots) == 200
    assert config.robots == [f"robot-{i}" for i in range(200 * (zone - 1) + 1, 200 * zone + 1)]


def test_first_and_last_robot_of_the_seed_examples(deploy_1000: Path) -> None:
    zone1 = load_config("zone", deploy_1000 / "zone-1.yaml", environ={})
    zone2 = load_config("zone", deploy_1000 / "zone-2.yaml", environ={})
    assert (zone1.robots[0], zone1.robots[-1]) == ("robot-1", "robot-200")
    assert (zone2.robots[0], zone2.robots[-1]) == ("robot-201", "robot-400")


def test_fleet_file(deploy_1000: Path) -> None:
    fleet = load_config("fleet", environ={"FLEET_CONFIG": str(deploy_1000 / "fleet.yaml")})
    assert fleet.areas == ["area-1"]
    assert fleet.http.port == 8080


def test_robots_csv(deploy_1000: Path) -> None:
    text = (deploy_1000 / "robots.csv").read_text(encoding="utf-8")
    assert text.startswith("robot_id,zone_id\nrobot-1,zone-1\n")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == 1000
    assert rows[199] == {"robot_id": "robot-200", "zone_id": "zone-1"}
    assert rows[200] == {"robot_id": "robot-201", "zone_id": "zone-2"}
    assert rows[-1] == {"robot_id": "robot-1000", "zone_id": "zone-5"}


def test_every_edge_file_loads_and_matches_the_csv(deploy_1000: Path) -> None:
    rows = list(csv.DictReader((deploy_1000 / "robots.csv").read_text(encoding="utf-8").splitlines()))
    for row in rows:
        env = {"EDGE_CONFIG": str(deploy_1000 / "edge" / f"{row['robot_id']}.yaml")}
        edge = load_config("edge", environ=env)
        assert (edge.robot_id, edge.zone_id) == (row["robot_id"], row["zone_id"])
        assert edge.messaging.broker == "nats://localhost:4222"


def test_every_file_sets_the_broker_and_messaging_url_overrides_it(deploy_1000: Path) -> None:
    files = [("fleet", deploy_1000 / "fleet.yaml"), ("area", deploy_1000 / "area.yaml")]
    files += [("zone", deploy_1000 / f"zone-{i}.yaml") for i in range(1, 6)]
    files += [("edge", deploy_1000 / "edge" / f"robot-{i}.yaml") for i in (1, 200, 201, 1000)]
    for kind, path in files:
        assert "  broker: nats://localhost:4222\n" in path.read_text(encoding="utf-8")
        assert load_config(kind, path, environ={}).messaging.broker == "nats://localhost:4222"
        overridden = load_config(kind, path, environ={"MESSAGING_URL": "nats://nats:4222"})
        assert overridden.messaging.broker == "nats://nats:4222"


def test_summary(tmp_path: Path) -> None:
    summary = generate_deployment(tmp_path, robots=10, zones=2)
    assert summary.robot_count == 10
    assert summary.zones == {
        "zone-1": [f"robot-{i}" for i in range(1, 6)],
        "zone-2": [f"robot-{i}" for i in range(6, 11)],
    }
    assert summary.areas == {"area-1": ["zone-1", "zone-2"]}
    assert len(summary.files) == 1 + 1 + 2 + 10 + 1
    assert all(path.is_file() for path in summary.files)
    text = summary.describe()
    assert f"{tmp_path / 'zone-1.yaml'}  zone-1: robot-1 ... robot-5 (5 robots)" in text
    assert "MESSAGING_URL" in text


# --- uneven splits and several areas -------------------------------------------------------------


def test_split_evenly() -> None:
    assert [len(r) for r in split_evenly(1003, 5)] == [201, 201, 201, 200, 200]
    assert split_evenly(5, 5) == [range(i, i + 1) for i in range(5)]
    parts = split_evenly(17, 4)
    assert [i for r in parts for i in r] == list(range(17))


def test_uneven_robots(tmp_path: Path) -> None:
    summary = generate_deployment(tmp_path, robots=103, zones=5)
    sizes = [len(robots) for robots in summary.zones.values()]
    assert sizes == [21, 21, 21, 20, 20]
    zone4 = load_config("zone", tmp_path / "zone-4.yaml", environ={})
    assert (zone4.robots[0], zone4.robots[-1]) == ("robot-64", "robot-83")
    assert len(list((tmp_path / "edge").iterdir())) == 103
    assert (tmp_path / "robots.csv").read_text(encoding="utf-8").splitlines()[-1] == "robot-103,zone-5"


def test_heartbeats_scale_with_the_fleet() -> None:
    assert heartbeat_for(1000) == heartbeat_for(2000) == (1.0, 3.0)  # the config defaults
    assert heartbeat_for(3000) == (1.5, 4.5)
    assert heartbeat_for(10000) == (5.0, 15.0)
    assert heartbeat_for(1_000_000) == (10.0, 30.0)


def test_default_heartbeats_are_not_written(deploy_1000: Path) -> None:
    assert "status_rate_hz" not in (deploy_1000 / "edge" / "robot-1.yaml").read_text(encoding="utf-8")
    assert "heartbeat_timeout_s" not in (deploy_1000 / "zone-1.yaml").read_text(encoding="utf-8")
    assert load_config("edge", deploy_1000 / "edge" / "robot-1.yaml", environ={}).status_rate_hz == 1.0
    assert load_config("zone", deploy_1000 / "zone-1.yaml", environ={}).heartbeat_timeout_s == 3.0


def test_large_fleet_gets_slower_heartbeats_and_a_matching_timeout(tmp_path: Path) -> None:
    generate_deployment(tmp_path, robots=10000, zones=50)
    edge = load_config("edge", tmp_path / "edge" / "robot-10000.yaml", environ={})
    zone = load_config("zone", tmp_path / "zone-50.yaml", environ={})
    assert edge.status_rate_hz == pytest.approx(0.2)  # every 5 s
    assert zone.heartbeat_timeout_s == 15.0  # 3 missed heartbeats
    assert len(zone.robots) == 200


def test_status_period_given_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--robots", "10", "--zones", "2", "--out", str(tmp_path), "--status-period", "2"]) == 0
    assert load_config("edge", tmp_path / "edge" / "robot-1.yaml", environ={}).status_rate_hz == 0.5
    assert load_config("zone", tmp_path / "zone-1.yaml", environ={}).heartbeat_timeout_s == 6.0
    generate_deployment(tmp_path, robots=10000, zones=50, status_period_s=1.0)  # back to the defaults
    assert "status_rate_hz" not in (tmp_path / "edge" / "robot-1.yaml").read_text(encoding="utf-8")


def test_several_areas(tmp_path: Path) -> None:
    generate_deployment(tmp_path, robots=100, zones=5, areas=2)
    assert load_config("area", tmp_path / "area-1.yaml", environ={}).zones == ["zone-1", "zone-2", "zone-3"]
    assert load_config("area", tmp_path / "area-2.yaml", environ={}).zones == ["zone-4", "zone-5"]
    assert load_config("area", tmp_path / "area.yaml", environ={}).area_id == "area-1"
    assert load_config("zone", tmp_path / "zone-4.yaml", environ={}).area_id == "area-2"
    assert load_config("fleet", tmp_path / "fleet.yaml", environ={}).areas == ["area-1", "area-2"]


def test_one_area_writes_no_numbered_area_file(tmp_path: Path) -> None:
    generate_deployment(tmp_path, robots=3, zones=1)
    assert not (tmp_path / "area-1.yaml").exists()


def test_regenerating_smaller_removes_stale_files_only(tmp_path: Path) -> None:
    generate_deployment(tmp_path, robots=20, zones=4, areas=2)
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "edge" / "custom.yaml").write_text("robot_id: x\n", encoding="utf-8")
    summary = generate_deployment(tmp_path, robots=6, zones=2)
    assert sorted(p.name for p in (tmp_path / "edge").glob("robot-*.yaml")) == sorted(
        f"robot-{i}.yaml" for i in range(1, 7)
    )
    assert not (tmp_path / "zone-3.yaml").exists()
    assert not (tmp_path / "area-2.yaml").exists()
    assert (tmp_path / "notes.txt").exists()
    assert (tmp_path / "edge" / "custom.yaml").exists()
    assert len(summary.removed) == 14 + 2 + 2  # robot-7..20, zone-3/4, area-1/2


def test_custom_broker(tmp_path: Path) -> None:
    generate_deployment(tmp_path, robots=2, zones=1, broker="nats://nats:4222")
    assert load_config("edge", tmp_path / "edge" / "robot-2.yaml", environ={}).messaging.broker == (
        "nats://nats:4222"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"robots": 0}, "robots must be at least 1, got 0"),
        ({"zones": -1}, "zones must be at least 1, got -1"),
        ({"areas": 0}, "areas must be at least 1"),
        ({"robots": 2.5}, "robots must be a whole number, got 2.5"),
        ({"robots": True}, "robots must be a whole number"),
        ({"robots": 3, "zones": 5}, "cannot split 3 robot"),
        ({"zones": 2, "areas": 3}, "cannot split 2 zone"),
        ({"broker": "localhost:4222"}, "broker: 'localhost:4222' is not a NATS URL"),
        ({"status_period_s": 0.0}, r"status period must be 0.01..3600 seconds, got 0.0"),
        ({"status_period_s": float("nan")}, "status period must be"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_deployment(tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_unwritable_out_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot write the deployment"):
        generate_deployment(blocker / "d", robots=1, zones=1)


# --- command line and the seed's script ----------------------------------------------------------


def test_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    assert main(["--robots", "10", "--zones", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{out / 'zone-2.yaml'}  zone-2: robot-6 ... robot-10 (5 robots)" in printed


def test_main_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--robots", "1", "--zones", "2", "--out", str(tmp_path)]) == 2
    assert "error: cannot split 1 robot(s) into 2 zones" in capsys.readouterr().err


def _script_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MESSAGING_URL", None)
    return env


def test_script_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in SCRIPT.read_text(encoding="utf-8")


def test_script_with_out_dir(tmp_path: Path) -> None:
    out = tmp_path / "deploy" / "1000"
    result = subprocess.run(
        [str(SCRIPT), str(out)], capture_output=True, text=True, check=False, timeout=60, env=_script_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "deploy/1000/zone-5.yaml  zone-5: robot-801 ... robot-1000 (200 robots)" in result.stdout
    assert len(list((out / "edge").iterdir())) == 1000
    assert (out / "robots.csv").read_text(encoding="utf-8").count("\n") == 1001


def test_script_default_is_deploy_1000_under_the_repo_root(tmp_path: Path) -> None:
    """A copy of the repo's script and package: the seed's command, run from the root."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, root / "scripts" / SCRIPT.name)
    shutil.copytree(
        REPO / "robotfleet_nodes", root / "robotfleet_nodes", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / ".venv" / "bin").mkdir(parents=True)
    # A wrapper, not a symlink: a symlinked venv interpreter outside its venv loses the
    # venv's packages (nkeys, cryptography for secrets/).
    python = root / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    # from the repo root as in the guide, and from elsewhere
    for cwd, command in (
        (root, "./scripts/generate-1000-robot-config.sh"),
        (tmp_path, str(root / "scripts" / SCRIPT.name)),
    ):
        result = subprocess.run(
            [command],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=_script_env(),
        )
        assert result.returncode == 0, result.stderr
        assert "  deploy/1000/area.yaml  area-1 with zone-1 ... zone-5" in result.stdout
        assert (root / "deploy" / "1000" / "edge" / "robot-1000.yaml").is_file()
    edge = load_config("edge", environ={"EDGE_CONFIG": str(root / "deploy/1000/edge/robot-1000.yaml")})
    assert (edge.robot_id, edge.zone_id) == ("robot-1000", "zone-5")
