"""``forkserver: true``: processes forked by the zygote behave like spawned ones.

The child program is a module (``fsmod``) on ``PYTHONPATH``, run as ``fsmod:main(argv)``
inside a fork of the zygote.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from launch_helpers import ServiceFactory, alive, group_members

from robotfleet_nodes.launch import ExecuteProcess, LaunchDescription, LaunchService
from robotfleet_nodes.launch._forkserver import ForkServer, fork_entry
from robotfleet_nodes.launch._process import ManagedProcess

MODULE = """
import os, signal, sys, time

def main(argv):
    mode = argv[0]
    if mode == "echo":
        print(f"argv={argv[1:]} x={os.environ.get('FS_X')} cwd={os.getcwd()} ppid={os.getppid()}")
        print("to stderr", file=sys.stderr)
        return int(argv[1])
    if mode == "count":
        with open(argv[1], "a") as f:
            f.write("run\\n")
        return 1
    if mode == "stubborn":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"ready pid={os.getpid()} ppid={os.getppid()}", flush=True)
    while True:
        time.sleep(0.05)

if __name__ == "__main__":  # the fallback runs it as python -m fsmod
    sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def fsmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``fsmod`` importable by the zygote (it inherits the launcher's environment)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "fsmod.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.setenv("PYTHONPATH", str(lib))
    return lib


def forked(*args: str, **options: object) -> ExecuteProcess:
    """A process running ``fsmod`` with ``args`` through the fork server."""
    options.setdefault("name", "fs")
    return ExecuteProcess([sys.executable, "-m", "fsmod", *args], forkserver=True, **options)  # type: ignore[arg-type]


def _zygote_gone(svc: LaunchService) -> bool:
    server: ForkServer | None = svc._forkserver
    return server is not None and server.popen is not None and server.popen.poll() is not None


def test_fork_entry_maps_console_scripts_and_modules() -> None:
    venv_bin = Path(sys.executable).parent
    assert fork_entry([str(venv_bin / "edge"), "--ros-args"]) == (
        "robotfleet_nodes.edge.main:main",
        ["--ros-args"],
    )
    assert fork_entry([sys.executable, "-m", "pkg.mod", "a"]) == ("pkg.mod:main", ["a"])
    assert fork_entry(["/bin/true"]) is None


async def test_forked_child_runs_entry_with_argv_env_cwd(
    fsmod: Path, tmp_path: Path, service: ServiceFactory
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    action = forked("echo", "3", env={"FS_X": "hello"}, cwd=str(work), output="screen")
    svc, out = service(LaunchDescription([action]))
    assert await asyncio.wait_for(svc.run_async(), 30) == 0
    text = out.getvalue()
    (proc,) = svc.processes
    assert proc.forked and proc.returncode == 3
    assert f"[fs-1] argv=['3'] x=hello cwd={work} ppid=" in text
    assert "[fs-1] to stderr" in text
    assert "exit code 3]: fs-1" in text
    assert "fork server started" in text
    ppid = int(text.split("ppid=")[1].split()[0])
    assert ppid not in (os.getpid(), proc.pid)  # the zygote forked it
    log = (tmp_path / "log" / "fs-1.log").read_text()
    assert "x=hello" in log and "to stderr" in log
    assert _zygote_gone(svc)


async def test_forked_child_respawns(fsmod: Path, tmp_path: Path, service: ServiceFactory) -> None:
    counter = tmp_path / "runs"
    action = forked("count", str(counter), respawn=True, respawn_max_retries=2)
    svc, out = service(LaunchDescription([action]))
    assert await asyncio.wait_for(svc.run_async(), 30) == 0
    assert counter.read_text().count("run") == 3
    assert svc.processes[0].restarts == 2
    assert out.getvalue().count("exit code 1]: fs-1") == 3
    assert _zygote_gone(svc)


async def test_shutdown_escalates_to_sigkill_for_forked_children(
    fsmod: Path, service: ServiceFactory
) -> None:
    description = LaunchDescription(
        [
            forked("polite", name="polite", output="screen"),
            forked("stubborn", name="stubborn", output="screen"),
        ]
    )
    svc, out = service(description, sigterm_timeout=0.5, sigkill_timeout=0.5)
    task = asyncio.ensure_future(svc.run_async())
    await out.wait_for("[polite-1] ready", 30)
    await out.wait_for("[stubborn-1] ready")
    procs = {p.label: p for p in svc.processes}
    pids = [p.pid for p in procs.values()]
    assert all(p.forked for p in procs.values())
    svc.shutdown("test")
    assert await asyncio.wait_for(task, 20) == 0
    assert procs["polite-1"].returncode == 130  # KeyboardInterrupt from SIGINT
    assert procs["stubborn-1"].returncode == -signal.SIGKILL
    assert "sending SIGKILL" in out.getvalue()
    assert group_members(pids) == []
    assert _zygote_gone(svc)


async def test_unavailable_fork_server_falls_back_to_spawning(
    fsmod: Path, service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: ForkServer, *args: object) -> None:
        raise OSError("no zygote today")

    monkeypatch.setattr(ForkServer, "start", broken)
    svc, out = service(LaunchDescription([forked("echo", "0", output="screen")]))
    assert await asyncio.wait_for(svc.run_async(), 30) == 0
    proc: ManagedProcess = svc.processes[0]
    assert not proc.forked and proc.returncode == 0
    assert "fork server unavailable (cannot start the fork server: no zygote today)" in out.getvalue()
    assert "[fs-1] argv=['0']" in out.getvalue()


def test_killing_the_launcher_takes_zygote_and_children(fsmod: Path, tmp_path: Path) -> None:
    launch_file = tmp_path / "fs.launch.yaml"
    launch_file.write_text(
        textwrap.dedent(
            """\
            launch:
              - for:
                  var: i
                  from: 1
                  to: 3
                  children:
                    - node:
                        {module: fsmod, name: "fs$(var i)", args: stubborn, forkserver: true, output: screen}
            """
        )
    )
    env = {**os.environ, "RFOS_LOG_DIR": str(tmp_path / "logs")}
    launcher = subprocess.Popen(
        [str(Path(sys.executable).parent / "rfos"), "launch", str(launch_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    children: list[int] = []
    zygotes: set[int] = set()
    try:
        assert launcher.stdout is not None
        deadline = time.monotonic() + 30
        while len(children) < 3 and time.monotonic() < deadline:
            line = launcher.stdout.readline()
            if "ready pid=" in line:
                fields = dict(f.split("=") for f in line.split("ready ", 1)[1].split())
                children.append(int(fields["pid"]))
                zygotes.add(int(fields["ppid"]))
        assert len(children) == 3, "forked children did not come up"
        assert len(zygotes) == 1 and launcher.pid not in zygotes
        launcher.kill()
        launcher.wait(10)
        family = [*children, *zygotes]
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in family if alive(pid)] == []
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        if launcher.stdout is not None:
            launcher.stdout.close()
        for pid in [*children, *zygotes]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
