"""``rfos launch`` and ``rfos run``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from launch_helpers import alive

from robotfleet_nodes.cli.main import main

LAUNCH = """\
launch:
  - arg: {name: robots, default: "2", description: how many robots}
  - arg: {name: mode, default: sim}
  - for:
      var: i
      from: 1
      to: $(var robots)
      children:
        - node:
            pkg: robotfleet_nodes
            exec: talker
            name: "talker_$(var i)"
            namespace: "/robots/robot-$(var i)"
"""


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_print_shows_the_resolved_processes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, "fleet.launch.yaml", LAUNCH)
    assert main(["launch", str(path), "robots:=3", "--print"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["arguments"] == {"mode": "sim", "robots": "3"}
    assert [p["name"] for p in out["processes"]] == ["talker_1", "talker_2", "talker_3"]
    assert out["processes"][2]["cmd"][-2:] == ["-r", "__ns:=/robots/robot-3"]


def test_show_args_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, "fleet.launch.yaml", LAUNCH)
    assert main(["launch", str(path), "--show-args"]) == 0
    text = capsys.readouterr().out
    assert "'robots':\n    how many robots\n    (default: '2')" in text
    assert main(["launch", str(path), "robots=3"]) == 1
    assert "launch arguments are written name:=value, not 'robots=3'" in capsys.readouterr().err
    assert main(["launch", str(tmp_path / "missing.yaml")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_run_passes_arguments_and_the_exit_code(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, "tiny.py", "import sys\nprint('args', sys.argv[1:])\nsys.exit(7)\n")
    assert main(["run", str(path), "x", "--ros-args", "-r", "__node:=tiny"]) == 7
    assert "args ['x', '--ros-args', '-r', '__node:=tiny']" in capfd.readouterr().out
    assert main(["run", "no_such_executable_anywhere"]) == 1
    assert "not found" in capfd.readouterr().err


async def test_launch_command_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    child = _file(tmp_path, "child.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    path = _file(
        tmp_path,
        "two.launch.yaml",
        f"""
        launch:
          - executable: {{cmd: "{sys.executable} {child}", name: a, output: screen}}
          - executable: {{cmd: "{sys.executable} {child}", name: b, output: screen}}
        """,
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "robotfleet_nodes.cli.main",
        "launch", str(path), "--log-dir", str(tmp_path / "log"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    pids, seen = [], ""
    async with asyncio.timeout(15):
        while seen.count("] up") < 2:
            line = (await proc.stdout.readline()).decode()
            assert line, seen
            seen += line
            if "process started with pid [" in line:
                pids.append(int(line.split("pid [", 1)[1].split("]", 1)[0]))
        proc.send_signal(signal.SIGINT)
        rest = (await proc.stdout.read()).decode()
        assert await proc.wait() == 0, seen + rest
    assert "shutting down: signal SIGINT" in rest
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)
    assert sorted(os.listdir(tmp_path / "log")) == ["a-1.log", "b-1.log", "launch.log"]


async def test_children_die_with_a_killed_launcher(tmp_path: Path) -> None:
    path = _file(tmp_path, "one.launch.yaml", "launch:\n  - executable: {cmd: /bin/sleep 60, name: s}\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "robotfleet_nodes.cli.main",
        "launch", str(path), "--log-dir", str(tmp_path / "log"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(15):
        line = ""
        while "process started with pid [" not in line:
            line = (await proc.stdout.readline()).decode()
            assert line
        pid = int(line.split("pid [", 1)[1].split("]", 1)[0])
        pidfd = os.pidfd_open(pid)  # readable once the process has exited
        exited = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(pidfd, exited.set)
        try:
            proc.kill()
            await proc.wait()
            await exited.wait()  # PR_SET_PDEATHSIG: the kernel kills it with the launcher
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
