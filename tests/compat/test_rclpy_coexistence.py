"""Coexistence with a real ROS 2: whose ``rclpy`` a script gets (``RFOS_ROS2``).

Each case runs a fresh interpreter of this environment in an empty directory, so only what the
installed ``.pth`` does at start-up is in play. A directory holding a package named ``rclpy``
(and one named ``std_msgs``) on ``PYTHONPATH`` stands in for a real ROS 2 installation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from robotfleet_nodes import _import_hook

OURS = str(Path(_import_hook.__file__).resolve().parent / "compat" / "rclpy" / "__init__.py")

WHO = (
    "import json, sys\n"
    "import rclpy, rclpy as again\n"
    "print(json.dumps([rclpy.__file__, getattr(rclpy, 'WHO', 'ours')]))\n"
)


def _python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RFOS_ROS2", "RFOS_INTERFACE_PATH")
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ok(code: str, cwd: Path, **env: str) -> str:
    result = _python(code, cwd, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def real_ros2(tmp_path: Path) -> Path:
    """A stand-in for a real ROS 2 installation: ``rclpy`` and ``std_msgs`` packages."""
    root = tmp_path / "ros2"
    for name in ("rclpy", "std_msgs"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("WHO = 'real'\n", encoding="utf-8")
    (root / "std_msgs" / "msg.py").write_text("WHO = 'real'\nclass String: pass\n", encoding="utf-8")
    return root


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    directory = tmp_path / "cwd"
    directory.mkdir()
    return directory


def test_default_serves_ours_from_the_end_of_meta_path_and_loads_it_lazily(empty: Path) -> None:
    out = _ok(
        "import json, sys\n"
        "names = [getattr(f, '__name__', type(f).__name__) for f in sys.meta_path]\n"
        "loaded = 'rclpy' in sys.modules\n"
        "import rclpy\n"
        "print(json.dumps([names, loaded, rclpy.__name__, rclpy.__file__]))",
        empty,
    )
    names, loaded, name, file = json.loads(out)
    assert names.index("CompatFinder") > names.index("PathFinder"), names
    assert not loaded
    assert (name, file) == ("rclpy", OURS)


def test_auto_a_real_rclpy_wins_and_turns_our_interfaces_off(empty: Path, real_ros2: Path) -> None:
    assert json.loads(_ok(WHO, empty, PYTHONPATH=str(real_ros2), RFOS_ROS2="auto"))[1] == "real"
    # The real installation lacks example_interfaces: ours must not fill the gap.
    result = _python("import example_interfaces.srv", empty, PYTHONPATH=str(real_ros2))
    assert result.returncode != 0
    assert "No module named 'example_interfaces'" in result.stderr
    # Without a real rclpy, ours serve it.
    _ok("from example_interfaces.srv import AddTwoInts; AddTwoInts.Request(a=1, b=2)", empty)


def test_rfos_forces_ours_over_a_real_installation(empty: Path, real_ros2: Path) -> None:
    out = _ok(
        WHO + "import rclpy\nimport std_msgs.msg\nprint(json.dumps(getattr(std_msgs.msg, 'WHO', 'ours')))",
        empty,
        PYTHONPATH=str(real_ros2),
        RFOS_ROS2="rfos",
    )
    first, second = out.splitlines()
    assert json.loads(first) == [OURS, "ours"]
    assert json.loads(second) == "ours"


def test_off_serves_no_rclpy_but_keeps_the_interfaces(empty: Path) -> None:
    result = _python("import rclpy", empty, RFOS_ROS2="off")
    assert result.returncode != 0
    assert "No module named 'rclpy'" in result.stderr
    _ok("from std_msgs.msg import String; String(data='x')", empty, RFOS_ROS2="off")


def test_an_unknown_mode_says_what_to_do_and_falls_back_to_auto(empty: Path) -> None:
    result = _python(WHO, empty, RFOS_ROS2="ros")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [OURS, "ours"]
    assert "RFOS_ROS2='ros' is not one of auto, rfos, off" in result.stderr


def test_init_shutdown_and_the_context_manager(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import rclpy

    monkeypatch.setenv("MESSAGING_URL", nats_url)
    assert rclpy.__file__ == OURS
    assert not rclpy.ok()
    with rclpy.init():
        assert rclpy.ok()
        with pytest.raises(RuntimeError, match="already called"):
            rclpy.init()
    assert not rclpy.ok()
    rclpy.init(args=[])
    rclpy.shutdown()
    with pytest.raises(RuntimeError, match=r"without rclpy\.init"):
        rclpy.shutdown()
