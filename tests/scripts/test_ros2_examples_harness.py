"""scripts/ros2_examples.py: its pairing, judging and environment, on tiny programs written here.

The real ROS 2 examples are not in CI (they come from mirrors at run time), so these programs
only print, wait for SIGINT or fail the way the examples would.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ros2_examples.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ros2_examples", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ros2_examples"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


h = _load()

SERVER = """
import time
try:
    print('ready', flush=True)
    while True:
        time.sleep(0.05)
except KeyboardInterrupt:
    print('Incoming request a: 41 b: 1', flush=True)
"""
CLIENT = "print('Result of add_two_ints: for 41 + 1 = 42')\n"
SILENT = "import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    pass\n"
BROKEN = "import rclpy.nothing_here\n"
ENVIRONMENT = """
import json, os
from pkg import sibling
print(json.dumps({k: os.environ.get(k) for k in ('ROS_DOMAIN_ID', 'MESSAGING_URL', 'PYTHONPATH',
      'ROS_AUTOMATIC_DISCOVERY_RANGE', 'AMENT_PREFIX_PATH')}), sibling.WORD, flush=True)
"""


@pytest.fixture
def trees(tmp_path: Path) -> dict[str, Path]:
    examples = tmp_path / "examples"
    (examples / "rclpy" / "demo" / "pkg").mkdir(parents=True)
    files = {
        "server.py": SERVER,
        "client.py": CLIENT,
        "silent.py": SILENT,
        "broken.py": BROKEN,
        "pkg/__init__.py": "",
        "pkg/sibling.py": "WORD = 'sibling imported'\n",
        "pkg/environment.py": ENVIRONMENT,
        "package.xml": "<package><name>demo_pkg</name></package>\n",
        "setup.py": "",
    }
    for name, text in files.items():
        (examples / "rclpy" / "demo" / name).write_text(text)
    return {"examples": examples}


@pytest.fixture
def runner(trees: dict[str, Path], tmp_path: Path) -> object:
    return h.Runner(
        sys.executable, trees, tmp_path / "work", "nats://127.0.0.1:1", first_domain=150, crash_grace=0
    )


def _program(path: str, *expect: str, **kwargs: object) -> object:
    return h.Program("examples", "rclpy/demo/" + path, expect=tuple(h.Expect(e) for e in expect), **kwargs)


def _by_path(lines: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(line["path"]).rsplit("/", 1)[-1]: line for line in lines}


def test_a_server_and_its_client_are_ok(runner: object) -> None:
    case = h.Case((_program("server.py", "ready"), _program("client.py", r"for 41 \+ 1 = 42", exits=True)))
    lines = _by_path(runner.run(case))  # type: ignore[attr-defined]
    assert [lines[n]["result"] for n in ("server.py", "client.py")] == ["ok", "ok"], lines
    assert lines["client.py"]["partner"] == "examples:rclpy/demo/server.py"
    assert lines["client.py"]["repo"] == "ros2/examples" and lines["client.py"]["detail"] == ""


def test_a_missing_expectation_fails_at_the_timeout(runner: object) -> None:
    case = h.Case((_program("silent.py", r"I heard: \[Hello World: \d+\]"),), timeout=2.0)
    (line,) = runner.run(case)  # type: ignore[attr-defined]
    assert line["result"] == "fail"
    assert line["detail"] == r"missing 'I heard: \\[Hello World: \\d+\\]' (timeout 2s)"


def test_an_import_error_is_an_error_and_its_partner_is_told(runner: object) -> None:
    case = h.Case((_program("silent.py", "never printed"), _program("broken.py", exits=True)), timeout=30)
    lines = _by_path(runner.run(case))  # type: ignore[attr-defined]
    assert lines["broken.py"]["result"] == "error"
    assert lines["broken.py"]["detail"] == "ModuleNotFoundError: No module named 'rclpy.nothing_here'"
    assert lines["silent.py"]["result"] == "fail"
    assert "partner error: examples:rclpy/demo/broken.py: ModuleNotFoundError" in str(
        lines["silent.py"]["detail"]
    )


def _environment(runner: object) -> dict[str, str]:
    program = _program("pkg/environment.py", exits=True)
    file = runner.file(program)  # type: ignore[attr-defined]
    env = runner._env(runner._domain(), file)  # type: ignore[attr-defined]
    process = h._Process(program, [sys.executable, str(file)], env, file.parent)
    process.popen.wait(timeout=30)
    output = process.stop().output
    assert "sibling imported" in output  # the package root is on PYTHONPATH, as colcon installs it
    seen: dict[str, str] = json.loads(output.split(" sibling")[0])
    return seen


def test_each_case_gets_a_fresh_domain_the_broker_and_loopback_discovery(runner: object) -> None:
    first, second = _environment(runner), _environment(runner)
    assert (first["ROS_DOMAIN_ID"], second["ROS_DOMAIN_ID"]) == ("150", "151")
    assert first["MESSAGING_URL"] == "nats://127.0.0.1:1"
    assert first["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"


def test_domains_wrap_within_100_to_230(trees: dict[str, Path], tmp_path: Path) -> None:
    runner = h.Runner(sys.executable, trees, tmp_path / "w", None, first_domain=230)
    assert [runner._domain() for _ in range(3)] == [230, 100, 101]


def test_drivers_and_an_ament_prefix_are_installed(runner: object, trees: dict[str, Path]) -> None:
    seen = _environment(runner)
    assert seen["PYTHONPATH"] == str(trees["examples"] / "rclpy" / "demo")
    work = runner.workdir  # type: ignore[attr-defined]
    assert seen["AMENT_PREFIX_PATH"].split(":")[0] == str(work / "install")
    index = work / "install" / "share" / "ament_index" / "resource_index" / "packages" / "demo_pkg"
    assert index.exists() and (work / "install" / "share" / "demo_pkg" / "package.xml").exists()
    for name, text in h.DRIVERS.items():
        assert (work / "harness" / f"{name}.py").read_text() == text.lstrip()


def test_first_error_skips_keyboard_interrupts_and_takes_the_root_cause() -> None:
    interrupted = "Traceback (most recent call last):\n  File 'x.py', line 1\nKeyboardInterrupt\n"
    chained = (
        "Traceback (most recent call last):\n  File 'a.py', line 3, in main\n    import rclpy.action\n"
        "ModuleNotFoundError: No module named 'rclpy.action'\n\nDuring handling of the above exception,"
        " another exception occurred:\n\nTraceback (most recent call last):\n  File 'a.py'\nNameError: x\n"
    )
    assert h.first_error(interrupted) is None
    shutdown = "Exception in thread Thread-1:\nTraceback (most recent call last):\n  File 'c.py'\n"
    assert h.first_error(shutdown + "rclpy.executors.ExternalShutdownException\n") is None
    assert h.first_error("[INFO] [1.2] [talker]: fine\n") is None
    assert h.first_error(interrupted + chained) == "ModuleNotFoundError: No module named 'rclpy.action'"
    thread = (
        "Exception in thread Thread-1:\nTraceback (most recent call last):\n  File 'b.py'\nValueError: bad\n"
    )
    assert h.first_error(thread) == "ValueError: bad"


def test_judge_counts_exits_and_absent_patterns() -> None:
    program = h.Program(
        "demos", "p.py", expect=(h.Expect(r"I heard: \[\d\]", 2),), absent=(r"\[0\]",), exits=True
    )
    assert h.judge(h.Outcome(program, "I heard: [1]\nI heard: [2]\n", 0, True)) == ("ok", "")
    result, detail = h.judge(h.Outcome(program, "I heard: [0]\nI heard: [1]\n", None, False))
    assert result == "fail"
    assert detail == r"unexpected '\\[0\\]'; did not exit by itself"
    assert h.judge(h.Outcome(program, "I heard: [1]\n", 0, True)) == (
        "fail",
        r"missing 'I heard: \\[\\d\\]' x2 (seen 1)",
    )
    assert h.judge(h.Outcome(program, "boom\n", 3, True)) == ("error", "exit code 3: boom")


def test_a_driver_speaks_for_the_program_it_drives() -> None:
    talker = h.Program("demos", "lifecycle_py/lifecycle_py/talker.py")
    driver = h.Program("harness", "lifecycle_driver", expect=(h.Expect("success=True"),), report=False)
    (line,) = h.verdicts([h.Outcome(talker, "", None, False), h.Outcome(driver, "success=False", 0, True)])
    assert line["result"] == "fail" and line["partner"] == "harness:lifecycle_driver"
    assert line["detail"] == "lifecycle_driver: missing 'success=True'"
    (line,) = h.verdicts([h.Outcome(talker, "", None, False), h.Outcome(driver, "success=True", 0, True)])
    assert line["result"] == "ok"


def test_the_table_is_consistent() -> None:
    reported: set[tuple[str, str, tuple[str, ...]]] = set()
    for case in h.CASES:
        assert any(p.report for p in case.programs), case
        for program in case.programs:
            assert program.source in h.REPOS
            if program.source == "harness":
                assert program.path in h.DRIVERS and not program.report
            for expect in program.expect:
                re.compile(expect.pattern)
            if program.report:
                key = (program.source, program.path, program.args)
                assert key not in reported, f"{key} is reported twice"
                reported.add(key)
    assert len(reported) >= 50


def test_list_needs_no_mirror(capsys: pytest.CaptureFixture[str]) -> None:
    assert h.main(["--list", "--only", "lifecycle"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row == ["demos:lifecycle_py/lifecycle_py/talker.py", "harness:lifecycle_driver"]
    with pytest.raises(SystemExit):
        h.main([])
    with pytest.raises(SystemExit):
        h.main(["--examples", ".", "--python", "/nonexistent/python"])
    assert "is not an executable interpreter" in capsys.readouterr().err
