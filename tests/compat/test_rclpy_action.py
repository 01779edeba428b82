"""``rclpy.action`` on our ``rclpy``: the same programs as under real rclpy, and its semantics.

The program pair (tests/compat/programs/fibonacci_action_{server,client}.py, written like
ROS 2's minimal action examples) runs under ours (NATS) and under real rclpy (the oracle,
loopback DDS) with the same asserted output: feedback sequence, result, a rejected goal, an
aborted goal and a canceled one. The in-process tests check what the output cannot show:
every user callback runs on an executor thread, never on the asyncio thread.
"""

from __future__ import annotations

import subprocess
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
ASYNCIO_THREAD = "rclpy-asyncio"


def _client(python: str, env: dict[str, str], *args: str) -> list[str]:
    result = subprocess.run(
        [python, str(PROGRAMS / "fibonacci_action_client.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _lines(lines: list[str], *prefixes: str) -> list[str]:
    return [line for line in lines if line.startswith(prefixes)]


FIB_10 = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55]


@pytest.mark.parametrize("python", ["ours", "real"])
def test_fibonacci_programs_behave_as_under_real_rclpy(nats_url: str, domain: int, python: str) -> None:
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    server = _start("fibonacci_action_server.py", env, python=interpreter)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        succeeded = _client(interpreter, env, "10")
        rejected = _client(interpreter, env, "50")
        aborted = _client(interpreter, env, "0")
        canceled = _client(interpreter, env, "30", "cancel")
    finally:
        out, err = _stop(server)
    feedback = [f"Received feedback: {FIB_10[: n + 1]}" for n in range(2, len(FIB_10))]
    # Feedback may overtake the goal response (as in rclpy): compare each stream in its order.
    assert _lines(succeeded, "Received") == feedback
    assert _lines(succeeded, "Goal", "Result") == [
        "Goal accepted :)",
        f"Result: {FIB_10}",
        "Goal status: SUCCEEDED",
    ]
    assert rejected == ["Goal rejected :("]
    assert aborted == ["Goal accepted :)", "Goal status: ABORTED"]
    assert _lines(canceled, "Received") == ["Received feedback: [0, 1, 1]", "Received feedback: [0, 1, 1, 2]"]
    # The cancel response and the result travel separately: their order is not the protocol's.
    assert sorted(_lines(canceled, "Goal", "Canceling")) == [
        "Canceling goal",
        "Goal accepted :)",
        "Goal status: CANCELED",
        "Goal successfully canceled",
    ], canceled
    assert canceled.index("Canceling goal") > canceled.index("Received feedback: [0, 1, 1, 2]")
    assert out.splitlines() == [
        "Accepting goal of order 10",
        "Executing goal...",
        f"Returning result: {FIB_10}",
        "Rejecting goal of order 50",
        "Accepting goal of order 0",
        "Executing goal...",
        "Goal aborted",
        "Accepting goal of order 30",
        "Executing goal...",
        "Received cancel request",
        "Goal canceled",
    ], err
    assert server.returncode == 0, err


# -- in process (ours only) ------------------------------------------------------------------


@pytest.fixture
def rclpy_ours(nats_url: str, domain: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import rclpy

    monkeypatch.setenv("MESSAGING_URL", nats_url)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    with rclpy.init(args=[]):
        yield rclpy


class _Spinner:
    """A multi-threaded executor spinning ``nodes`` on a background thread."""

    def __init__(self, rclpy: Any, *nodes: Any) -> None:
        from rclpy.executors import MultiThreadedExecutor

        self.executor = MultiThreadedExecutor(num_threads=4)
        for node in nodes:
            self.executor.add_node(node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)

    def __enter__(self) -> _Spinner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown()
        self._thread.join(timeout=10)


def _wait(future: Any, timeout: float = 20.0) -> Any:
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout), "the future never completed"
    return future.result()


def test_every_callback_runs_on_an_executor_thread(rclpy_ours: Any) -> None:
    from action_msgs.msg import GoalStatus
    from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
    from rclpy.callback_groups import ReentrantCallbackGroup
    from rclpy.node import Node
    from test_msgs.action import Fibonacci

    threads: dict[str, set[str]] = {}
    go_on = threading.Event()

    def seen(what: str) -> None:
        threads.setdefault(what, set()).add(threading.current_thread().name)

    def goal_callback(goal: Any) -> GoalResponse:
        seen("goal")
        return GoalResponse.ACCEPT

    def cancel_callback(goal_handle: Any) -> CancelResponse:
        seen("cancel")
        return CancelResponse.ACCEPT

    def handle_accepted(goal_handle: Any) -> None:
        seen("accepted")
        goal_handle.execute()

    def execute(goal_handle: Any) -> Any:
        seen("execute")
        goal_handle.publish_feedback(Fibonacci.Feedback(sequence=[0, 1]))
        assert go_on.wait(20)
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.succeed()
        return Fibonacci.Result(sequence=[0, 1])

    server_node, client_node = Node("threads_server"), Node("threads_client")
    ActionServer(
        server_node,
        Fibonacci,
        "threads",
        execute,
        callback_group=ReentrantCallbackGroup(),
        goal_callback=goal_callback,
        cancel_callback=cancel_callback,
        handle_accepted_callback=handle_accepted,
    )
    client = ActionClient(client_node, Fibonacci, "threads")
    with _Spinner(rclpy_ours, server_node, client_node):
        assert client.wait_for_server(timeout_sec=20)
        assert client.server_is_ready()
        feedback = threading.Event()

        def on_feedback(message: Any) -> None:
            seen("feedback")
            feedback.set()

        sent = client.send_goal_async(Fibonacci.Goal(order=2), feedback_callback=on_feedback)
        sent.add_done_callback(lambda _f: seen("done"))
        handle = _wait(sent)
        assert handle.accepted
        assert feedback.wait(20)
        cancel = _wait(handle.cancel_goal_async())
        assert [bytes(g.goal_id.uuid) for g in cancel.goals_canceling] == [bytes(handle.goal_id.uuid)]
        go_on.set()
        result = _wait(handle.get_result_async())
        assert result.status == GoalStatus.STATUS_CANCELED
        assert handle.status == GoalStatus.STATUS_CANCELED
    assert set(threads) == {"goal", "cancel", "accepted", "execute", "feedback", "done"}, threads
    for what, names in threads.items():
        assert ASYNCIO_THREAD not in names, (what, names)
        assert all(name.startswith("rclpy-executor") for name in names), (what, names)


def test_rejected_goal_rejected_cancel_abort_and_a_raising_execute(rclpy_ours: Any) -> None:
    from action_msgs.msg import GoalStatus
    from action_msgs.srv import CancelGoal
    from rclpy.action import ActionClient, ActionServer, GoalResponse
    from rclpy.node import Node
    from test_msgs.action import Fibonacci

    release = threading.Event()

    def execute(goal_handle: Any) -> Any:
        order = goal_handle.request.order
        if order == 1:
            goal_handle.abort()
            return Fibonacci.Result()
        if order == 2:
            raise RuntimeError("execute failed on purpose")
        assert release.wait(20)
        goal_handle.succeed()
        return Fibonacci.Result(sequence=[7])

    node = Node("outcomes")
    # The default cancel callback rejects every cancel request, as rclpy's does.
    ActionServer(
        node,
        Fibonacci,
        "outcomes",
        execute,
        goal_callback=lambda goal: GoalResponse.REJECT if goal.order < 0 else GoalResponse.ACCEPT,
    )
    client = ActionClient(node, Fibonacci, "outcomes")
    with _Spinner(rclpy_ours, node):
        assert client.wait_for_server(timeout_sec=20)
        with pytest.raises(TypeError):
            client.send_goal_async(Fibonacci.Result())
        rejected = _wait(client.send_goal_async(Fibonacci.Goal(order=-1)))
        assert not rejected.accepted
        aborted = client.send_goal(Fibonacci.Goal(order=1))  # blocking, from this thread
        assert aborted.status == GoalStatus.STATUS_ABORTED
        raised = client.send_goal(Fibonacci.Goal(order=2))
        assert raised.status == GoalStatus.STATUS_ABORTED
        running = _wait(client.send_goal_async(Fibonacci.Goal(order=3)))
        cancel = running.cancel_goal()  # blocking
        assert cancel.return_code == CancelGoal.Response.ERROR_REJECTED
        assert list(cancel.goals_canceling) == []
        release.set()
        done = running.get_result()  # blocking
        assert done.status == GoalStatus.STATUS_SUCCEEDED
        assert list(done.result.sequence) == [7]


def test_deferred_execution_and_an_async_execute_callback(rclpy_ours: Any) -> None:
    """``handle_accepted_callback`` keeps the goal and a timer executes it later (like
    server_defer.py); an ``async def`` execute callback may await an rclpy future."""
    from action_msgs.msg import GoalStatus
    from rclpy.action import ActionClient, ActionServer
    from rclpy.node import Node
    from rclpy.task import Future
    from test_msgs.action import Fibonacci

    node = Node("deferred")
    kept: list[Any] = []
    later = Future()
    awaited_on: list[str] = []

    async def execute(goal_handle: Any) -> Any:
        value = await later
        awaited_on.append(threading.current_thread().name)
        goal_handle.succeed()
        return Fibonacci.Result(sequence=[value])

    def start_kept() -> None:
        if kept:
            kept.pop().execute()

    ActionServer(node, Fibonacci, "deferred", execute, handle_accepted_callback=kept.append)
    node.create_timer(0.05, start_kept)
    client = ActionClient(node, Fibonacci, "deferred")
    with _Spinner(rclpy_ours, node):
        assert client.wait_for_server(timeout_sec=20)
        handle = _wait(client.send_goal_async(Fibonacci.Goal(order=1)))
        result = handle.get_result_async()
        later.set_result(42)
        response = _wait(result)
    assert response.status == GoalStatus.STATUS_SUCCEEDED
    assert list(response.result.sequence) == [42]
    assert awaited_on and ASYNCIO_THREAD not in awaited_on


def test_an_rclpy_future_can_be_awaited_by_an_asyncio_task() -> None:
    """Like rclpy's, ``Future.__await__`` yields bare while not done (client_asyncio.py does this)."""
    import asyncio

    from rclpy.task import Future

    future = Future()

    async def wait() -> Any:
        threading.Timer(0.01, future.set_result, args=(5,)).start()
        return await future

    assert asyncio.run(asyncio.wait_for(wait(), 20)) == 5
