"""ROS 2's Python launch API (``launch``, ``launch_ros``) over our launch runtime.

The acceptance run: tests/launch/ros2_style/main.launch.{py,xml,yaml} start part 1's rclpy
test programs (tests/compat/programs/) with ``rfos launch``, pass arguments and parameters,
include another file and end on an ``OnProcessExit``. The other tests load small launch
files that import only ``launch``/``launch_ros`` and check what they resolve to or run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from launch_helpers import RFOS, ServiceFactory

from robotfleet_nodes.launch import LaunchError, describe_launch, load_launch_file, parse_yaml_launch
from robotfleet_nodes.launch.xml_loader import parse_xml_launch

HERE = Path(__file__).resolve().parent
ROS2_STYLE = HERE / "ros2_style"
PROGRAMS = HERE.parent / "compat" / "programs"
RUN_TIMEOUT = 120.0


def _launch_file(tmp_path: Path, body: str, name: str = "test.launch.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _resolved(path: Path, arguments: dict[str, str] | None = None) -> dict[str, Any]:
    return describe_launch(load_launch_file(path), arguments, source=path)


@pytest.mark.parametrize("suffix", ["py", "xml", "yaml"])
def test_ros2_style_launch_file_runs_rclpy_programs_and_ends_on_process_exit(
    suffix: str, nats_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RFOS_ROS2")}
    env.update(MESSAGING_URL=nats_url, ROS_DOMAIN_ID=str(random.randint(100, 230)))
    cmd = [
        str(RFOS),
        "launch",
        str(ROS2_STYLE / f"main.launch.{suffix}"),
        f"programs:={PROGRAMS}",
        "robot_name:=rover",
        "speed:=2.5",
        "ns:=launch_py",
        "--log-dir",
        str(tmp_path / "log"),
    ]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the launch did not end: {exc.stdout!r} {exc.stderr!r}") from None
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    for text in (
        "declared name = rover",  # a launch argument became a parameter
        "declared speed = 2.5",
        "declared enabled = False",  # SetParameter / a literal parameter
        "parameter server ready",  # OnProcessIO on the parameter server's stdout
        "I heard: Hello World",  # the included talker reached the listener (same namespace, remapped)
        "[launch_py.talker]: Publishing",  # the include inherited the pushed namespace
        "[launch_py.listener]: I heard",
        "listener done",  # OnProcessExit of the listener ...
        "shutting down: listener exited",  # ... shut the launch down
    ):
        assert text in out, f"{text!r} not in:\n{out}"
    # The nodes ran in the pushed namespace under their launch names.
    logs = {p.name for p in (tmp_path / "log").iterdir()}
    assert {"param_server-1.log", "talker-1.log", "listener-1.log"} <= logs, logs


def test_python_launch_file_binds_ours_even_when_a_real_launch_is_importable(tmp_path: Path) -> None:
    fake = tmp_path / "site" / "launch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\nclass LaunchDescription(list):\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != "RFOS_ROS2"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    plain = subprocess.run(
        [sys.executable, "-c", "import launch; print(getattr(launch, 'REAL', False))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert plain.stdout.strip() == "True"  # a plain script gets the real one (auto mode)
    # A folder of launch files named launch/ (a namespace package) does not hide ours.
    package = tmp_path / "my_robot"
    (package / "launch").mkdir(parents=True)
    (package / "launch" / "bringup.launch.py").write_text("")
    shadowed = subprocess.run(
        [sys.executable, "-c", "import launch, launch_ros.actions; print(launch.__file__)"],
        env={k: v for k, v in env.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        check=True,
        cwd=package,
    )
    assert Path(shadowed.stdout.strip()).parent.parts[-2:] == ("compat", "launch")
    path = ROS2_STYLE / "main.launch.py"
    done = subprocess.run(
        [str(RFOS), "launch", str(path), f"programs:={PROGRAMS}", "--print"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    assert [p["name"] for p in resolved["processes"]] == ["param_server"]


def test_substitutions_conditions_and_groups_resolve_like_ros2(tmp_path: Path) -> None:
    path = _launch_file(
        tmp_path,
        """
        import sys
        from launch import LaunchDescription
        from launch.actions import (DeclareLaunchArgument, ExecuteProcess, GroupAction, LogInfo,
                                    OpaqueFunction, SetEnvironmentVariable, SetLaunchConfiguration)
        from launch.conditions import (IfCondition, LaunchConfigurationEquals,
                                       LaunchConfigurationNotEquals, UnlessCondition)
        from launch.substitutions import (Command, EnvironmentVariable, LaunchConfiguration,
                                          PathJoinSubstitution, PythonExpression, TextSubstitution,
                                          ThisLaunchFileDir)

        def generate_launch_description():
            mode = LaunchConfiguration("mode")
            is_sim = PythonExpression(["'", mode, "' == 'sim'"])
            def opaque(context, suffix):
                value = context.launch_configurations["mode"] + suffix
                return [LogInfo(msg=f"opaque {value} {LaunchConfiguration('mode').perform(context)}")]
            return LaunchDescription([
                DeclareLaunchArgument("mode", default_value="sim", choices=["sim", "real"]),
                DeclareLaunchArgument("count", default_value=PythonExpression(["2 * ", "3"])),
                SetEnvironmentVariable("RFOS_LP_VAR", ["from-", mode]),
                LogInfo(msg=["env ", EnvironmentVariable("RFOS_LP_VAR")]),
                LogInfo(msg=["default ", EnvironmentVariable("RFOS_LP_UNSET", default_value="dflt")]),
                LogInfo(msg=["expr ", PythonExpression(["sqrt(", LaunchConfiguration("count"), " * 6)"])]),
                LogInfo(msg=["cmd ", Command(["echo ", TextSubstitution(text="hi")])]),
                LogInfo(msg=["dir ", PathJoinSubstitution([ThisLaunchFileDir(), "x", mode])]),
                LogInfo(msg="if-sim", condition=IfCondition(is_sim)),
                LogInfo(msg="unless-sim", condition=UnlessCondition(is_sim)),
                LogInfo(msg="equals-sim", condition=LaunchConfigurationEquals("mode", "sim")),
                LogInfo(msg="not-equals-sim", condition=LaunchConfigurationNotEquals("mode", "sim")),
                GroupAction([
                    SetLaunchConfiguration("inner", "set-inside"),
                    LogInfo(msg=["group ", LaunchConfiguration("mode"), " ", LaunchConfiguration("inner")]),
                ], launch_configurations={"mode": "group-mode"}),
                LogInfo(msg=["after ", mode, " ", LaunchConfiguration("inner", default="unset")]),
                OpaqueFunction(function=opaque, args=["!"]),
                ExecuteProcess(cmd=[sys.executable, "-c", "pass"], name=["proc-", mode],
                               additional_env={"RFOS_LP_EXTRA": mode}, output="both",
                               condition=IfCondition("true")),
            ])
        """,
    )
    resolved = _resolved(path)
    assert resolved["log"] == [
        "env from-sim",
        "default dflt",
        "expr 6.0",
        "cmd hi\n",
        f"dir {tmp_path}/x/sim",
        "if-sim",
        "equals-sim",
        "group group-mode set-inside",
        "after sim unset",
        "opaque sim! sim",
    ]
    (proc,) = resolved["processes"]
    assert proc["name"] == "proc-sim"
    assert proc["output"] == "screen"
    assert proc["env"] == {"RFOS_LP_VAR": "from-sim", "RFOS_LP_EXTRA": "sim"}
    assert resolved["arguments"] == {"count": "6", "mode": "sim"}
    # --show-args shows a substitution default as written
    defaults = {a.name: a.default for a in load_launch_file(path).declared_arguments()}
    assert defaults == {"mode": "sim", "count": "PythonExpr('2 * ' + '3')"}
    # choices are checked, and an unknown configuration names the declared ones
    with pytest.raises(LaunchError, match="expected one of sim, real"):
        _resolved(path, {"mode": "moon"})


def test_launch_ros_nodes_parameters_namespaces_and_containers(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("/**:\n  ros__parameters:\n    rate: $(var rate)\n")
    path = _launch_file(
        tmp_path,
        """
        from launch import LaunchDescription
        from launch.actions import DeclareLaunchArgument, GroupAction
        from launch.substitutions import LaunchConfiguration
        from launch_ros.actions import (ComposableNodeContainer, LifecycleNode, Node, PushRosNamespace,
                                        SetParameter, SetRemap)
        from launch_ros.descriptions import ComposableNode
        from launch_ros.parameter_descriptions import ParameterFile, ParameterValue

        def generate_launch_description():
            return LaunchDescription([
                DeclareLaunchArgument("robot", default_value="r1"),
                DeclareLaunchArgument("rate", default_value="5"),
                GroupAction([
                    PushRosNamespace(["robots/", LaunchConfiguration("robot")]),
                    SetParameter(name="use_sim_time", value=True),
                    SetRemap(src="/tf", dst="tf"),
                    Node(executable="/bin/true", name="driver", namespace="base",
                         parameters=[{"id": LaunchConfiguration("robot"), "nested": {"gain": 0.5},
                                      "label": ParameterValue("42", value_type=str)},
                                     ParameterFile("params.yaml", allow_substs=True)],
                         remappings=[("cmd_vel", ["/", LaunchConfiguration("robot"), "/cmd"])],
                         arguments=["--verbose"], ros_arguments=["--log-level", "debug"],
                         exec_name="drv"),
                    LifecycleNode(executable="/bin/true", name="managed", namespace=""),
                ]),
                Node(executable="/bin/true", name="outside"),
                ComposableNodeContainer(
                    name="container", namespace="",
                    composable_node_descriptions=[
                        ComposableNode(package="robotfleet_nodes",
                                       plugin="robotfleet_nodes.examples.talker:Talker",
                                       name=["talker_", LaunchConfiguration("robot")],
                                       parameters=[{"rate": LaunchConfiguration("rate")}]),
                    ]),
            ])
        """,
    )
    processes = {p["name"]: p for p in _resolved(path)["processes"]}
    assert list(processes) == ["drv", "managed", "outside", "container"]
    cmd = processes["drv"]["cmd"]
    assert cmd[:3] == ["/bin/true", "--verbose", "--ros-args"]
    args = cmd[3:]
    for pair in (
        ["-r", "__node:=driver"],
        ["-r", "__ns:=/robots/r1/base"],
        ["-r", "/tf:=tf"],
        ["-r", "cmd_vel:=/r1/cmd"],
        ["-p", "use_sim_time:=true"],
        ["-p", "id:=r1"],
        ["-p", "nested.gain:=0.5"],
        ["-p", "label:='42'"],
        ["--log-level", "debug"],
    ):
        assert any(args[i : i + 2] == pair for i in range(len(args))), (pair, args)
    params_file = Path(args[args.index("--params-file") + 1])
    assert "rate: 5" in params_file.read_text()  # allow_substs resolved $(var rate)
    assert "__ns:=/robots/r1" in processes["managed"]["cmd"]
    outside = processes["outside"]["cmd"]
    assert "use_sim_time:=true" not in " ".join(outside)  # SetParameter stayed in its group
    spec_text = processes["container"]["cmd"][processes["container"]["cmd"].index("--spec") + 1]
    (component,) = json.loads(spec_text)["components"]
    assert component["plugin"] == "robotfleet_nodes.examples.talker:Talker"
    assert component["name"] == "talker_r1"
    assert component["parameters"] == {"rate": "5"}


def test_include_with_any_source_and_launch_arguments(tmp_path: Path) -> None:
    _launch_file(
        tmp_path,
        """
        launch:
          - arg: {name: who}
          - log: {message: "included yaml says $(var who)"}
        """,
        "inner.launch.yaml",
    )
    _launch_file(
        tmp_path,
        """
        from launch import LaunchDescription
        from launch.actions import DeclareLaunchArgument, LogInfo
        from launch.substitutions import LaunchConfiguration

        def generate_launch_description():
            return LaunchDescription([DeclareLaunchArgument("who"),
                                      LogInfo(msg=["included py says ", LaunchConfiguration("who")])])
        """,
        "inner.launch.py",
    )
    path = _launch_file(
        tmp_path,
        """
        from launch import LaunchDescription
        from launch.actions import IncludeLaunchDescription, LogInfo
        from launch.launch_description_sources import (AnyLaunchDescriptionSource,
                                                       PythonLaunchDescriptionSource)
        from launch.substitutions import PathJoinSubstitution, ThisLaunchFileDir
        from pathlib import Path

        def generate_launch_description():
            return LaunchDescription([
                IncludeLaunchDescription(
                    PythonLaunchDescriptionSource(
                        PathJoinSubstitution([ThisLaunchFileDir(), "inner.launch.py"])),
                    launch_arguments=[("who", "python")]),
                IncludeLaunchDescription(
                    AnyLaunchDescriptionSource(Path(__file__).parent / "inner.launch.yaml"),  # a Path
                    launch_arguments={"who": "any"}.items()),
                IncludeLaunchDescription(LaunchDescription([LogInfo(msg="built in place")])),
            ])
        """,
    )
    assert _resolved(path)["log"] == ["included py says python", "included yaml says any", "built in place"]


def test_unsupported_uses_fail_with_what_to_do(tmp_path: Path) -> None:
    path = _launch_file(
        tmp_path,
        """
        from launch import LaunchDescription
        from launch.actions import EmitEvent
        from launch.substitutions import EnvironmentVariable
        from launch.actions import LogInfo
        from launch_ros.substitutions import FindPackageShare

        class Custom:
            name = "custom.Event"

        def generate_launch_description():
            return LaunchDescription([EmitEvent(event=Custom())])
        """,
    )
    with pytest.raises(LaunchError, match=r"only launch\.events\.Shutdown"):
        _resolved(path)
    missing = _launch_file(
        tmp_path,
        """
        from launch import LaunchDescription
        from launch.actions import LogInfo
        from launch.substitutions import EnvironmentVariable

        def generate_launch_description():
            return LaunchDescription([LogInfo(msg=EnvironmentVariable("RFOS_LP_SURELY_UNSET"))])
        """,
        "missing.launch.py",
    )
    with pytest.raises(LaunchError, match="'RFOS_LP_SURELY_UNSET' does not exist"):
        _resolved(missing)
    nopkg = _launch_file(
        tmp_path,
        """
        from launch import LaunchDescription
        from launch.actions import LogInfo
        from launch_ros.substitutions import FindPackageShare

        def generate_launch_description():
            return LaunchDescription([LogInfo(msg=FindPackageShare("rfos_no_such_package"))])
        """,
        "nopkg.launch.py",
    )
    with pytest.raises(LaunchError, match="package 'rfos_no_such_package' not found"):
        _resolved(nopkg)


async def test_timer_event_handlers_and_shutdown_run(service: ServiceFactory, tmp_path: Path) -> None:
    path = _launch_file(
        tmp_path,
        """
        import sys
        from launch import LaunchDescription
        from launch.actions import (DeclareLaunchArgument, EmitEvent, ExecuteProcess, LogInfo,
                                    RegisterEventHandler, Shutdown, TimerAction)
        from launch.event_handlers import OnProcessExit, OnProcessStart, OnShutdown
        from launch.events import Shutdown as ShutdownEvent

        def generate_launch_description():
            fails = ExecuteProcess(cmd=[sys.executable, "-c", "import sys; sys.exit(3)"], name="fails",
                                   on_exit=[LogInfo(msg="on_exit ran")])
            late = ExecuteProcess(cmd=[sys.executable, "-c", "print('late ran')"], name="late",
                                  output="screen")
            return LaunchDescription([
                DeclareLaunchArgument("x", default_value="xv"),
                RegisterEventHandler(OnProcessStart(target_action=fails,
                                                    on_start=LogInfo(msg="fails started"))),
                RegisterEventHandler(OnProcessExit(
                    target_action=fails,
                    on_exit=lambda event, context: LogInfo(
                        msg=f"exit {event.returncode} {event.process_name} "
                            f"{context.launch_configurations['x']}"))),
                RegisterEventHandler(OnProcessExit(target_action=late, on_exit=[Shutdown(reason="late done")],
                                                   handle_once=True)),
                RegisterEventHandler(OnShutdown(on_shutdown=lambda event, context: LogInfo(
                    msg=f"bye ({event.reason})"))),
                fails,
                TimerAction(period=0.3, actions=[LogInfo(msg="timer fired"), late]),
            ])
        """,
    )
    svc, out = service(load_launch_file(path), source=path)
    assert await svc.run_async() == 0
    text = out.getvalue()
    order = [
        text.index(s)
        for s in (
            "fails started",
            "exit 3 fails-1 xv",
            "on_exit ran",
            "timer fired",
            "late ran",
            "bye (late done)",
        )
    ]
    assert order[:2] == sorted(order[:2]) and order[3:] == sorted(order[3:]), text


def test_timer_tag_in_yaml_and_xml() -> None:
    yaml_desc = parse_yaml_launch(
        "launch:\n  - timer:\n      period: 1.5\n      children:\n        - log: {message: hi}\n"
    )
    xml_desc = parse_xml_launch('<launch><timer period="1.5"><log message="hi"/></timer></launch>')
    for desc in (yaml_desc, xml_desc):
        assert desc.describe() == {"launch": [{"timer": "1.5", "children": [{"log": "hi"}]}]}
        assert describe_launch(desc)["log"] == ["hi"]


def test_shell_prefix_user_actions_and_launch_service(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _launch_file(
        tmp_path,
        """
        import sys
        from launch import Action, LaunchDescription, LaunchService
        from launch.actions import ExecuteProcess, LogInfo
        from launch.substitutions import LaunchConfiguration

        class Hello(Action):
            def execute(self, context):
                return [LogInfo(msg="hello from " + context.launch_configurations.get("who", "nobody"))]

        def generate_launch_description():
            return LaunchDescription([
                Hello(),
                ExecuteProcess(cmd=["echo", LaunchConfiguration("who", default="x"), "|", "tr", "a-z", "A-Z"],
                               shell=True, name="shout", output="screen"),
                ExecuteProcess(cmd=[sys.executable, "-c", "import sys; print('prefixed', sys.argv[1:])"],
                               prefix="env RFOS_LP_PREFIX=1", name="pre", output="screen"),
            ])

        def run():
            service = LaunchService(argv=["who:=ada"])
            service.include_launch_description(generate_launch_description())
            return service.run()
        """,
    )
    processes = {p["name"]: p["cmd"] for p in _resolved(path, {"who": "ada"})["processes"]}
    assert processes["shout"] == ["/bin/sh", "-c", "echo ada | tr a-z A-Z"]
    assert processes["pre"][:2] == ["env", "RFOS_LP_PREFIX=1"]
    # launch.LaunchService runs a description built in a script (after a launch file bound ours).
    module: dict[str, Any] = {}
    exec(compile(path.read_text(), str(path), "exec"), module)
    assert module["run"]() == 0
    out = capfd.readouterr()
    text = out.out + out.err
    assert "hello from ada" in text
    assert "ADA" in text
    assert "prefixed []" in text


async def test_launch_ros_container_runs_python_components(
    service: ServiceFactory, nats_url: str, unique: str, tmp_path: Path
) -> None:
    path = _launch_file(
        tmp_path,
        """
        from launch import LaunchDescription
        from launch.actions import RegisterEventHandler, SetEnvironmentVariable, Shutdown
        from launch.event_handlers import OnProcessIO
        from launch.substitutions import LaunchConfiguration
        from launch_ros.actions import ComposableNodeContainer
        from launch_ros.descriptions import ComposableNode

        def generate_launch_description():
            container = ComposableNodeContainer(
                name="demo_container", namespace="/demo", package="rclcpp_components",
                executable="component_container",
                composable_node_descriptions=[
                    ComposableNode(package="robotfleet_nodes",
                                   plugin="robotfleet_nodes.examples.talker:Talker", name="talker"),
                    ComposableNode(package="robotfleet_nodes",
                                   plugin="robotfleet_nodes.examples.listener:Listener", name="listener"),
                ])

            def heard(event):
                return Shutdown(reason="heard it") if b"I heard" in event.text else None

            return LaunchDescription([
                SetEnvironmentVariable("MESSAGING_URL", LaunchConfiguration("url")),
                SetEnvironmentVariable("RFOS_SUBJECT_ROOT", LaunchConfiguration("root")),
                container,
                RegisterEventHandler(OnProcessIO(target_action=container, on_stdout=heard, on_stderr=heard)),
            ])
        """,
    )
    svc, out = service(load_launch_file(path), arguments={"url": nats_url, "root": unique}, source=path)
    assert await asyncio.wait_for(svc.run_async(), RUN_TIMEOUT) == 0, out.getvalue()
    assert "shutting down: heard it" in out.getvalue()
    assert "[demo_container-1]" in out.getvalue()
