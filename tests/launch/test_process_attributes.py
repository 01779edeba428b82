"""ROS 2's process attributes in XML/YAML: ``shell``, ``launch-prefix``, ``emulate_tty``,
``sigterm_timeout``, ``sigkill_timeout``, ``output``, ``respawn_delay``; real processes.

Shutdown tests give the launch service a 120 s default and the process a short timeout of
its own: only the process's timeout lets the launch end inside the 60 s hang guard.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest
from launch_helpers import ServiceFactory

from robotfleet_nodes.launch import LaunchError, describe_launch, load_launch_file

GUARD = 60.0


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _program(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return f"{sys.executable} {path}"


@pytest.mark.parametrize("suffix", ["yaml", "xml"])
async def test_shell_launch_prefix_and_emulate_tty(
    tmp_path: Path, service: ServiceFactory, suffix: str
) -> None:
    tty = _program(tmp_path, "tty", "import sys\nprint('tty', sys.stdout.isatty(), sys.stderr.isatty())\n")
    env = _program(tmp_path, "env", "import os\nprint('prefixed', os.environ.get('RFOS_PREFIXED'))\n")
    texts = {
        "yaml": f"""
            launch:
              - executable: {{cmd: "echo a b | tr a-z A-Z", shell: true, name: sh, output: screen}}
              - executable:
                  {{cmd: "{env}", launch-prefix: "env RFOS_PREFIXED=yes", name: pre, output: screen}}
              - executable: {{cmd: "{tty}", emulate_tty: true, name: tty, output: both}}
              - executable: {{cmd: "{tty}", name: pipe, output: screen}}
            """,
        "xml": f"""
            <launch>
              <executable cmd="echo a b | tr a-z A-Z" shell="true" name="sh" output="screen"/>
              <executable cmd="{env}" launch-prefix="env RFOS_PREFIXED=yes" name="pre" output="screen"/>
              <executable cmd="{tty}" emulate_tty="true" name="tty" output="both"/>
              <executable cmd="{tty}" name="pipe" output="screen"/>
            </launch>
            """,
    }
    path = _file(tmp_path, f"attrs.launch.{suffix}", texts[suffix])
    svc, out = service(load_launch_file(path), source=path)
    async with asyncio.timeout(GUARD):
        assert await svc.run_async() == 0
    text = out.getvalue()
    assert "[sh-1] A B" in text
    assert "[pre-1] prefixed yes" in text
    assert "[tty-1] tty True True" in text
    assert "[pipe-1] tty False False" in text


IGNORES_SIGINT = """\
import signal, sys
def on_term(signum, frame):
    print('got SIGTERM', flush=True)
    sys.exit(3)
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, {term})
print('ready', flush=True)
while True:
    signal.pause()
"""


@pytest.mark.parametrize("suffix", ["yaml", "xml"])
async def test_a_process_sigterm_timeout_replaces_the_launchs(
    tmp_path: Path, service: ServiceFactory, suffix: str
) -> None:
    stubborn = _program(tmp_path, "stubborn", IGNORES_SIGINT.format(term="on_term"))
    attrs = {"name": "s", "output": "screen", "sigterm_timeout": "0.2"}
    texts = {
        "yaml": "launch:\n  - executable: {"
        + ", ".join(f"{k}: {v}" for k, v in attrs.items())
        + f', cmd: "{stubborn}"}}',
        "xml": "<launch><executable "
        + " ".join(f'{k}="{v}"' for k, v in attrs.items())
        + f' cmd="{stubborn}"/></launch>',
    }
    path = _file(tmp_path, f"term.launch.{suffix}", texts[suffix])
    svc, out = service(load_launch_file(path), source=path, sigterm_timeout=120.0, sigkill_timeout=120.0)
    async with asyncio.timeout(GUARD):
        task = asyncio.ensure_future(svc.run_async())
        await out.wait_for("[s-1] ready", GUARD)
        svc.shutdown("test")
        assert await task == 0
    assert "[s-1] got SIGTERM" in out.getvalue()
    assert svc.processes[0].returncode == 3


async def test_a_process_sigkill_timeout_replaces_the_launchs(
    tmp_path: Path, service: ServiceFactory
) -> None:
    deaf = _program(tmp_path, "deaf", IGNORES_SIGINT.format(term="signal.SIG_IGN"))
    path = _file(
        tmp_path,
        "kill.launch.yaml",
        f"""
        launch:
          - arg: {{name: grace, default: "0.2"}}
          - node: {{exec: "{deaf.split()[1]}", name: deaf, output: screen,
                    sigterm_timeout: "$(var grace)", sigkill_timeout: 0.2}}
        """,
    )
    svc, out = service(load_launch_file(path), source=path, sigterm_timeout=120.0, sigkill_timeout=120.0)
    async with asyncio.timeout(GUARD):
        task = asyncio.ensure_future(svc.run_async())
        await out.wait_for("[deaf-1] ready", GUARD)
        svc.shutdown("test")
        assert await task == 0
    assert svc.processes[0].returncode == -9


def test_attributes_reach_the_process_description(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "d.launch.yaml",
        """
        launch:
          - arg: {name: delay, default: "0.5"}
          - executable: {cmd: "echo $HOME", shell: true, launch-prefix: "nice -n 1", name: e,
                         respawn: true, respawn_delay: "$(var delay)", emulate_tty: true,
                         sigterm_timeout: 1, sigkill_timeout: 2, output: own_log}
        """,
    )
    (spec,) = describe_launch(load_launch_file(path), {}, source=path)["processes"]
    assert spec["cmd"] == ["/bin/sh", "-c", "nice -n 1 echo $HOME"]
    assert spec["respawn"] == {"delay": 0.5, "max_retries": -1}
    assert spec["output"] == "log"
    assert (spec["emulate_tty"], spec["sigterm_timeout"], spec["sigkill_timeout"]) == (True, 1.0, 2.0)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{cmd: x, sigterm_timeout: -1}", r"'sigterm_timeout' must not be negative"),
        ("{cmd: x, sigkill_timeout: soon}", r"'sigkill_timeout' must be a number"),
        ("{cmd: x, respawn_delay: -0.5}", r"'respawn_delay' must not be negative"),
        ("{cmd: x, shell: maybe}", r"'shell' must be true or false"),
        ("{cmd: x, emulate_tty: 2}", r"'emulate_tty' must be true or false"),
        ("{cmd: x, output: loud}", r"'output' must be one of log, screen, both, own_log"),
    ],
)
def test_bad_attribute_values_point_at_the_line(tmp_path: Path, body: str, error: str) -> None:
    path = _file(tmp_path, "bad.launch.yaml", f"launch:\n  - log: {{message: a}}\n  - executable: {body}\n")
    with pytest.raises(LaunchError, match=rf"bad.launch.yaml:3: tag 'executable': {error}"):
        load_launch_file(path)


def test_a_substituted_timeout_must_be_a_number(tmp_path: Path) -> None:
    path = _file(
        tmp_path, "s.launch.yaml", 'launch:\n  - executable: {cmd: x, sigterm_timeout: "$(env HOME)"}\n'
    )
    with pytest.raises(LaunchError, match=r"sigterm_timeout must be a number"):
        describe_launch(load_launch_file(path), {}, source=path)


def test_python_actions_take_the_same_output_values() -> None:
    from robotfleet_nodes.launch import ExecuteProcess, LaunchDescription

    actions = [ExecuteProcess(["/bin/true"], name=o, output=o) for o in ("both", "own_log", "screen", "log")]
    specs = describe_launch(LaunchDescription(actions))["processes"]
    assert [s["output"] for s in specs] == ["screen", "log", "screen", "log"]
    with pytest.raises(LaunchError, match="output must be one of log, screen, both, own_log, not 'loud'"):
        ExecuteProcess(["/bin/true"], output="loud")
