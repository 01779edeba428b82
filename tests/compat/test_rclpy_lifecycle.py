"""``rclpy.lifecycle`` on our ``rclpy``: the same programs as under real rclpy, and its semantics.

lifecycle_talker.py (ROS 2's lifecycle_py talker demo, adapted to print its callbacks) is
driven through its ``change_state`` service by lifecycle_driver.py, under ours (NATS) and
under real rclpy (the oracle, loopback DDS), with the same asserted output: each state,
the available transitions, a refused transition, lifecycle_chatter heard while active.
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


@pytest.mark.parametrize("python", ["ours", "real"])
def test_lifecycle_talker_driven_by_change_state_as_under_real_rclpy(
    nats_url: str, domain: int, python: str
) -> None:
    interpreter, env = _interpreter(python, _env(nats_url, domain))
    talker = _start("lifecycle_talker.py", env, python=interpreter)
    try:
        assert talker.stdout is not None
        assert talker.stdout.readline().strip() == "ready"
        driver = subprocess.run(
            [interpreter, str(PROGRAMS / "lifecycle_driver.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        out, err = _stop(talker)
    assert driver.returncode == 0, driver.stderr
    assert driver.stdout.splitlines() == [
        "state=unconfigured available=['configure', 'shutdown']",
        "1: success=True state=inactive",
        "available=['cleanup', 'activate', 'shutdown']",
        "4: success=False state=inactive",
        "activate: success=True state=active",
        "heard while active: True",
        "deactivate: success=True state=inactive",
        "2: success=True state=unconfigured",
        "shutdown: success=True state=finalized",
        "available=[]",
    ], driver.stderr
    assert out.splitlines() == [
        "on_configure() is called from unconfigured.",
        "on_activate() is called from inactive.",
        "on_deactivate() is called from active.",
        "on_cleanup() is called from inactive.",
        "on_shutdown() is called from unconfigured.",
    ], err
    assert "Unable to start transition 4 from current state (2, 'inactive')" in err
    assert talker.returncode == 0, err


# -- in process (ours only) ------------------------------------------------------------------


@pytest.fixture
def rclpy_ours(nats_url: str, domain: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import rclpy

    monkeypatch.setenv("MESSAGING_URL", nats_url)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    with rclpy.init(args=[]):
        yield rclpy


def test_triggers_results_error_processing_and_the_publisher(rclpy_ours: Any) -> None:
    from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
    from std_msgs.msg import String

    calls: list[tuple[str, LifecycleState, str]] = []

    class Managed(LifecycleNode):
        fail_activate = True

        def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
            calls.append(("configure", state, threading.current_thread().name))
            self.pub = self.create_lifecycle_publisher(String, "managed_chatter", 10)
            return TransitionCallbackReturn.SUCCESS

        def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
            calls.append(("activate", state, threading.current_thread().name))
            if self.fail_activate:
                self.fail_activate = False
                return TransitionCallbackReturn.FAILURE
            return super().on_activate(state)

        def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
            raise RuntimeError("deactivate fails on purpose")

        def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
            calls.append(("error", state, threading.current_thread().name))
            return TransitionCallbackReturn.SUCCESS

    node = Managed("managed")
    assert node.trigger_activate() is TransitionCallbackReturn.ERROR  # not from unconfigured
    assert node.trigger_configure() is TransitionCallbackReturn.SUCCESS
    assert not node.pub.is_activated
    assert node.trigger_activate() is TransitionCallbackReturn.FAILURE  # back to inactive
    assert not node.pub.is_activated
    assert node.trigger_activate() is TransitionCallbackReturn.SUCCESS
    assert node.pub.is_activated
    # An exception is ERROR: on_error runs, SUCCESS leads to unconfigured.
    assert node.trigger_deactivate() is TransitionCallbackReturn.ERROR
    assert node.trigger_configure() is TransitionCallbackReturn.SUCCESS  # so it is unconfigured again
    assert node.trigger_shutdown() is TransitionCallbackReturn.SUCCESS
    assert [(name, state) for name, state, _ in calls] == [
        ("configure", LifecycleState("unconfigured", 1)),
        ("activate", LifecycleState("inactive", 2)),
        ("activate", LifecycleState("inactive", 2)),
        ("error", LifecycleState("active", 3)),
        ("configure", LifecycleState("unconfigured", 1)),
    ]
    # trigger_* run the callbacks on the calling thread, as rclpy does.
    assert {thread for _, _, thread in calls} == {threading.current_thread().name}


def test_change_state_runs_callbacks_on_the_executor_and_publishes_transition_events(
    rclpy_ours: Any,
) -> None:
    from lifecycle_msgs.msg import TransitionEvent
    from lifecycle_msgs.srv import ChangeState, GetState
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
    from rclpy.node import Node

    threads: list[str] = []

    class Talker(LifecycleNode):
        def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
            threads.append(threading.current_thread().name)
            return TransitionCallbackReturn.SUCCESS

    talker = Talker("events_talker")
    client_node = Node("events_client")
    events: list[tuple[str, str]] = []
    got_two = threading.Event()

    def on_event(event: Any) -> None:
        events.append((event.start_state.label, event.goal_state.label))
        if len(events) == 2:
            got_two.set()

    client_node.create_subscription(TransitionEvent, "events_talker/transition_event", on_event, 10)
    change = client_node.create_client(ChangeState, "events_talker/change_state")
    get = client_node.create_client(GetState, "events_talker/get_state")
    executor = SingleThreadedExecutor()
    executor.add_node(talker)
    executor.add_node(client_node)
    spinner = threading.Thread(target=executor.spin, name="the-spinner", daemon=True)
    spinner.start()
    try:
        assert change.wait_for_service(timeout_sec=20)
        request = ChangeState.Request()
        request.transition.label = "configure"
        assert change.call(request, timeout_sec=20).success
        assert get.call(GetState.Request(), timeout_sec=20).current_state.label == "inactive"
        assert got_two.wait(20)
    finally:
        executor.shutdown()
        spinner.join(timeout=10)
    assert threads == ["the-spinner"]
    assert events == [("unconfigured", "configuring"), ("configuring", "inactive")]
