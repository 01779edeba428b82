#!/usr/bin/env python3
"""Run ROS 2's public rclpy example programs unchanged, and say which work (issue 15).

The programs come from git mirrors of ros2/examples and ros2/demos given on the command line;
they are extracted into a temporary directory at run time and never copied into this
repository. Each program runs as ``python file.py`` (the interpreter given by ``--python``:
ours, or real rclpy's ``.venv-ros2/bin/python`` for comparison), paired with the programs it
needs (publisher <-> subscriber, service <-> client, ...) or with a small driver written by
this harness (e.g. a lifecycle ``change_state`` caller). Every case gets a fresh
``ROS_DOMAIN_ID``; a private nats-server on a free loopback port serves our runs
(``MESSAGING_URL``) and real ROS 2 is kept on loopback (``ROS_AUTOMATIC_DISCOVERY_RANGE``).

One JSON line per program: ``{repo, path, partner, result: ok|fail|error, detail}``, then a
summary line. ``result`` is ``error`` when a program raised (``detail``: the exception line of
its first traceback), ``fail`` when it ran but an expectation of the table below was missing.

    .venv/bin/python scripts/ros2_examples.py --examples /work/.mirror/ros2+examples/repo \\
        --demos /work/.mirror/ros2+demos/repo [--python .venv-ros2/bin/python] [--only REGEX]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CASES",
    "DRIVERS",
    "Case",
    "Expect",
    "Outcome",
    "Program",
    "Runner",
    "first_error",
    "judge",
    "main",
    "missing",
    "package_root",
]

REPOS = {"examples": "ros2/examples", "demos": "ros2/demos", "harness": "harness"}


@dataclass(frozen=True)
class Expect:
    """A regular expression that must match at least ``count`` times in a program's output."""

    pattern: str
    count: int = 1


@dataclass(frozen=True)
class Program:
    """One program of a case: a file of a mirror (``source`` examples/demos) or a harness driver.

    ``exits``: the program ends by itself (exit code 0) once done; otherwise it is stopped with
    SIGINT once its expectations are met (or the case times out). ``absent``: patterns that
    must not appear. ``report``: print a result line for it (a program reused as the partner of
    another case is reported only once; harness drivers are never reported, their
    expectations count for the programs they drive).
    """

    source: str
    path: str
    args: tuple[str, ...] = ()
    expect: tuple[Expect, ...] = ()
    absent: tuple[str, ...] = ()
    exits: bool = False
    report: bool = True

    @property
    def label(self) -> str:
        return f"{self.source}:{self.path}"


@dataclass(frozen=True)
class Case:
    """Programs started together (in this order) in one ROS domain."""

    programs: tuple[Program, ...]
    timeout: float = 30.0


@dataclass
class Outcome:
    """What one program did: its output (stdout and stderr), exit code, and whether it ended alone."""

    program: Program
    output: str
    returncode: int | None
    exited_alone: bool


def _e(pattern: str, count: int = 1) -> Expect:
    return Expect(pattern, count)


def _ex(path: str, *expect: Expect, **kwargs: Any) -> Program:
    return Program("examples", "rclpy/" + path, expect=expect, **kwargs)


def _de(path: str, *expect: Expect, **kwargs: Any) -> Program:
    return Program("demos", path, expect=expect, **kwargs)


def _drv(name: str, *expect: Expect, **kwargs: Any) -> Program:
    return Program("harness", name, expect=expect, report=False, **kwargs)


_PUB = "topics/minimal_publisher/examples_rclpy_minimal_publisher/"
_SUB = "topics/minimal_subscriber/examples_rclpy_minimal_subscriber/"
_SRV = "services/minimal_service/examples_rclpy_minimal_service/"
_CLI = "services/minimal_client/examples_rclpy_minimal_client/"
_ASRV = "actions/minimal_action_server/examples_rclpy_minimal_action_server/"
_ACLI = "actions/minimal_action_client/examples_rclpy_minimal_action_client/"
_EXE = "executors/examples_rclpy_executors/"
_DN = "demo_nodes_py/demo_nodes_py/"
_QOS = "quality_of_service_demo/rclpy/quality_of_service_demo_py/"

_PUBLISHED = _e(r'Publishing: "Hello World: \d+"', 3)
_HEARD_QUOTED = _e(r'I heard: "Hello World: \d+"', 3)
_HEARD_BRACKETS = _e(r"I heard: \[Hello World: \d+\]", 3)
_SUM_42 = _e(r"Result of add_two_ints: for 41 \+ 1 = 42")
_REQUEST_41 = _e(r"Incoming request\na: 41 b: 1")
_SUM_5 = _e(r"Result of add_two_ints: 5")
_REQUEST_2 = _e(r"Incoming request\na: 2 b: 3")
_GOAL_DONE = _e(r"Goal succeeded! Result: .*55")
_RETURNED = _e(r"Returning result: .*55")

#: The table: which programs run together, and what each must print.
CASES: tuple[Case, ...] = (
    # ros2/examples rclpy/topics
    Case(
        (
            _ex(_PUB + "publisher_member_function.py", _PUBLISHED),
            _ex(_SUB + "subscriber_member_function.py", _HEARD_QUOTED),
        )
    ),
    Case(
        (
            _ex(_PUB + "publisher_local_function.py", _PUBLISHED),
            _ex(_SUB + "subscriber_lambda.py", _HEARD_QUOTED),
        )
    ),
    Case(
        (
            _ex(_PUB + "publisher_old_school.py", _PUBLISHED),
            _ex(_SUB + "subscriber_old_school.py", _HEARD_QUOTED),
        )
    ),
    Case(
        (
            _ex("topics/pointcloud_publisher/examples_rclpy_pointcloud_publisher/pointcloud_publisher.py"),
            _drv("cloud_listener", _e(r"cloud 10000x1 with 4 fields"), exits=True),
        )
    ),
    # rclpy/services
    Case((_ex(_SRV + "service.py", _REQUEST_41), _ex(_CLI + "client.py", _SUM_42, exits=True))),
    Case(
        (
            _ex(_SRV + "service_member_function.py", _REQUEST_41),
            _ex(_CLI + "client_async.py", _SUM_42, exits=True),
        )
    ),
    Case(
        (
            _ex(_SRV + "service_member_function.py", report=False),
            _ex(_CLI + "client_async_member_function.py", _SUM_42, exits=True),
        )
    ),
    Case(
        (_ex(_SRV + "service.py", report=False), _ex(_CLI + "client_async_callback.py", _SUM_42, exits=True))
    ),
    # rclpy/actions (Fibonacci of order 10: 9 feedbacks a second apart)
    Case((_ex(_ASRV + "server.py", _RETURNED), _ex(_ACLI + "client.py", _GOAL_DONE, exits=True)), timeout=45),
    Case(
        (
            _ex(_ASRV + "server_defer.py", _e("Deferring execution"), _RETURNED),
            _ex(_ACLI + "client_not_composable.py", _GOAL_DONE, exits=True),
        ),
        timeout=45,
    ),
    Case(
        (
            _ex(_ASRV + "server_not_composable.py", _e("Received cancel request"), _e("Goal canceled")),
            _ex(_ACLI + "client_cancel.py", _e("Goal successfully canceled"), exits=True),
        ),
        timeout=45,
    ),
    Case(
        (
            _ex(
                _ASRV + "server_queue_goals.py", _e("Goal put in the queue"), _e(r"Returning result: .*55", 4)
            ),
            _ex(_ACLI + "client_asyncio.py", _e(r"B\) result .*55.* and status flag 4"), exits=True),
        ),
        timeout=90,
    ),
    Case(
        (_ex(_ASRV + "server_single_goal.py", _RETURNED), _ex(_ACLI + "client.py", report=False)), timeout=45
    ),
    # rclpy/executors (their files import each other: the package root is on PYTHONPATH)
    Case(
        (
            _ex(_EXE + "talker.py", _e(r'Publishing: "Hello World: \d+"', 2)),
            _ex(_EXE + "listener.py", _e(r'I heard: "Hello World: \d+"', 2)),
        )
    ),
    Case((_ex(_EXE + "composed.py", _e(r'Publishing: "Hello World: 2"'), _e(r'I heard: "Hello World: 2"')),)),
    Case((_ex(_EXE + "callback_group.py", _e(r'I heard: "Hello World: \d+"', 4)),)),
    Case(
        (
            _ex(_EXE + "custom_callback_group.py", _e(r'Publishing: "Hello World: 12"')),
            _ex(_EXE + "listener.py", report=False),
        )
    ),
    Case((_ex(_EXE + "custom_executor.py", _e(r'I heard: "Hello World: \d+"', 2)),)),
    # rclpy/guard_conditions
    Case(
        (
            _ex(
                "guard_conditions/examples_rclpy_guard_conditions/trigger_guard_condition.py",
                _e("timer callback triggered guard condition"),
                _e("guard callback called shutdown"),
                exits=True,
            ),
        )
    ),
    # ros2/demos demo_nodes_py
    Case((_de(_DN + "topics/talker.py", _PUBLISHED), _de(_DN + "topics/listener.py", _HEARD_BRACKETS))),
    Case(
        (
            _de(
                _DN + "topics/talker_qos.py",
                _e("Best effort talker"),
                _e(r'Publishing: "Hello World: 9"'),
                args=("-n", "10"),
                exits=True,
            ),
            _de(
                _DN + "topics/listener_qos.py",
                _e("Best effort listener"),
                _HEARD_BRACKETS,
                args=("-n", "3"),
                exits=True,
            ),
        )
    ),
    Case(
        (
            _de(_DN + "topics/listener_serialized.py", _e(r"I heard: \"b'.*Hello World: \d+", 2)),
            _de(_DN + "topics/talker.py", report=False),
        )
    ),
    Case(
        (
            _de(_DN + "services/add_two_ints_server.py", _REQUEST_2),
            _de(_DN + "services/add_two_ints_client.py", _SUM_5, exits=True),
        )
    ),
    Case(
        (
            _de(_DN + "services/add_two_ints_server.py", report=False),
            _de(_DN + "services/add_two_ints_client_async.py", _SUM_5, exits=True),
        )
    ),
    Case((_de(_DN + "services/introspection.py", _SUM_5, _REQUEST_2),)),
    Case(
        (
            _de(_DN + "parameters/set_parameters_callback.py"),
            _drv("set_parameters_driver", _e("param1 = 5.0"), _e("param2 = 4.0"), exits=True),
        )
    ),
    Case(
        (
            _drv("parameter_blackboard"),
            _de(
                _DN + "parameters/async_param_client.py",
                _e(r"int_parameter:\n.*successful: True"),
                _e(r"- int_parameter: 10"),
                _e(r"Deleting parameters"),
                exits=True,
            ),
        )
    ),
    Case(
        (
            _de(
                _DN + "logging/use_logger_service.py",
                _e("Output 1 with INFO logger level"),
                _e("Current logger level: 10"),
                _e("Output 2 with DEBUG logger level"),
                _e("Output 4 with ERROR logger level"),
                absent=("Output 3 with INFO logger level", "Failed to"),
                exits=True,
            ),
        )
    ),
    Case(
        (
            _de(
                _DN + "events/matched_event_detect.py",
                _e(r"First subscription is connected\."),
                _e(r"Last subscription is disconnected\."),
                _e(r"First publisher is connected\."),
                _e(r"Last publisher is disconnected\."),
                exits=True,
            ),
        )
    ),
    # action_tutorials_py, lifecycle_py
    Case(
        (
            _de(
                "action_tutorials/action_tutorials_py/action_tutorials_py/fibonacci_action_server.py",
                _e(r"Feedback: .*55"),
            ),
            _de(
                "action_tutorials/action_tutorials_py/action_tutorials_py/fibonacci_action_client.py",
                _e(r"Result: .*55"),
                exits=True,
            ),
        ),
        timeout=45,
    ),
    Case(
        (
            _de(
                "lifecycle_py/lifecycle_py/talker.py",
                _e(r"on_configure\(\) is called"),
                _e(r"on_activate\(\) is called"),
                _e(r"Lifecycle publisher is active\. Publishing: \[Lifecycle HelloWorld #\d+\]"),
            ),
            _drv(
                "lifecycle_driver",
                _e("transition 1: success=True"),
                _e("transition 3: success=True"),
                exits=True,
            ),
        )
    ),
    # quality_of_service_demo/rclpy
    Case(
        (
            _de(
                _QOS + "deadline.py",
                _e(r"Listener heard: \[Talker says 2\]"),
                _e("Offered deadline missed - total"),
                _e("Requested deadline missed - total"),
                _e(r"Listener heard: \[Talker says 6\]"),
                args=("600", "--publish-for", "2000", "--pause-for", "1500"),
            ),
        )
    ),
    Case(
        (
            _de(
                _QOS + "incompatible_qos.py",
                _e("Offered incompatible qos - total 1"),
                _e("Requested incompatible qos - total 1"),
                args=("reliability",),
                exits=True,
            ),
        )
    ),
    Case(
        (
            _de(
                _QOS + "lifespan.py",
                _e(r"Listener heard: \[Talker says 4\]"),
                absent=(r"Listener heard: \[Talker says [012]\]",),
                args=("1000", "--publish-count", "5", "--subscribe-after", "3000"),
            ),
        )
    ),
    Case(
        (
            _de(
                _QOS + "liveliness.py",
                _e(r"Listener heard: \[Talker says 1\]"),
                _e("Liveliness changed event:", 2),
                _e("alive_count_change: -1"),
                args=("1000", "--kill-publisher-after", "2000"),
            ),
        )
    ),
    Case(
        (
            _de(_QOS + "message_lost_listener.py", _e(r"I heard an Image\. Message single trip latency", 2)),
            _drv("image_publisher"),
        )
    ),
    Case(
        (
            _de(_QOS + "qos_overrides_talker.py", _e(r'Publishing: "Hello World: \d+"', 2)),
            _de(_QOS + "qos_overrides_listener.py", _e(r"I heard: \[Hello World: \d+\]", 2)),
        )
    ),
    # topic_monitor
    Case(
        (
            _de(
                "topic_monitor/topic_monitor/scripts/data_publisher.py",
                _e(r'Publishing: "3"'),
                _e(r'Publishing: "-1"'),
                args=("--end-after", "8"),
                exits=True,
            ),
            _de("topic_monitor/topic_monitor/scripts/topic_monitor.py", _e(r"/topic1_data: Alive")),
        )
    ),
)

#: Programs written by this harness where ROS 2 would use a command-line tool or a C++ demo.
#: They import only ``rclpy`` and standard interfaces, so they run under both rclpys.
DRIVERS: dict[str, str] = {
    "cloud_listener": """
import rclpy
from sensor_msgs.msg import PointCloud2


def main():
    with rclpy.init():
        node = rclpy.create_node('harness_cloud_listener')
        seen = []

        def on_cloud(msg):
            seen.append(msg)
            print(f'cloud {msg.width}x{msg.height} with {len(msg.fields)} fields', flush=True)

        node.create_subscription(PointCloud2, 'test_cloud', on_cloud, 10)
        while rclpy.ok() and len(seen) < 3:
            rclpy.spin_once(node, timeout_sec=1.0)


if __name__ == '__main__':
    main()
""",
    "set_parameters_driver": """
import rclpy
from rcl_interfaces.msg import Parameter, ParameterType
from rcl_interfaces.srv import GetParameters, SetParameters


def call(node, client, request):
    while not client.wait_for_service(timeout_sec=1.0):
        pass
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future)
    return future.result()


def main():
    with rclpy.init():
        node = rclpy.create_node('harness_set_parameters_driver')
        setter = node.create_client(SetParameters, '/set_parameters_callback/set_parameters')
        getter = node.create_client(GetParameters, '/set_parameters_callback/get_parameters')
        request = SetParameters.Request()
        parameter = Parameter()
        parameter.name = 'param1'
        parameter.value.type = ParameterType.PARAMETER_DOUBLE
        parameter.value.double_value = 5.0
        request.parameters = [parameter]
        result = call(node, setter, request)
        print('set param1:', [r.successful for r in result.results], flush=True)
        request = GetParameters.Request()
        request.names = ['param1', 'param2']
        result = call(node, getter, request)
        for name, value in zip(request.names, result.values):
            print(f'{name} = {value.double_value}', flush=True)


if __name__ == '__main__':
    main()
""",
    "parameter_blackboard": """
import rclpy
from rclpy.node import Node


def main():
    try:
        with rclpy.init():
            node = Node(
                'parameter_blackboard',
                allow_undeclared_parameters=True,
                automatically_declare_parameters_from_overrides=True,
            )
            rclpy.spin(node)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
""",
    "lifecycle_driver": """
import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState


def main():
    with rclpy.init():
        node = rclpy.create_node('harness_lifecycle_driver')
        client = node.create_client(ChangeState, '/lc_talker/change_state')
        while not client.wait_for_service(timeout_sec=1.0):
            pass
        for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            request = ChangeState.Request()
            request.transition.id = transition
            future = client.call_async(request)
            rclpy.spin_until_future_complete(node, future)
            print(f'transition {transition}: success={future.result().success}', flush=True)


if __name__ == '__main__':
    main()
""",
    "image_publisher": """
import time

import rclpy
from sensor_msgs.msg import Image


def main():
    try:
        with rclpy.init():
            node = rclpy.create_node('harness_image_publisher')
            publisher = node.create_publisher(Image, 'message_lost_chatter', 10)

            def publish():
                msg = Image()
                now = time.time_ns()
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
                msg.height, msg.width, msg.encoding, msg.step = 4, 4, 'mono8', 4
                msg.data = bytes(16)
                publisher.publish(msg)

            node.create_timer(0.2, publish)
            rclpy.spin(node)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
""",
}

#: Files ``colcon`` would install into ``share/<package>`` that the programs look up.
SHARE_FILES: dict[str, tuple[str, ...]] = {
    "demo_nodes_py": ("demo_nodes_py/demo_nodes_py/parameters/params.yaml",),
}


# -- judging ------------------------------------------------------------------------------
_TRACEBACK = "Traceback (most recent call last):"
#: How a program ends on SIGINT: rclpy's signal handler shuts the context down, so a thread
#: spinning it may raise ExternalShutdownException instead of KeyboardInterrupt.
_SHUTDOWN = re.compile(r"^(KeyboardInterrupt|(\w+\.)*ExternalShutdownException)\b")
#: When a program crashed, its partners still get this long (seconds from the start) to show
#: their own errors before the case is cut short.
CRASH_GRACE = 5.0


def first_error(output: str) -> str | None:
    """The exception line of the first traceback that is not the end of a SIGINT, else None."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if _TRACEBACK not in line:
            continue
        for follow in lines[index + 1 :]:
            if follow and not follow[0].isspace():
                if not _SHUTDOWN.match(follow):
                    return follow.strip()
                break
    return None


def missing(program: Program, output: str) -> list[str]:
    """What the output lacks (or has but must not): one text per failed expectation."""
    problems = []
    for expect in program.expect:
        seen = len(re.findall(expect.pattern, output))
        if seen < expect.count:
            times = f" x{expect.count} (seen {seen})" if expect.count > 1 else ""
            problems.append(f"missing {expect.pattern!r}{times}")
    problems.extend(f"unexpected {pattern!r}" for pattern in program.absent if re.search(pattern, output))
    return problems


def judge(outcome: Outcome) -> tuple[str, str]:
    """``(result, detail)`` of one program from its own outcome."""
    error = first_error(outcome.output)
    if error is not None:
        return "error", error
    code = outcome.returncode
    if outcome.exited_alone and code not in (0, None):
        tail = [line for line in outcome.output.splitlines() if line.strip()]
        return "error", f"exit code {code}" + (f": {tail[-1].strip()}" if tail else "")
    problems = missing(outcome.program, outcome.output)
    if outcome.program.exits and not outcome.exited_alone:
        problems.append("did not exit by itself")
    if problems:
        return "fail", "; ".join(problems)
    return "ok", ""


def verdicts(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The reported programs' result lines: a harness driver's problems count for the programs
    it drives; a partner's error is named in the detail of a program that failed."""
    judged = [(outcome, *judge(outcome)) for outcome in outcomes]
    driver_problems = [
        f"{o.program.path}: {detail}"
        for o, result, detail in judged
        if o.program.source == "harness" and result != "ok"
    ]
    lines = []
    for outcome, own_result, own_detail in judged:
        program = outcome.program
        result, detail = own_result, own_detail
        if not program.report:
            continue
        partners = [o.program.label for o in outcomes if o is not outcome]
        if result == "ok" and driver_problems:
            result, detail = "fail", "; ".join(driver_problems)
        elif result == "fail":
            partner_errors = [
                f"{o.program.label}: {d}" for o, r, d in judged if o is not outcome and r == "error"
            ]
            if partner_errors:
                detail += " (partner error: " + "; ".join(partner_errors) + ")"
        lines.append(
            {
                "repo": REPOS[program.source],
                "path": program.path,
                "args": list(program.args),
                "partner": ", ".join(partners) or None,
                "result": result,
                "detail": detail,
            }
        )
    return lines


# -- running ------------------------------------------------------------------------------
def package_root(file: Path) -> Path:
    """The directory to put on PYTHONPATH so that ``file``'s package imports (as colcon installs it)."""
    directory = file.parent
    while (directory / "__init__.py").exists():
        directory = directory.parent
    return directory


class _Process:
    """A running program whose merged stdout/stderr is collected by a reader thread."""

    def __init__(self, program: Program, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.program = program
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.popen = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self.exited_alone = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._lock:
                self._lines.append(line)

    def output(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def done(self) -> bool:
        """Exited, or (when it does not exit by itself) all its expectations are met."""
        if self.popen.poll() is not None:
            return True
        if self.program.exits:
            return False
        output = self.output()
        return not any(p.startswith("missing") for p in missing(self.program, output))

    def crashed(self) -> bool:
        """Ended by itself with an error (a traceback or a non-zero exit code)."""
        code = self.popen.poll()
        return code is not None and (code != 0 or first_error(self.output()) is not None)

    def stop(self) -> Outcome:
        self.exited_alone = self.popen.poll() is not None
        if not self.exited_alone:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(timeout=5)
        if self.popen.stdout is not None and not self._reader.is_alive():
            self.popen.stdout.close()
        return Outcome(self.program, self.output(), self.popen.returncode, self.exited_alone)


class Runner:
    """Runs cases with one interpreter against extracted mirrors (``trees``: source -> directory)."""

    def __init__(
        self,
        python: str,
        trees: dict[str, Path],
        workdir: Path,
        messaging_url: str | None,
        *,
        first_domain: int | None = None,
        crash_grace: float = CRASH_GRACE,
    ) -> None:
        self.python = python
        self.trees = trees
        self.workdir = workdir
        self.messaging_url = messaging_url
        self.crash_grace = crash_grace
        start = random.randint(100, 230) if first_domain is None else first_domain
        self._domains = (100 + (start - 100 + i) % 131 for i in itertools.count())
        self._lock = threading.Lock()
        self.prefix = workdir / "install"
        self._install()

    def _install(self) -> None:
        """Drivers into ``harness/``; an ament prefix naming the mirrors' packages, with their share files."""
        harness = self.trees.setdefault("harness", self.workdir / "harness")
        harness.mkdir(parents=True, exist_ok=True)
        for name, source in DRIVERS.items():
            (harness / f"{name}.py").write_text(source.lstrip())
        index = self.prefix / "share" / "ament_index" / "resource_index" / "packages"
        index.mkdir(parents=True, exist_ok=True)
        for source in ("examples", "demos"):
            tree = self.trees.get(source)
            if tree is None:
                continue
            for manifest in tree.rglob("package.xml"):
                match = re.search(r"<name>([^<]+)</name>", manifest.read_text(errors="replace"))
                if not (manifest.parent / "setup.py").exists() or match is None:
                    continue
                package = match.group(1).strip()
                (index / package).touch()
                share = self.prefix / "share" / package
                share.mkdir(parents=True, exist_ok=True)
                shutil.copy(manifest, share / "package.xml")
                for relative in SHARE_FILES.get(package, ()):
                    shutil.copy(tree / relative, share / Path(relative).name)

    def _domain(self) -> int:
        with self._lock:
            return next(self._domains)

    def _env(self, domain: int, file: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RFOS_ROS2")}
        ament = [str(self.prefix), *filter(None, env.get("AMENT_PREFIX_PATH", "").split(os.pathsep))]
        env.update(
            ROS_DOMAIN_ID=str(domain),
            ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(package_root(file)),
            AMENT_PREFIX_PATH=os.pathsep.join(ament),
        )
        if self.messaging_url is not None:
            env["MESSAGING_URL"] = self.messaging_url
        return env

    def file(self, program: Program) -> Path:
        suffix = ".py" if program.source == "harness" else ""
        return self.trees[program.source] / (program.path + suffix)

    def run(self, case: Case) -> list[dict[str, Any]]:
        """Start the case's programs, wait for them (or the timeout), stop them, judge them."""
        domain = self._domain()
        started = time.monotonic()
        processes: list[_Process] = []
        try:
            for program in case.programs:
                file = self.file(program)
                command = [self.python, str(file), *program.args]
                processes.append(_Process(program, command, self._env(domain, file), file.parent))
            while time.monotonic() - started < case.timeout and not all(p.done() for p in processes):
                if time.monotonic() - started >= self.crash_grace and any(p.crashed() for p in processes):
                    break  # its partners would wait for it until the timeout
                time.sleep(0.2)
        finally:
            outcomes = [process.stop() for process in processes]
        seconds = round(time.monotonic() - started, 1)
        lines = verdicts(outcomes)
        for line in lines:
            line["seconds"] = seconds
            if line["result"] == "fail" and seconds >= case.timeout:
                line["detail"] += f" (timeout {case.timeout:.0f}s)"
        return lines


def _extract(git_dir: Path, subdir: str | None, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    command = ["git", "-C", str(git_dir), "archive", "HEAD", *([subdir] if subdir else [])]
    archive = subprocess.run(command, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _selected(cases: Sequence[Case], only: str | None) -> Iterator[Case]:
    for case in cases:
        if only is None or any(re.search(only, p.path) for p in case.programs if p.report):
            yield case


def _summary(lines: Sequence[dict[str, Any]], python: str) -> dict[str, Any]:
    counts = {
        result: sum(1 for line in lines if line["result"] == result) for result in ("ok", "fail", "error")
    }
    return {"summary": {"python": python, "programs": len(lines), **counts}}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the table (or ``--only`` part of it); 0 when every program is ok."""
    default_python = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=Path, help="git directory of ros2/examples")
    parser.add_argument("--demos", type=Path, help="git directory of ros2/demos")
    parser.add_argument("--python", default=default_python, help="interpreter of the programs")
    parser.add_argument("--only", help="regular expression: run the cases of the programs matching it")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at the same time")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    args = parser.parse_args(argv)
    cases = list(_selected(CASES, args.only))
    if args.list:
        for case in cases:
            print(json.dumps([p.label + (" " + " ".join(p.args) if p.args else "") for p in case.programs]))
        return 0
    if not os.access(args.python, os.X_OK):
        parser.error(f"--python {args.python} is not an executable interpreter (`make setup` builds .venv)")
    sources = {"examples": args.examples, "demos": args.demos}
    cases = [c for c in cases if all(p.source == "harness" or sources[p.source] for p in c.programs)]
    if not cases:
        parser.error("nothing to run: give --examples and/or --demos (git directories of the mirrors)")
    from robotfleet_nodes.broker import EmbeddedBroker

    with tempfile.TemporaryDirectory(prefix="ros2-examples-") as tmp, EmbeddedBroker() as broker:
        work = Path(tmp)
        trees = {
            "examples": _extract(args.examples, "rclpy", work / "examples") if args.examples else None,
            "demos": _extract(args.demos, None, work / "demos") if args.demos else None,
        }
        python = os.path.abspath(args.python)  # not resolve(): a venv's python is a symlink
        runner = Runner(python, {k: v for k, v in trees.items() if v is not None}, work, broker.url)
        lines: list[dict[str, Any]] = []
        with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            for result in pool.map(runner.run, cases):
                for line in result:
                    print(json.dumps(line), flush=True)
                lines.extend(result)
    print(json.dumps(_summary(lines, args.python)), flush=True)
    return 0 if all(line["result"] == "ok" for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
