"""``forkserver: true``: processes forked by the zygote behave like spawned ones.

The child program is a module (``fsmod``) on ``PYTHONPATH``, run as ``fsmod:main(argv)``
inside a fork of the zygote, which imported it and ran its ``zygote_warm_up()`` first.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest
from launch_helpers import ServiceFactory, alive, group_members

from robotfleet_nodes.launch import ExecuteProcess, LaunchDescription, LaunchService, _zygote
from robotfleet_nodes.launch._forkserver import ForkServer, fork_entry
from robotfleet_nodes.launch._process import ManagedProcess

MODULE = """
import asyncio, gc, os, signal, sys, time

IMPORTED_IN = os.getpid()
WARMED_IN = None

def hot():
    return 1

def cold():
    return 2

HOT_CODE, COLD_CODE = hot.__code__, cold.__code__

def zygote_warm_up():
    global WARMED_IN
    WARMED_IN = os.getpid()
    hot()

def main(argv):
    mode = argv[0]
    if mode == "inspect":
        parent = os.getppid()
        print(f"imported={IMPORTED_IN == parent} warmed={WARMED_IN == parent} "
              f"hot_packed={hot.__code__ is not HOT_CODE} cold_packed={cold.__code__ is not COLD_CODE} "
              f"frozen={gc.get_freeze_count()} gc={gc.isenabled()}")
        return 0
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


def test_fork_entry_maps_executables_of_an_ament_prefix(tmp_path: Path) -> None:
    # `pkg: robotfleet_nodes, exec: edge, forkserver: true`: the venv's lib/<pkg>/ wrappers.
    from robotfleet_nodes.launch import resolve_executable

    assert fork_entry([*resolve_executable("edge", "robotfleet_nodes"), "x"]) == (
        "robotfleet_nodes.edge.main:main",
        ["x"],
    )
    lib = tmp_path / "lib" / "demo_pkg"
    lib.mkdir(parents=True)
    wrapper = "import sys\nfrom demo_pkg.main import run\nif __name__ == '__main__':\n    sys.exit(run())\n"
    ours, other, plain = lib / "ours", lib / "other", lib / "plain"
    ours.write_text(f"#!{sys.executable}\n{wrapper}")
    other.write_text(f"#!/opt/elsewhere/bin/python3\n{wrapper}")  # another environment's Python
    plain.write_text(f"#!{sys.executable}\nprint('no entry point')\n")
    assert fork_entry([str(ours)]) == ("demo_pkg.main:run", [])
    assert fork_entry([str(other)]) is None
    assert fork_entry([str(plain)]) is None


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


async def test_forked_child_shares_the_warm_frozen_image(fsmod: Path, service: ServiceFactory) -> None:
    svc, out = service(LaunchDescription([forked("inspect", output="screen")]))
    assert await asyncio.wait_for(svc.run_async(), 30) == 0
    assert svc.processes[0].forked
    line = out.getvalue().split("[fs-1] ", 1)[1].split("\n", 1)[0]
    fields = dict(field.split("=") for field in line.split())
    # imported and warmed up in the zygote, not in the child; frozen there; collector on here
    assert fields["imported"] == "True" and fields["warmed"] == "True"
    # the code the warm-up ran was copied together; the rest stays where the import put it
    assert fields["hot_packed"] == "True" and fields["cold_packed"] == "False"
    assert int(fields["frozen"]) > 1000
    assert fields["gc"] == "True"


def test_pack_code_copies_the_code_that_ran_and_keeps_it_working() -> None:
    def outer(x: int) -> int:
        def inner(y: int) -> int:
            return x + y

        return inner(1)

    def untouched() -> int:
        return 3

    ran = {id(outer.__code__): outer.__code__}
    inner_code = next(c for c in outer.__code__.co_consts if isinstance(c, types.CodeType))
    ran[id(inner_code)] = inner_code
    before, untouched_before = outer.__code__, untouched.__code__
    assert _zygote.pack_code(ran) == 2
    assert outer.__code__ is not before and outer.__code__ == before
    nested = next(c for c in outer.__code__.co_consts if isinstance(c, types.CodeType))
    assert nested is not inner_code  # functions made later from it get the copy too
    assert untouched.__code__ is untouched_before
    assert outer(41) == 42 and untouched() == 3


def test_warm_up_hook_cannot_take_the_zygotes_signal_wakeup(monkeypatch: pytest.MonkeyPatch) -> None:
    """An event loop in a warm-up resets the wakeup fd and handlers; the zygote gets them back."""
    calls: list[str] = []

    def zygote_warm_up() -> None:
        async def run() -> None:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, lambda: None)
            loop.remove_signal_handler(signal.SIGTERM)  # sets the wakeup fd to -1
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)

        asyncio.run(run())
        calls.append("warmed")

    module = types.ModuleType("warm_mod")
    module.zygote_warm_up = zygote_warm_up  # type: ignore[attr-defined]
    on_child = signal.getsignal(signal.SIGCHLD)
    read, write = os.pipe()
    os.set_blocking(write, False)
    previous = signal.set_wakeup_fd(write)
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        _zygote._warm_up(module)
        assert calls == ["warmed", "warmed"]  # run, pack the code that ran, run the copies
        assert signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
        assert signal.set_wakeup_fd(previous) == write
    finally:
        signal.set_wakeup_fd(previous)
        signal.signal(signal.SIGCHLD, on_child)
        os.close(read)
        os.close(write)


WARM_UP_PROBE = """
import json, os, sys, threading
from robotfleet_nodes.edge.main import zygote_warm_up
env, fds = dict(os.environ), sorted(os.listdir("/proc/self/fd"))
status = zygote_warm_up(0.3)
print(json.dumps({
    "status": status,
    "threads": threading.active_count(),
    "env_restored": dict(os.environ) == env,
    "fds_restored": sorted(os.listdir("/proc/self/fd")) == fds,
}))
"""


def test_edge_warm_up_runs_an_edge_and_leaves_nothing_behind() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WARM_UP_PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "zygote-warm-up: edge up" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "status": 0,
        "threads": 1,
        "env_restored": True,
        "fds_restored": True,
    }


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
