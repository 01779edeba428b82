"""Zero-config: programs started without ``MESSAGING_URL`` share one detached local broker.

Real processes throughout (``python -c`` programs using the node API), each on a free
``RFOS_LOCAL_PORT`` with its state in the test's directory and a short
``RFOS_LOCAL_IDLE_S``; every wait is a poll with a timeout. The ``local_broker_env``
fixture stops whatever supervisor a test left behind.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from robotfleet_nodes._local_broker import (
    ENV_IDLE,
    ENV_PORT,
    LocalBroker,
    LocalBrokerState,
    idle_seconds,
    local_port,
    state_dir,
)
from robotfleet_nodes.errors import ConfigError

# A program: waits for "go" on stdin (so several can start at once), then joins the local
# broker; `pub` publishes "hello" every 0.1 s until stdin closes, `sub` prints each message
# it gets (and exits after the first with `--once`), `join` only connects and waits for
# stdin to close.
PROGRAM = r"""
import asyncio, logging, sys
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
from std_msgs.msg import String
from robotfleet_nodes.node import Context, Node

role, topic = sys.argv[1], sys.argv[2]
once = "--once" in sys.argv

async def main():
    print("armed", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    async with Context() as ctx:
        node = Node(f"zc_{role}", context=ctx)
        await node.start()
        got = asyncio.Event()
        if role == "sub":
            def on_msg(msg):
                print("got", msg.data, flush=True)
                got.set()
            await node.create_subscription(String, topic, on_msg, 10)
        print("connected", ctx.url, flush=True)
        closed = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
        if role == "pub":
            pub = await node.create_publisher(String, topic, 10)
            while not closed.done():
                await pub.publish(String(data="hello"))
                await asyncio.sleep(0.1)
        elif once:
            await got.wait()
        else:
            await closed
        await node.destroy_node()

asyncio.run(main())
"""

TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class Program:
    """One ``python -c PROGRAM`` process; its stdout is read line by line by a thread."""

    def __init__(self, env: dict[str, str], *args: str, module: str | None = None) -> None:
        argv = ["-m", module, *args] if module else ["-c", PROGRAM, *args]
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # The examples log to stderr: read it with stdout.
            stderr=subprocess.STDOUT if module else subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._stderr: str | None = None
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, text: str, timeout: float = TIMEOUT) -> str:
        """The next stdout line containing ``text`` (earlier lines are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                pytest.fail(f"no {text!r} line; got {self.lines}; stderr: {self.finish()}")
            if line is None:
                pytest.fail(f"exited before {text!r}; got {self.lines}; stderr: {self.finish()}")
            self.lines.append(line)
            if text in line:
                return line

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
            self.proc.stdin = None

    def finish(self, timeout: float = TIMEOUT) -> str:
        """Close stdin, wait for the exit (killing it after ``timeout``); return its stderr."""
        if self._stderr is not None:
            return self._stderr
        self.close_stdin()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(TIMEOUT)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)
        self._stderr = ""
        if self.proc.stderr is not None:
            self._stderr = self.proc.stderr.read()
            self.proc.stderr.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self._stderr


@pytest.fixture
def local_broker_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for programs without MESSAGING_URL on a free local port; cleans up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESSAGING_")}
    env.update({ENV_PORT: str(_free_port()), ENV_IDLE: "1", "RFOS_STATE_DIR": str(tmp_path)})
    env.pop("ROS_DOMAIN_ID", None)
    yield env
    directory = state_dir(int(env[ENV_PORT]), env)
    state = LocalBrokerState.read(directory)
    if state is not None and _alive(state.pid):
        os.kill(state.pid, signal.SIGTERM)
        _wait_for(lambda: not _alive(state.pid), "the supervisor to stop")


def _state(env: dict[str, str]) -> LocalBrokerState:
    state = LocalBrokerState.read(state_dir(int(env[ENV_PORT]), env))
    assert state is not None, "no broker.json: the local broker is not running"
    return state


def test_two_programs_talk_and_the_broker_outlives_its_starter(local_broker_env: dict[str, str]) -> None:
    env = local_broker_env
    port = int(env[ENV_PORT])
    sub = Program(env, "sub", "/zc_chatter", "--once")
    sub.expect("armed")
    sub.send("go\n")
    sub.expect("connected")
    state = _state(env)
    assert state.starter_pid == sub.proc.pid
    pub = Program(env, "pub", "/zc_chatter")
    pub.expect("armed")
    pub.send("go\n")
    pub.expect("connected")
    assert sub.expect("got") == "got hello"
    sub_log = sub.finish()
    assert sub.proc.returncode == 0, sub_log
    assert (
        f"connected to the local broker at nats://127.0.0.1:{port} (started by this program, "
        f"supervised by pid {state.pid}; exits 1 s after its last client)"
    ) in sub_log

    # The subscriber (which started the broker) is gone; the publisher still uses it.
    assert _alive(state.pid) and _listening(port)
    pub.close_stdin()
    pub_log = pub.finish()
    assert pub.proc.returncode == 0, pub_log
    assert f"(started by pid {sub.proc.pid}, supervised by pid {state.pid};" in pub_log

    # No client left: the broker exits by itself after RFOS_LOCAL_IDLE_S.
    _wait_for(lambda: not _alive(state.pid), "the idle local broker to exit")
    assert not _listening(port)
    assert LocalBrokerState.read(state_dir(port, env)) is None


def test_the_readme_talker_and_listener_find_each_other(local_broker_env: dict[str, str]) -> None:
    env = {**local_broker_env, "PYTHONUNBUFFERED": "1"}
    listener = Program(env, module="robotfleet_nodes.examples.listener")
    talker = Program(env, module="robotfleet_nodes.examples.talker")
    try:
        listener.expect('I heard: "Hello World: ')
    finally:
        for program in (talker, listener):
            program.proc.send_signal(signal.SIGINT)
        logs = [program.finish() for program in (talker, listener)]
    assert [talker.proc.returncode, listener.proc.returncode] == [0, 0], logs


def test_the_launch_demo_a_hand_started_listener_and_the_cli_share_the_local_broker(
    local_broker_env: dict[str, str], tmp_path: Path
) -> None:
    """As in ROS 2: `rfos launch launch/talker_listener.launch.yaml` without MESSAGING_URL, a
    listener started by hand in another terminal hears its talker, and `rfos topic list`
    (no MESSAGING_URL either) sees the topic."""
    env = {**local_broker_env, "PYTHONUNBUFFERED": "1"}
    launch_file = Path(__file__).resolve().parent.parent / "launch" / "talker_listener.launch.yaml"
    launch = Program(
        env, "launch", str(launch_file), "topic:=/zc_news", "--log-dir", str(tmp_path / "log"),
        module="robotfleet_nodes.cli.main",
    )  # fmt: skip
    remap = ("--ros-args", "-r", "chatter:=/zc_news")
    listener = Program(env, *remap, module="robotfleet_nodes.examples.listener")
    try:
        launch.expect("[listener-1] [INFO]")
        listener.expect('I heard: "Hello World: ')
        topics = subprocess.run(
            [sys.executable, "-m", "robotfleet_nodes.cli.main", "topic", "list"],
            env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
        )  # fmt: skip
        assert topics.returncode == 0, topics.stderr
        assert "/zc_news" in topics.stdout.split(), topics.stdout
    finally:
        for program in (launch, listener):
            program.proc.send_signal(signal.SIGINT)
        logs = [program.finish() for program in (launch, listener)]
    assert [launch.proc.returncode, listener.proc.returncode] == [0, 0], logs
    supervisor = f"supervised by pid {_state(local_broker_env).pid};"
    assert supervisor in "\n".join(launch.lines) and supervisor in "\n".join(listener.lines)


def test_simultaneous_starters_end_with_one_broker(local_broker_env: dict[str, str]) -> None:
    programs = [Program(local_broker_env, "join", "/zc_unused") for _ in range(3)]
    for program in programs:
        program.expect("armed")
    for program in programs:  # all race for the lock now
        program.send("go\n")
    for program in programs:
        program.expect("connected")
    state = _state(local_broker_env)
    for program in programs:
        program.close_stdin()
    logs = [program.finish() for program in programs]
    assert all(program.proc.returncode == 0 for program in programs), logs
    starters = [log for log in logs if "(started by this program," in log]
    assert len(starters) == 1, logs
    assert all(f"supervised by pid {state.pid};" in log for log in logs), logs
    _wait_for(lambda: not _alive(state.pid), "the idle local broker to exit")


def test_domains_on_one_local_broker_do_not_see_each_other(local_broker_env: dict[str, str]) -> None:
    env1 = {**local_broker_env, "ROS_DOMAIN_ID": "1"}
    env2 = {**local_broker_env, "ROS_DOMAIN_ID": "2"}
    other = Program(env1, "sub", "/zc_domain")  # domain 1: must hear nothing
    same = Program(env2, "sub", "/zc_domain", "--once")  # domain 2: the control
    pub = Program(env2, "pub", "/zc_domain")
    for program in (other, same, pub):
        program.expect("armed")
    for program in (other, same):
        program.send("go\n")
        program.expect("connected")
    pub.send("go\n")
    pub.expect("connected")
    assert same.expect("got") == "got hello"  # the publisher works and both share the broker
    same_log = same.finish()
    other.close_stdin()
    other_log = other.finish()
    pub.close_stdin()
    pub.finish()
    assert other.proc.returncode == 0, other_log
    assert not [line for line in other.lines if line.startswith("got")], other.lines
    supervisor = f"supervised by pid {_state(local_broker_env).pid};"
    assert supervisor in other_log and supervisor in same_log  # one broker served both domains


def test_a_foreign_server_on_the_port_is_used_as_it_is(local_broker_env: dict[str, str]) -> None:
    from robotfleet_nodes.broker import EmbeddedBroker

    port = int(local_broker_env[ENV_PORT])
    with EmbeddedBroker(port=port) as server:
        local = LocalBroker(port, idle_s=1, directory=Path(local_broker_env["RFOS_STATE_DIR"]) / "x")
        try:
            assert local.acquire(timeout=TIMEOUT) == server.url
        finally:
            local.release()
        assert local.state is None and not local.started_here
        assert "robotfleet did not start" in local.describe()


@pytest.mark.parametrize(
    ("environ", "port", "idle"),
    [
        ({}, 4222, 60.0),
        ({ENV_PORT: "0", ENV_IDLE: "0"}, 0, 0.0),
        ({ENV_PORT: " 5000 ", ENV_IDLE: "1.5"}, 5000, 1.5),
    ],
)
def test_settings_from_the_environment(environ: dict[str, str], port: int, idle: float) -> None:
    assert local_port(environ) == port
    assert idle_seconds(environ) == idle


@pytest.mark.parametrize(
    ("read", "environ"),
    [
        (local_port, {ENV_PORT: "x"}),
        (local_port, {ENV_PORT: "-1"}),
        (local_port, {ENV_PORT: "70000"}),
        (idle_seconds, {ENV_IDLE: "soon"}),
        (idle_seconds, {ENV_IDLE: "-2"}),
    ],
)
def test_bad_settings_say_which_variable(
    read: Callable[[dict[str, str]], object], environ: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match=next(iter(environ))):
        read(environ)


def test_state_directory_is_per_port_under_the_state_dir() -> None:
    assert state_dir(4222, {"RFOS_STATE_DIR": "/s"}) == Path("/s/local-broker-4222")
    assert state_dir(5000, {}) == Path.home() / ".local/state/robotfleet/local-broker-5000"


async def test_the_supervisor_counts_clients_on_the_monitoring_port() -> None:
    import nats

    from robotfleet_nodes._local_broker_supervisor import client_count
    from robotfleet_nodes.broker import EmbeddedBroker

    with EmbeddedBroker(monitor_port=-1) as server:
        monitor = server.monitor_url
        assert monitor is not None and monitor.startswith("http://127.0.0.1:")
        assert client_count(monitor) == 0  # JetStream's internal clients do not count
        client = await nats.connect(server.url)
        try:
            assert client_count(monitor) == 1
        finally:
            await client.close()
    assert client_count(monitor, timeout=0.5) is None  # gone: no answer
    assert EmbeddedBroker().monitor_url is None
