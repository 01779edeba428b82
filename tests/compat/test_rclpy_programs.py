"""Programs written like ROS 2's rclpy minimal examples, run unchanged on our ``rclpy``.

Each runs as ``python file.py`` in its own process (tests/compat/programs/), with
``MESSAGING_URL`` set to the session's broker and a fresh ``ROS_DOMAIN_ID`` per test, so
nothing is shared with other tests. The executor program also runs under real rclpy when
the oracle (``.venv-ros2``) is built.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.compat._programs import env_for as _env
from tests.compat._programs import interpreter as _interpreter
from tests.compat._programs import run as _run
from tests.compat._programs import start as _start
from tests.compat._programs import stop as _stop

PROGRAMS = Path(__file__).resolve().parent / "programs"


@pytest.mark.parametrize("python", ["ours", "real"])
def test_minimal_publisher_and_subscriber_talk(nats_url: str, domain: int, python: str) -> None:
    """The same output from both, over NATS (ours) and over DDS (real rclpy)."""
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    publisher = _start("minimal_publisher.py", env, python=interpreter)
    try:
        subscriber = _start("minimal_subscriber.py", env, python=interpreter)
        out, err = subscriber.communicate(timeout=60)
        assert subscriber.returncode == 0, err
    finally:
        _, pub_err = _stop(publisher)
    heard = [line for line in out.splitlines() if line.startswith("I heard: Hello World: ")]
    assert len(heard) == 5, out + err
    numbers = [int(line.rsplit(" ", 1)[1]) for line in heard]
    assert numbers == sorted(numbers), numbers
    # rclpy's console format: [INFO] [<epoch>.<ns>] [<node name>]: msg
    first = next(line for line in pub_err.splitlines() if "Publishing" in line)
    level, stamp, name, rest = first.split(" ", 3)
    assert (level, name, rest) == ("[INFO]", "[minimal_publisher]:", 'Publishing: "Hello World: 0"'), first
    seconds, nanoseconds = stamp.strip("[]").split(".")
    assert seconds.isdigit() and len(nanoseconds) == 9, first
    assert publisher.returncode == 0, pub_err


def test_minimal_service_and_client_call_async(nats_url: str, domain: int) -> None:
    env = _env(nats_url, domain)
    server = _start("add_two_ints_server.py", env)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        out = _run("add_two_ints_client.py", sys.executable, env, "41", "1", timeout=60)
        assert out.strip() == "Result of add_two_ints: for 41 + 1 = 42"
    finally:
        _, err = _stop(server)
    assert "Incoming request\na: 41 b: 1" in err


@pytest.mark.parametrize("python", ["ours", "real"])
def test_service_call_async_and_blocking_call_from_another_thread(
    nats_url: str, domain: int, python: str
) -> None:
    """std_srvs/SetBool (both worlds have it; services only same-vendor under real ROS 2):
    call_async + spin_until_future_complete, then ``call`` while a MultiThreadedExecutor
    spins the client node on another thread. The same output under ours and real rclpy."""
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    server = _start("set_bool_server.py", env, python=interpreter)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        out = _run("set_bool_client.py", interpreter, env, "on", timeout=90)
        assert out.splitlines() == [
            "data=True success=True message=enabled=True",
            "data=True success=False message=unchanged",
            "data=False success=True message=enabled=False",
        ], out
    finally:
        _, err = _stop(server)
    requests = [line.rsplit(": ", 1)[1] for line in err.splitlines() if "Incoming request" in line]
    assert requests == ["data=True", "data=True", "data=False"], err


def _counts(python: str, mode: str, env: dict[str, str]) -> dict[str, object]:
    out = _run("executor_counts.py", python, env, mode, timeout=60)
    counts: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return counts


@pytest.mark.parametrize("python", ["ours", "real"])
def test_executors_and_callback_groups_behave_like_rclpy(nats_url: str, domain: int, python: str) -> None:
    """One callback at a time per single-threaded executor and per mutually exclusive group
    (a node's default); two groups on a multi-threaded executor run side by side. Counts, not
    times: the fast timer never runs while the blocking callback sleeps, except with two
    groups; the exact tick counts against real rclpy are in benchmarks/rclpy_executors.py."""
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    single = _counts(interpreter, "single", env)
    default_group = _counts(interpreter, "multi", env)
    two_groups = _counts(interpreter, "multi-groups", env)
    for counts in (single, default_group, two_groups):
        assert counts["on_asyncio_thread"] is False, counts
    assert single["during_block"] == 0, single
    assert default_group["during_block"] == 0, default_group
    assert isinstance(two_groups["during_block"], int) and two_groups["during_block"] > 0, two_groups
    assert isinstance(single["ticks"], int) and isinstance(two_groups["ticks"], int)
    assert two_groups["ticks"] > single["ticks"], (single, two_groups)


def test_rosidl_classes_are_refused_with_a_clear_error(nats_url: str, domain: int, tmp_path: Path) -> None:
    program = tmp_path / "rosidl.py"
    program.write_text(
        "import rclpy\n"
        "from rclpy.node import Node\n"
        "class Metaclass_String(type):\n"
        "    pass\n"
        "class String(metaclass=Metaclass_String):\n"
        "    _TYPE_SUPPORT = None\n"
        "rclpy.init()\n"
        "try:\n"
        "    Node('n').create_publisher(String, 'topic', 10)\n"
        "except TypeError as exc:\n"
        "    print(exc)\n"
        "rclpy.shutdown()\n",
        encoding="utf-8",
    )
    out = _run(program, sys.executable, _env(nats_url, domain), timeout=60)
    assert "rosidl-generated class" in out
    assert "RFOS_ROS2=rfos" in out


@pytest.mark.parametrize("python", ["ours", "real"])
def test_blocking_call_without_a_server_times_out_and_a_wrong_request_is_a_type_error(
    nats_url: str, domain: int, python: str, tmp_path: Path
) -> None:
    program = tmp_path / "call_nobody.py"
    program.write_text(
        "import rclpy\n"
        "from std_srvs.srv import SetBool\n"
        "with rclpy.init():\n"
        "    node = rclpy.create_node('caller')\n"
        "    cli = node.create_client(SetBool, 'nobody_serves_this')\n"
        "    try:\n"
        "        cli.call(SetBool.Request(data=True), timeout_sec=0.5)\n"
        "    except TimeoutError:\n"
        "        print('TimeoutError')\n"
        "    try:\n"
        "        cli.call_async('not a request')\n"
        "    except TypeError:\n"
        "        print('TypeError')\n",
        encoding="utf-8",
    )
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    out = _run(program, interpreter, env, timeout=60)
    assert out.split() == ["TimeoutError", "TypeError"], out


@pytest.mark.parametrize("python", ["ours", "real"])
def test_custom_executor_and_custom_callback_group(nats_url: str, domain: int, python: str) -> None:
    """rclpy's extension points: a group deciding per entity (a bucket of three tokens) and an
    executor built on ``wait_for_ready_callbacks`` running handlers on its own pool."""
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    out = _run("custom_executor.py", interpreter, env, timeout=60)
    assert json.loads(out.strip().splitlines()[-1]) == {
        "runs": 3,
        "on_pool": True,
        "nodes": ["throttled"],
        "member": True,
    }, out


@pytest.mark.parametrize("python", ["ours", "real"])
def test_coroutine_callbacks_await_rclpy_futures(nats_url: str, domain: int, python: str) -> None:
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    out = _run("async_callbacks.py", interpreter, env, timeout=60)
    assert out.splitlines() == [
        "start",
        "data=True success=True",
        "data=False success=False",
        "end",
    ], out
