"""Running processes: output, log files, env, namespaces, respawn, events, shutdown, scale."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

from launch_helpers import ScriptFactory, ServiceFactory, alive, group_members
from shared_helpers import eventually

from robotfleet_nodes.launch import (
    ExecuteProcess,
    ForEach,
    GroupAction,
    LaunchDescription,
    LogInfo,
    Node,
    OnProcessExit,
    OnProcessIO,
    OnProcessStart,
    OnShutdown,
    ProcessExited,
    RegisterEventHandler,
    SetEnvironmentVariable,
    Shutdown,
    load_launch_file,
)

ECHO_ARGS = """
import json, os, sys
print("ARGS " + json.dumps(sys.argv[1:]))
print("ENV " + os.environ.get("RFOS_A", "-") + " " + os.environ.get("RFOS_B", "-"))
"""


async def test_output_is_prefixed_and_every_line_is_in_the_log_file(
    service: ServiceFactory, script: ScriptFactory, tmp_path: Path
) -> None:
    chatty = script("chatty", "import sys\nprint('out line')\nprint('err line', file=sys.stderr)\n")
    desc = LaunchDescription(
        [
            ExecuteProcess(chatty, name="screen", output="screen"),
            ExecuteProcess(chatty, name="quiet"),  # output="log": stderr only on screen
        ]
    )
    svc, out = service(desc)
    assert await svc.run_async() == 0
    text = out.getvalue()
    assert "[screen-1] out line" in text and "[screen-1] err line" in text
    assert "[quiet-1] err line" in text and "[quiet-1] out line" not in text
    for label in ("screen-1", "quiet-1"):
        lines = (tmp_path / "log" / f"{label}.log").read_text().splitlines()
        assert sorted(lines) == ["err line", "out line"]
    assert "process has finished" in (tmp_path / "log" / "launch.log").read_text()


async def test_namespaces_names_remaps_params_and_env_reach_the_child(
    service: ServiceFactory, script: ScriptFactory
) -> None:
    echo = script("echo_args", ECHO_ARGS)
    desc = LaunchDescription(
        [
            SetEnvironmentVariable("RFOS_A", "launch-wide"),
            GroupAction(
                [
                    Node(
                        echo[1],
                        name="edge",
                        namespace="robot-1",
                        parameters=[{"rate": 5, "robot": {"id": "robot-1"}}],
                        remappings=[("chatter", "/news")],
                        env={"RFOS_B": "own"},
                        output="screen",
                    )
                ],
                namespace="/robots",
            ),
        ]
    )
    svc, out = service(desc)
    assert await svc.run_async() == 0
    line = next(x for x in out.getvalue().splitlines() if "ARGS " in x)
    args = json.loads(line.split("ARGS ", 1)[1])
    assert args == [
        "--ros-args",
        "-r", "__node:=edge",
        "-r", "__ns:=/robots/robot-1",
        "-r", "chatter:=/news",
        "-p", "rate:=5",
        "-p", "robot.id:=robot-1",
    ]  # fmt: skip
    assert "[edge-1] ENV launch-wide own" in out.getvalue()


async def test_respawn_restarts_with_delay_then_gives_up(
    service: ServiceFactory, script: ScriptFactory
) -> None:
    failing = script("fail", "import sys\nprint('attempt')\nsys.exit(1)\n")
    proc = ExecuteProcess(
        failing, name="flaky", output="screen", respawn=True, respawn_delay=0.2, respawn_max_retries=2
    )
    exits: list[float] = []
    desc = LaunchDescription(
        [
            proc,
            RegisterEventHandler(
                OnProcessExit(target=proc, on_exit=lambda e, c: exits.append(time.monotonic()))
            ),
        ]
    )
    svc, out = service(desc)
    assert await svc.run_async() == 0, "a non-required process failing does not fail the launch"
    assert out.getvalue().count("[flaky-1] attempt") == 3
    assert len(exits) == 3
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(exits))
    assert "giving up after 2 restarts" in out.getvalue()
    assert svc.processes[0].restarts == 2


async def test_event_handlers_react_to_start_and_exit(service: ServiceFactory, script: ScriptFactory) -> None:
    first = ExecuteProcess(script("first", "print('first ran')\n"), name="first", output="screen")
    second = ExecuteProcess(script("second", "print('second ran')\n"), name="second", output="screen")
    seen: list[str] = []
    desc = LaunchDescription(
        [
            RegisterEventHandler(OnProcessStart(target=first, on_start=[LogInfo("first started")])),
            RegisterEventHandler(
                OnProcessExit(target=first, on_exit=[LogInfo("first exited"), second]),
            ),
            RegisterEventHandler(
                OnProcessExit(
                    on_exit=lambda e, c: seen.append(e.name) if isinstance(e, ProcessExited) else None
                )
            ),
            RegisterEventHandler(OnShutdown(on_shutdown=[LogInfo("bye: $(env RFOS_NOT_SET done)")])),
            first,
        ]
    )
    svc, out = service(desc)
    assert await svc.run_async() == 0
    text = out.getvalue()
    order = [text.index(s) for s in ("first started", "first ran", "first exited", "second ran", "bye: done")]
    assert order == sorted(order)
    assert seen == ["first-1", "second-1"]


async def test_signal_ignoring_child_is_killed_and_nothing_is_left(
    service: ServiceFactory, script: ScriptFactory
) -> None:
    stubborn = script(
        "stubborn",
        """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen(["/bin/sleep", "60"])  # a grandchild in the same group
        print("ready", child.pid, flush=True)
        while True:
            time.sleep(1)
        """,
    )
    svc, out = service(LaunchDescription([ExecuteProcess(stubborn, name="stubborn", output="screen")]),
                       sigterm_timeout=0.5, sigkill_timeout=0.5)  # fmt: skip
    task = asyncio.create_task(svc.run_async())
    await out.wait_for("[stubborn-1] ready")
    grandchild = int(out.getvalue().split("[stubborn-1] ready ", 1)[1].split()[0])
    pid = svc.processes[0].pid
    started = time.monotonic()
    svc.shutdown("test")
    assert await asyncio.wait_for(task, 30) == 0
    # SIGTERM and SIGKILL each came only after its 0.5 s timeout (a floor load cannot break).
    assert time.monotonic() - started >= 0.9
    assert "sending SIGTERM" in out.getvalue() and "sending SIGKILL" in out.getvalue()
    assert svc.processes[0].returncode == -9
    assert not alive(pid) and not alive(grandchild)
    assert group_members([pid]) == []


async def test_shutdown_action_and_required_failure(service: ServiceFactory, script: ScriptFactory) -> None:
    sleeper = ExecuteProcess(["/bin/sleep", "30"], name="sleeper")
    ender = ExecuteProcess(script("ok", "pass\n"), name="ender")
    desc = LaunchDescription(
        [sleeper, ender, RegisterEventHandler(OnProcessExit(target=ender, on_exit=Shutdown("ender done")))]
    )
    svc, out = service(desc)
    assert await asyncio.wait_for(svc.run_async(), 10) == 0
    assert "shutting down: ender done" in out.getvalue()
    assert svc.processes[0].returncode == -2, "SIGINT ended the sleeper"

    failing = ExecuteProcess(script("bad", "import sys\nsys.exit(3)\n"), name="bad", required=True)
    svc, out = service(LaunchDescription([ExecuteProcess(["/bin/sleep", "30"]), failing]))
    assert await asyncio.wait_for(svc.run_async(), 10) == 1
    assert "required process bad-1 exited with code 3" in out.getvalue()


async def test_two_hundred_processes_start_and_stop(service: ServiceFactory, tmp_path: Path) -> None:
    """All 200 run, all 200 are gone after shutdown; how fast is benchmarks/launch.py's figure."""
    n = 200
    desc = LaunchDescription([ForEach("i", [ExecuteProcess(["/bin/sleep", "30"], name="s$(var i)")], stop=n)])
    svc, out = service(desc)
    task = asyncio.create_task(svc.run_async())
    await eventually(lambda: svc.running == n, timeout=40, what=f"{n} processes running")
    pids = [p.pid for p in svc.processes]
    svc.shutdown("test")
    assert await asyncio.wait_for(task, 40) == 0
    assert not any(alive(pid) for pid in pids)
    assert group_members(pids) == []
    assert "only warnings and errors are shown here" in out.getvalue()
    assert "process started" not in out.getvalue(), "quiet mode from the first process on"
    assert len(list((tmp_path / "log").iterdir())) == 1, "sleep writes nothing: only launch.log"
    assert "shutting down: test" in (tmp_path / "log" / "launch.log").read_text()


async def test_process_io_handler_and_name_targets(service: ServiceFactory, script: ScriptFactory) -> None:
    talker = ExecuteProcess(
        script("talker", "import sys\nprint('hello out')\nprint('oops', file=sys.stderr)\ninput()\n"),
        name="talker",
        output="screen",
    )
    lines: list[tuple[str, bool]] = []
    desc = LaunchDescription(
        [
            RegisterEventHandler(
                OnProcessIO(
                    target="talker",
                    on_stdout=lambda e, c: lines.append((e.text, e.from_stderr)),
                    on_stderr=[LogInfo("stderr seen"), Shutdown("saw stderr")],
                )
            ),
            RegisterEventHandler(OnProcessExit(target="talker-1", on_exit=[LogInfo("talker-1 gone")])),
            RegisterEventHandler(OnProcessExit(target="other", on_exit=[LogInfo("wrong target")])),
            talker,
        ]
    )
    svc, out = service(desc)
    assert await asyncio.wait_for(svc.run_async(), 10) == 0
    text = out.getvalue()
    assert lines == [("hello out", False)]
    assert "stderr seen" in text and "shutting down: saw stderr" in text
    assert "talker-1 gone" in text and "wrong target" not in text


async def test_yaml_event_handlers_see_the_event(service: ServiceFactory, tmp_path: Path) -> None:
    path = tmp_path / "events.launch.yaml"
    path.write_text(
        """\
launch:
  - on_process_start:
      target: worker
      children:
        - log: {message: "started $(var event_name)"}
  - on_process_io:
      target: worker
      on_stdout:
        - log: {message: "worker said '$(var event_text)'"}
  - on_process_exit:
      target: worker
      children:
        - log: {message: "$(var event_name) exited with $(var event_returncode)"}
        - executable: {cmd: "/bin/echo after", name: after, output: screen}
  - on_shutdown:
      children:
        - log: {message: "bye ($(var event_reason))"}
  - executable: {cmd: "/bin/sh -c 'echo ready; exit 3'", name: worker}
"""
    )
    svc, out = service(load_launch_file(path), source=path)
    assert await asyncio.wait_for(svc.run_async(), 10) == 0
    text = out.getvalue()
    expected = ["started worker-1", "worker said 'ready'", "worker-1 exited with 3", "[after-1] after",
                "bye (all processes exited)"]  # fmt: skip
    positions = [text.find(s) for s in expected]
    assert -1 not in positions, text
    assert positions == sorted(positions), text
