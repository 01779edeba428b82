"""Parameters in our ``rclpy``: the node API, callbacks, services and AsyncParameterClient.

The program pair (tests/compat/programs/parameter_server.py and parameter_client.py) runs under
ours (NATS) and under real rclpy (the oracle, loopback DDS) and must print the same. The
in-process tests pin ``rclpy.parameter``'s helpers and the rule that parameter callbacks
caused by a remote client run on an executor thread, never on the asyncio thread.
"""

from __future__ import annotations

import array
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat._programs import env_for as _env
from tests.compat._programs import interpreter as _interpreter
from tests.compat._programs import start as _start
from tests.compat._programs import stop as _stop

PROGRAMS = Path(__file__).resolve().parent / "programs"

SERVER_FILE = """\
param_server:
  ros__parameters:
    name: from_file
    enabled: false
"""
LOAD_FILE = """\
/param_server:
  ros__parameters:
    speed: 6.5
    name: rover
    enabled: true
"""
#: What the client prints, under ours and under real rclpy alike.
EXPECTED_CLIENT = """\
list: ['enabled', 'ids', 'last_change', 'mode', 'name', 'serial', 'speed']
get 7 of 7
    speed: 2.5
    name: 'from_file'
    ids: [1, 2, 3]
    enabled: False
    last_change: ''
    mode: 'auto'
    serial: 'SN-1'
get 0 of 2
types: ['DOUBLE', 'STRING', 'INTEGER_ARRAY', 'BOOL', 'STRING', 'STRING', 'STRING']
describe speed: type=3 'forward speed in m/s' read_only=False dynamic=False range=[(-100.0, 100.0)]
describe mode: type=4 '' read_only=False dynamic=True range=[]
describe serial: type=4 '' read_only=True dynamic=False range=[]
set:
    speed: successful=True reason=''
    name: successful=False reason='name must not be empty'
    speed: successful=False reason='speed must not be negative'
    ids: successful=True reason=''
get 4 of 4
    speed: 4.0
    name: 'from_file'
    ids: [7, 8]
    last_change: 'speed'
set atomically:
    enabled+name: successful=False reason='name must not be empty'
get 1 of 1
    enabled: False
load:
    speed: successful=True value=6.5
    name: successful=True value=rover
    enabled: successful=True value=True
get 4 of 4
    speed: 6.5
    name: 'rover'
    enabled: True
    last_change: 'speed'
delete: [True, False]
list: ['enabled', 'ids', 'last_change', 'name', 'serial', 'speed']
"""
#: The server's log lines (without their time stamps).
EXPECTED_SERVER_LOG = [
    "[INFO] [param_server]: declared speed = 2.5",
    "[INFO] [param_server]: declared name = from_file",
    "[INFO] [param_server]: declared ids = [1, 2, 3]",
    "[INFO] [param_server]: declared enabled = False",
    "[INFO] [param_server]: declared serial = SN-1",
    "[INFO] [param_server]: post-set speed = 4.0 (main thread: True)",
    "[INFO] [param_server]: post-set last_change = speed (main thread: True)",
    "[INFO] [param_server]: post-set ids = [7, 8] (main thread: True)",
    "[INFO] [param_server]: post-set speed = 6.5 (main thread: True)",
    "[INFO] [param_server]: post-set last_change = speed (main thread: True)",
    "[INFO] [param_server]: post-set name = rover (main thread: True)",
    "[INFO] [param_server]: post-set enabled = True (main thread: True)",
    "[INFO] [param_server]: post-set mode = None (main thread: True)",
]


@pytest.mark.parametrize("python", ["ours", "real"])
def test_parameter_server_and_async_parameter_client(
    nats_url: str, domain: int, python: str, tmp_path: Path
) -> None:
    """Overrides (-p, params file), list / get / types / describe, set with on-set rejections
    and a pre-set addition, an atomic set, load_parameter_file, delete: the same output from
    ours over NATS and from real rclpy over DDS, and the same post-set log on the server."""
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    server_file = tmp_path / "server.yaml"
    server_file.write_text(SERVER_FILE, encoding="utf-8")
    load_file = tmp_path / "load.yaml"
    load_file.write_text(LOAD_FILE, encoding="utf-8")
    server = _start(
        "parameter_server.py",
        env,
        "--ros-args",
        "-p",
        "speed:=2.5",
        "--params-file",
        str(server_file),
        python=interpreter,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        client = subprocess.run(
            [interpreter, str(PROGRAMS / "parameter_client.py"), str(load_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        _, err = _stop(server)
    assert client.returncode == 0, client.stderr
    assert client.stdout == EXPECTED_CLIENT, client.stdout
    log = [line.split(" ", 2) for line in err.splitlines() if line.startswith("[INFO]")]
    assert [f"{level} {rest}" for level, _, rest in log] == EXPECTED_SERVER_LOG, err


def test_rfos_param_reaches_the_callbacks_of_an_rclpy_node(nats_url: str, domain: int) -> None:
    """``rfos param`` talks to our rclpy node's services (answered on its executor): a
    rejected value says the callback's reason, an accepted one runs pre- and post-set."""
    env = _env(nats_url, domain)
    rfos = str(Path(sys.executable).parent / "rfos")

    def param(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [rfos, "param", *argv], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    server = _start("parameter_server.py", env)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        listed = param("list", "/param_server")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split() == [
            "enabled", "ids", "last_change", "mode", "name", "serial", "speed", "use_sim_time",
        ]  # fmt: skip
        refused = param("set", "/param_server", "name", "")
        assert (refused.returncode, refused.stdout.strip()) == (
            1,
            "Setting parameter failed: name must not be empty",
        )
        accepted = param("set", "/param_server", "speed", "3.5")
        assert accepted.returncode == 0, accepted.stderr
        got = param("get", "/param_server", "last_change")
        assert got.stdout.strip() == "String value is: speed", got.stdout
    finally:
        _, err = _stop(server)
    assert "post-set speed = 3.5 (main thread: True)" in err


# -- in process (our rclpy) ----------------------------------------------------------------
@pytest.fixture
def rclpy_up(nats_url: str, domain: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import rclpy

    monkeypatch.setenv("MESSAGING_URL", nats_url)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    rclpy.init(args=[])
    try:
        yield rclpy
    finally:
        rclpy.shutdown()


def test_parameter_value_to_python_and_get_parameter_value() -> None:
    from rcl_interfaces.msg import ParameterType, ParameterValue
    from rclpy.parameter import Parameter, get_parameter_value, parameter_value_to_python

    cases: list[tuple[str, int, Any]] = [
        ("true", ParameterType.PARAMETER_BOOL, True),
        ("42", ParameterType.PARAMETER_INTEGER, 42),
        ("2.5", ParameterType.PARAMETER_DOUBLE, 2.5),
        ("hello", ParameterType.PARAMETER_STRING, "hello"),
        ("[1, 2]", ParameterType.PARAMETER_INTEGER_ARRAY, [1, 2]),
        ("[1.5, 2.5]", ParameterType.PARAMETER_DOUBLE_ARRAY, [1.5, 2.5]),
        ("[true, false]", ParameterType.PARAMETER_BOOL_ARRAY, [True, False]),
        ("[a, b]", ParameterType.PARAMETER_STRING_ARRAY, ["a", "b"]),
        ("[1, a]", ParameterType.PARAMETER_STRING, "[1, a]"),
        ("", ParameterType.PARAMETER_STRING, ""),
    ]
    for text, type_, value in cases:
        msg = get_parameter_value(text)
        assert (msg.type, parameter_value_to_python(msg)) == (type_, value), text
    assert parameter_value_to_python(ParameterValue()) is None
    raw = ParameterValue(type=ParameterType.PARAMETER_BYTE_ARRAY, byte_array_value=b"\x01\x02")
    assert parameter_value_to_python(raw) == [b"\x01", b"\x02"]
    with pytest.raises(RuntimeError, match="unexpected parameter type 42"):
        parameter_value_to_python(ParameterValue(type=42))
    round_trip = Parameter.from_parameter_msg(Parameter("ids", value=[4, 5]).to_parameter_msg())
    assert (round_trip.name, round_trip.type_, list(round_trip.value)) == (
        "ids",
        Parameter.Type.INTEGER_ARRAY,
        [4, 5],
    )


def test_parameter_constructor_follows_rclpy() -> None:
    from rclpy.parameter import Parameter

    assert Parameter("x").type_ is Parameter.Type.NOT_SET
    assert Parameter("x", value=(1, 2)).value == (1, 2)  # kept as given
    assert Parameter("x", value=[]).type_ is Parameter.Type.BYTE_ARRAY  # rclpy's inference
    assert Parameter("x", value=array.array("q", [1, 2])).type_ is Parameter.Type.INTEGER_ARRAY
    assert Parameter("x", value=array.array("d", [0.5])).type_ is Parameter.Type.DOUBLE_ARRAY
    with pytest.raises(ValueError, match="do not agree"):
        Parameter("x", Parameter.Type.INTEGER, "1")
    with pytest.raises(TypeError, match="type must be an instance"):
        Parameter("x", 2, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not one of the allowed types"):
        Parameter("x", value=object())


def test_parameter_dict_from_yaml_file(tmp_path: Path) -> None:
    from rclpy.parameter import parameter_dict_from_yaml_file, parameter_value_to_python

    path = tmp_path / "params.yaml"
    path.write_text(
        "/**:\n  ros__parameters:\n    shared: 1\n    speed: 0.5\n"
        "/robots:\n  mover:\n    ros__parameters:\n      speed: 2.0\n      gains: {p: 1.5, i: [1, 2]}\n"
        "plain:\n  ros__parameters:\n    label: hi\n",
        encoding="utf-8",
    )

    def values(**kwargs: Any) -> dict[str, Any]:
        found = parameter_dict_from_yaml_file(str(path), **kwargs)
        assert all(msg.name == name for name, msg in found.items())
        return {name: parameter_value_to_python(msg.value) for name, msg in found.items()}

    assert values(target_nodes=["/robots/mover"]) == {"speed": 2.0, "gains.p": 1.5, "gains.i": [1, 2]}
    assert values(use_wildcard=True, target_nodes=["/robots/mover"]) == {
        "shared": 1,
        "speed": 2.0,
        "gains.p": 1.5,
        "gains.i": [1, 2],
    }
    assert values(target_nodes=["plain"], namespace="ns.") == {"ns.label": "hi"}
    assert values(use_wildcard=True) == {"shared": 1, "speed": 0.5}
    with pytest.raises(RuntimeError, match="does not contain any valid parameters"):
        parameter_dict_from_yaml_file(str(path), target_nodes=["/nobody"])


def _wait(future: Any, timeout: float = 30.0) -> Any:
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout), "the call did not complete"
    return future.result()


def test_remote_set_runs_every_callback_on_an_executor_thread(rclpy_up: Any) -> None:
    """A client's set_parameters reaches the node's pre / on / post-set callbacks on the
    executor spinning the node, never on the asyncio thread; the pre-set callback's
    addition is set atomically with the request, and /parameter_events reports both."""
    from rcl_interfaces.msg import ParameterEvent, SetParametersResult
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient

    server = Node("threads_server")
    server.declare_parameter("speed", 1.0)
    server.declare_parameter("echo", 0.0)
    threads: dict[str, list[str]] = {"pre": [], "on": [], "post": []}

    def pre(params: list[Any]) -> list[Any]:
        threads["pre"].append(threading.current_thread().name)
        return [*params, *(Parameter("echo", value=p.value) for p in params if p.name == "speed")]

    def on(params: list[Any]) -> Any:
        threads["on"].append(threading.current_thread().name)
        return SetParametersResult(successful=all(p.value >= 0 for p in params), reason="negative")

    def post(params: list[Any]) -> None:
        threads["post"].append(threading.current_thread().name)

    server.add_pre_set_parameters_callback(pre)
    server.add_on_set_parameters_callback(on)
    server.add_post_set_parameters_callback(post)
    caller = Node("threads_client")
    client = AsyncParameterClient(caller, "threads_server")
    changed = threading.Event()
    events: list[Any] = []

    def on_event(event: Any) -> None:
        if event.node == "/threads_server" and event.changed_parameters:
            events.append(event)
            changed.set()

    caller.create_subscription(ParameterEvent, "/parameter_events", on_event, 100)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(server)
    executor.add_node(caller)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        assert client.wait_for_services(timeout_sec=30.0)
        response = _wait(
            client.set_parameters([Parameter("speed", value=3.0), Parameter("speed", value=-1.0)])
        )
        assert [(r.successful, r.reason) for r in response.results] == [(True, ""), (False, "negative")]
        assert server.get_parameter("speed").value == 3.0
        assert server.get_parameter("echo").value == 3.0
        seen = [name for names in threads.values() for name in names]
        assert len(threads["pre"]) == 2 and len(threads["on"]) == 2 and len(threads["post"]) == 1, threads
        assert all(name.startswith("rclpy-executor") for name in seen), threads
        assert changed.wait(30.0), "no /parameter_events message for the change"
        assert sorted(p.name for p in events[0].changed_parameters) == ["echo", "speed"]
    finally:
        executor.shutdown()
        spinner.join(timeout=30)
        server.destroy_node()
        caller.destroy_node()


def test_parameter_services_answer_only_while_the_node_is_spun(rclpy_up: Any) -> None:
    """rclpy's parameter services are the node's own services: nobody answers until an executor
    spins the node (the request then waits, it is not answered on the asyncio thread)."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter_client import AsyncParameterClient

    server = Node("unspun_server")
    server.declare_parameter("speed", 1.0)
    caller = Node("unspun_client")
    client = AsyncParameterClient(caller, "unspun_server")
    assert client.wait_for_services(timeout_sec=30.0)
    future = client.get_parameters(["speed"])
    caller_executor = SingleThreadedExecutor()
    caller_executor.add_node(caller)
    caller_executor.spin_until_future_complete(future, timeout_sec=0.5)
    assert not future.done()
    executor = SingleThreadedExecutor()
    executor.add_node(server)
    executor.add_node(caller)
    executor.spin_until_future_complete(future, timeout_sec=30.0)
    assert future.done()
    assert [v.double_value for v in future.result().values] == [1.0]
    server.destroy_node()
    caller.destroy_node()


def test_node_parameter_api(rclpy_up: Any) -> None:
    """Declaration rules, overrides, getters and local sets with rclpy's exceptions."""
    from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
    from rclpy.exceptions import (
        InvalidParameterValueException,
        ParameterAlreadyDeclaredException,
        ParameterImmutableException,
        ParameterNotDeclaredException,
        ParameterUninitializedException,
    )
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    node = Node(
        "api_node",
        parameter_overrides=[Parameter("rate", value=5.0), Parameter("extra.level", value=3)],
        automatically_declare_parameters_from_overrides=True,
    )
    try:
        assert node.get_parameter("rate").value == 5.0
        assert node.get_parameter("extra.level").value == 3
        assert node.get_parameter("use_sim_time").value is False
        with pytest.raises(ParameterAlreadyDeclaredException):
            node.declare_parameter("rate", 1.0)
        [a, b] = node.declare_parameters("gains", [("p", 1.0), ("i", 0.5)])
        assert (a.name, b.value) == ("gains.p", 0.5)
        assert set(node.get_parameters_by_prefix("gains")) == {"p", "i"}
        node.declare_parameter("count", Parameter.Type.INTEGER)
        with pytest.raises(ParameterUninitializedException):
            node.get_parameter("count")
        assert node.get_parameter_or("count", Parameter("count", value=7)).value == 7
        with pytest.raises(ValueError, match="statically typed of type NOT_SET"):
            node.declare_parameter("bad", Parameter.Type.NOT_SET)
        node.declare_parameter("any", None, ParameterDescriptor(dynamic_typing=True))
        assert node.set_parameters([Parameter("any", value="text")])[0].successful
        assert node.set_parameters([Parameter("any", value=2)])[0].successful
        assert node.get_parameter_types(["any", "rate"]) == [Parameter.Type.INTEGER, Parameter.Type.DOUBLE]
        node.declare_parameter("fixed", "x", ParameterDescriptor(read_only=True))
        assert not node.set_parameters([Parameter("fixed", value="y")])[0].successful
        with pytest.raises(ParameterImmutableException):
            node.undeclare_parameter("fixed")
        with pytest.raises(ParameterNotDeclaredException):
            node.set_parameters_atomically([Parameter("ghost", value=1)])
        with pytest.raises(TypeError):
            node.set_parameters(["rate"])  # type: ignore[list-item]

        def refuse_big(params: list[Any]) -> Any:
            return SetParametersResult(
                successful=all(not (p.value or 0) > 100 for p in params), reason="too big"
            )

        node.add_on_set_parameters_callback(refuse_big)
        with pytest.raises(InvalidParameterValueException, match="too big"):
            node.declare_parameter("huge", 1000)
        assert node.set_parameters_atomically([Parameter("rate", value=500.0)]).reason == "too big"
        node.remove_on_set_parameters_callback(refuse_big)
        emptied = node.add_pre_set_parameters_callback(lambda params: [])
        assert emptied is None  # rclpy's add_* return nothing
        result = node.set_parameters_atomically([Parameter("rate", value=1.0)])
        assert not result.successful and "cannot be empty" in result.reason
        names = node.list_parameters([], 0).names
        assert {"rate", "extra.level", "gains.p", "use_sim_time"} <= set(names)
        assert node.list_parameters(["gains"], 1).names == ["gains.p", "gains.i"]
    finally:
        node.destroy_node()
