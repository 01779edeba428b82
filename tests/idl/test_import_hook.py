"""The interface import hook installed at interpreter start-up (``robotfleet_nodes._import_hook``).

Each behaviour is checked in a fresh interpreter of this environment, started in an empty
directory, so only what the installed ``.pth`` does at start-up is in play.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from robotfleet_nodes import _import_hook
from robotfleet_nodes.idl import INTERFACE_PATH_ENV, TypeRegistry

HEAVY = ("pydantic", "rosbags", "robotfleet_nodes.idl")


def _python(code: str, cwd: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", INTERFACE_PATH_ENV)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


ROOT = Path(__file__).resolve().parents[2]
PTH = "robotfleet_nodes-import-hook.pth"


def test_the_pth_file_is_installed_in_site_packages() -> None:
    """The editable install `make setup` makes (and the test run uses) has it."""
    pth = Path(sysconfig.get_paths()["purelib"]) / PTH
    assert pth.is_file(), f"{pth} missing: reinstall the package (make setup)"
    assert pth.read_text(encoding="utf-8") == "import robotfleet_nodes._import_hook as hook; hook.install()\n"


def test_a_regular_build_puts_the_pth_at_the_root_of_the_wheel(tmp_path: Path) -> None:
    """A regular wheel (`pip install .`) packs everything under build_lib into purelib."""
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (tmp_path / PTH).read_text(encoding="utf-8").startswith("import robotfleet_nodes._import_hook")
    assert (tmp_path / "robotfleet_nodes" / "_import_hook.py").is_file()


def test_start_up_installs_the_hook_after_the_path_finder_and_loads_nothing_heavy(tmp_path: Path) -> None:
    out = _python(
        "import json, sys\n"
        "names = [getattr(f, '__name__', type(f).__name__) for f in sys.meta_path]\n"
        f"print(json.dumps([names, [m for m in {HEAVY!r} if m in sys.modules]]))",
        tmp_path,
    )
    names, loaded = json.loads(out)
    assert "LazyInterfaceFinder" in names
    assert names.index("LazyInterfaceFinder") > names.index("PathFinder"), names
    assert loaded == []


def test_other_failed_imports_load_nothing_heavy(tmp_path: Path) -> None:
    out = _python(
        "import json, sys\n"
        "for name in ('no_such_module_here', 'no_such_msgs', 'no_such_msgs.msg', 'json.msg'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit(f'{name} imported')\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))",
        tmp_path,
    )
    assert json.loads(out) == []


def test_first_line_of_a_script_imports_a_standard_interface(tmp_path: Path) -> None:
    out = _python(
        "from std_msgs.msg import String\n"
        "from example_interfaces.srv import AddTwoInts\n"
        "from robotfleet_nodes.srv import SubmitWorkOrder\n"
        "print(String(data='hi').data, String.__module__, AddTwoInts.Request(a=1, b=2).b,"
        " SubmitWorkOrder.__ros_type__)",
        tmp_path,
    )
    assert out.split() == ["hi", "std_msgs.msg", "2", "robotfleet_nodes/srv/SubmitWorkOrder"]


def test_a_real_package_wins(tmp_path: Path) -> None:
    real = tmp_path / "site" / "std_msgs" / "msg"
    real.mkdir(parents=True)
    (real.parent / "__init__.py").write_text("")
    (real / "__init__.py").write_text("String = 'the real one'\n")
    out = _python(
        "from std_msgs.msg import String\nprint(String)", tmp_path, PYTHONPATH=str(tmp_path / "site")
    )
    assert out.strip() == "the real one"


def test_a_package_on_the_interface_path_is_served(tmp_path: Path) -> None:
    package = tmp_path / "share" / "my_robot_msgs"  # not in the working directory: that would win
    (package / "msg").mkdir(parents=True)
    (package / "msg" / "Beep.msg").write_text("uint8 volume 3\n")
    out = _python(
        "from my_robot_msgs.msg import Beep\nprint(Beep().volume)",
        tmp_path,
        **{INTERFACE_PATH_ENV: str(package)},
    )
    assert out.strip() == "3"


def test_the_gate_knows_every_standard_package() -> None:
    standard = {name.split("/", 1)[0] for name in TypeRegistry().names()}
    assert standard == set(_import_hook.STANDARD_PACKAGES)


def test_the_gate_reads_the_registry_s_environment_variable() -> None:
    assert _import_hook._INTERFACE_PATH_ENV == INTERFACE_PATH_ENV
