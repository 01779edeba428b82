"""ROS 2 actions end to end: server and client nodes on the intra-process bus and on NATS.

Each test runs twice: both nodes on one ``IntraProcessTransport(inner=None)``, and each
node on its own ``NatsTransport`` (own connection, a fresh subject root per test) so every
goal, feedback and status message crosses the real broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from robotfleet_nodes.action import (
    ActionClient,
    ActionServer,
    CancelResponse,
    GoalResponse,
    GoalStatus,
    ServerGoalHandle,
)
from robotfleet_nodes.action._types import action_types, new_goal_id
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.qos import Durability, QoSProfile, Reliability
from robotfleet_nodes.transport._base import Transport
from robotfleet_nodes.transport.intra import IntraProcessTransport
from robotfleet_nodes.transport.nats import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

ACTIONS = Path(__file__).parent / "data" / "rfos_test_actions"
TIMEOUT = 5.0
#: How the tests watch the status topic: every publication, live. With the servers' own
#: QOS_ACTION_STATUS (keep last 1, transient local) a subscriber that falls behind on a busy
#: machine rightly sees only the latest status, as in ROS 2, and would miss transitions.
EVERY_STATUS = QoSProfile(depth=100, reliability=Reliability.RELIABLE, durability=Durability.VOLATILE)


@pytest.fixture(scope="module")
def fibonacci() -> Any:
    registry = default_registry()
    registry.load_package("rfos_test_actions", ACTIONS)
    # The test package stays loaded: resetting the process-wide registry would leave every
    # class generated so far (held by imported modules) foreign to the classes made after.
    return registry.get_interface("rfos_test_actions/action/Fibonacci")


@dataclass
class Pair:
    server_node: Node
    client_node: Node


@pytest.fixture(params=["intra", "nats"])
async def pair(request: pytest.FixtureRequest, unique: str) -> AsyncIterator[Pair]:
    transports: list[Transport]
    if request.param == "intra":
        transports = [IntraProcessTransport(inner=None)] * 2
    else:
        url = request.getfixturevalue("nats_url")
        transports = [NatsTransport(url, mapper=SubjectMapper(root=unique)) for _ in range(2)]
    contexts = [Context(transport=t) for t in transports]
    server_node = Node("fib_server", context=contexts[0])
    client_node = Node("fib_client", context=contexts[1])
    await server_node.start()
    await client_node.start()
    try:
        yield Pair(server_node, client_node)
    finally:
        for context in contexts:
            await context.close()
        for transport in dict.fromkeys(transports):
            await transport.close()


async def _wait(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), TIMEOUT)


async def _connect(
    pair: Pair, fibonacci: Any, execute: Any, **options: Any
) -> tuple[ActionServer, ActionClient]:
    server = await ActionServer.create(pair.server_node, fibonacci, "fibonacci", execute, **options)
    client = await ActionClient.create(pair.client_node, fibonacci, "fibonacci")
    assert await client.wait_for_server(timeout=TIMEOUT)
    return server, client


def _fibonacci_execute(fibonacci: Any) -> Any:
    async def execute(goal: ServerGoalHandle) -> Any:
        sequence = [0, 1]
        for i in range(1, goal.request.order):
            sequence.append(sequence[i] + sequence[i - 1])
            await goal.publish_feedback(fibonacci.Feedback(partial_sequence=sequence))
        goal.succeed()
        return fibonacci.Result(sequence=sequence)

    return execute


async def test_goal_succeeds_with_feedback_in_order(pair: Pair, fibonacci: Any) -> None:
    server, client = await _connect(pair, fibonacci, _fibonacci_execute(fibonacci))
    received: list[list[int]] = []
    all_feedback = asyncio.Event()

    def on_feedback(message: Any) -> None:
        received.append(list(message.feedback.partial_sequence))
        if len(received) == 5:
            all_feedback.set()

    handle = await client.send_goal(fibonacci.Goal(order=6), feedback_callback=on_feedback, timeout=TIMEOUT)
    assert handle.accepted
    response = await handle.get_result(timeout=TIMEOUT)
    assert response.status == GoalStatus.SUCCEEDED
    assert response.result.sequence.tolist() == [0, 1, 1, 2, 3, 5, 8]
    await _wait(all_feedback)
    assert received == [[0, 1, 1], [0, 1, 1, 2], [0, 1, 1, 2, 3], [0, 1, 1, 2, 3, 5], [0, 1, 1, 2, 3, 5, 8]]
    assert handle.status is GoalStatus.SUCCEEDED
    assert await handle.get_result() is response  # cached
    await client.destroy()
    await server.destroy()


async def test_goal_rejected_by_goal_callback(pair: Pair, fibonacci: Any) -> None:
    executed = asyncio.Event()

    def execute(goal: ServerGoalHandle) -> Any:
        executed.set()
        goal.succeed()
        return fibonacci.Result()

    def goal_callback(goal: Any) -> GoalResponse:
        return GoalResponse.REJECT if goal.order > 40 else GoalResponse.ACCEPT

    server, client = await _connect(pair, fibonacci, execute, goal_callback=goal_callback)
    handle = await client.send_goal(fibonacci.Goal(order=41), timeout=TIMEOUT)
    assert not handle.accepted
    response = await handle.get_result(timeout=TIMEOUT)
    assert response.status == GoalStatus.UNKNOWN
    assert not executed.is_set()
    assert server.goal_handles == []
    await server.destroy()


async def test_cancel_while_executing(pair: Pair, fibonacci: Any) -> None:
    started = asyncio.Event()
    cancel_requested = asyncio.Event()
    seen: list[bool] = []

    async def execute(goal: ServerGoalHandle) -> Any:
        await goal.publish_feedback(fibonacci.Feedback(partial_sequence=[0, 1]))
        started.set()
        await _wait(cancel_requested)
        seen.append(goal.is_cancel_requested)
        goal.canceled()
        return fibonacci.Result(sequence=[0, 1])

    def cancel_callback(goal: ServerGoalHandle) -> CancelResponse:
        cancel_requested.set()
        return CancelResponse.ACCEPT

    server, client = await _connect(pair, fibonacci, execute, cancel_callback=cancel_callback)
    handle = await client.send_goal(fibonacci.Goal(order=10), timeout=TIMEOUT)
    await _wait(started)
    cancel = await handle.cancel_goal(timeout=TIMEOUT)
    assert cancel.return_code == cancel.ERROR_NONE
    assert [bytes(g.goal_id.uuid) for g in cancel.goals_canceling] == [bytes(handle.goal_id.uuid)]
    response = await handle.get_result(timeout=TIMEOUT)
    assert response.status == GoalStatus.CANCELED
    assert response.result.sequence.tolist() == [0, 1]
    assert seen == [True]
    # The goal is over: cancelling it again says so.
    again = await handle.cancel_goal(timeout=TIMEOUT)
    assert again.return_code == again.ERROR_GOAL_TERMINATED
    await server.destroy()


async def test_cancel_rejected_by_default(pair: Pair, fibonacci: Any) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def execute(goal: ServerGoalHandle) -> Any:
        started.set()
        await _wait(release)
        goal.succeed()
        return fibonacci.Result(sequence=[1])

    server, client = await _connect(pair, fibonacci, execute)
    handle = await client.send_goal(fibonacci.Goal(order=1), timeout=TIMEOUT)
    await _wait(started)
    cancel = await handle.cancel_goal(timeout=TIMEOUT)
    assert cancel.return_code == cancel.ERROR_REJECTED
    assert cancel.goals_canceling == []
    release.set()
    response = await handle.get_result(timeout=TIMEOUT)
    assert response.status == GoalStatus.SUCCEEDED
    await server.destroy()


async def test_execute_raising_aborts_the_goal(
    pair: Pair, fibonacci: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def execute(goal: ServerGoalHandle) -> Any:
        raise RuntimeError("motor stalled")

    server, client = await _connect(pair, fibonacci, execute)
    with caplog.at_level(logging.ERROR, logger="robotfleet_nodes.action.server"):
        handle = await client.send_goal(fibonacci.Goal(order=3), timeout=TIMEOUT)
        response = await handle.get_result(timeout=TIMEOUT)
    assert response.status == GoalStatus.ABORTED
    assert response.result.sequence.tolist() == []
    assert any("execute callback raised" in r.getMessage() and r.exc_info for r in caplog.records)
    await server.destroy()


async def test_goal_left_active_is_aborted(pair: Pair, fibonacci: Any) -> None:
    def execute(goal: ServerGoalHandle) -> Any:  # sync callbacks are allowed
        return fibonacci.Result(sequence=[7])

    server, client = await _connect(pair, fibonacci, execute)
    handle = await client.send_goal(fibonacci.Goal(order=3), timeout=TIMEOUT)
    response = await handle.get_result(timeout=TIMEOUT)
    assert response.status == GoalStatus.ABORTED
    assert response.result.sequence.tolist() == [7]
    await server.destroy()


async def test_unknown_goal(pair: Pair, fibonacci: Any) -> None:
    server, _client = await _connect(pair, fibonacci, _fibonacci_execute(fibonacci))
    types = action_types(fibonacci)
    unknown = types.uuid(uuid=new_goal_id())
    get_result = await pair.client_node.create_client(types.get_result, "fibonacci/_action/get_result")
    response = await get_result.call(types.get_result.Request(goal_id=unknown), timeout=TIMEOUT)
    assert response.status == GoalStatus.UNKNOWN
    cancel_goal = await pair.client_node.create_client(types.cancel_goal, "fibonacci/_action/cancel_goal")
    request = types.cancel_goal.Request(goal_info=types.goal_info(goal_id=unknown))
    cancel = await cancel_goal.call(request, timeout=TIMEOUT)
    assert cancel.return_code == cancel.ERROR_UNKNOWN_GOAL_ID
    await server.destroy()


async def test_status_topic_shows_transitions(pair: Pair, fibonacci: Any) -> None:
    types = action_types(fibonacci)
    gate = asyncio.Event()
    done = asyncio.Event()
    statuses: dict[bytes, list[int]] = {}

    async def execute(goal: ServerGoalHandle) -> Any:
        await _wait(gate)
        goal.succeed()
        return fibonacci.Result(sequence=[0])

    def on_status(message: Any) -> None:
        for status in message.status_list:
            seen = statuses.setdefault(bytes(status.goal_info.goal_id.uuid), [])
            if not seen or seen[-1] != status.status:
                seen.append(status.status)
            if status.status == GoalStatus.SUCCEEDED:
                done.set()

    await pair.client_node.create_subscription(
        types.goal_status_array, "fibonacci/_action/status", on_status, EVERY_STATUS
    )
    server, client = await _connect(pair, fibonacci, execute)
    handle = await client.send_goal(fibonacci.Goal(order=1), timeout=TIMEOUT)
    assert await handle.wait_for_status(GoalStatus.EXECUTING, timeout=TIMEOUT)
    gate.set()
    await _wait(done)
    assert statuses[bytes(handle.goal_id.uuid)] == [
        GoalStatus.ACCEPTED,
        GoalStatus.EXECUTING,
        GoalStatus.SUCCEEDED,
    ]
    assert await handle.wait_for_status(GoalStatus.SUCCEEDED, timeout=TIMEOUT)
    await server.destroy()


async def test_two_goals_concurrently(pair: Pair, fibonacci: Any) -> None:
    gates = {1: asyncio.Event(), 2: asyncio.Event()}
    running: set[int] = set()
    both_running = asyncio.Event()

    async def execute(goal: ServerGoalHandle) -> Any:
        order = goal.request.order
        running.add(order)
        if len(running) == 2:
            both_running.set()
        await _wait(gates[order])
        goal.succeed()
        return fibonacci.Result(sequence=[order])

    server, client = await _connect(pair, fibonacci, execute)
    first = await client.send_goal(fibonacci.Goal(order=1), timeout=TIMEOUT)
    second = await client.send_goal(fibonacci.Goal(order=2), timeout=TIMEOUT)
    assert first.goal_id != second.goal_id
    await _wait(both_running)
    first_result = asyncio.ensure_future(first.get_result(timeout=TIMEOUT))
    # The second goal finishes while the first still runs.
    gates[2].set()
    assert (await second.get_result(timeout=TIMEOUT)).result.sequence.tolist() == [2]
    assert not first_result.done()
    gates[1].set()
    assert (await first_result).result.sequence.tolist() == [1]
    await server.destroy()


async def test_result_expires(pair: Pair, fibonacci: Any) -> None:
    types = action_types(fibonacci)
    finished = asyncio.Event()
    expired = asyncio.Event()

    async def execute(goal: ServerGoalHandle) -> Any:
        goal.succeed()
        return fibonacci.Result(sequence=[1])

    def on_status(message: Any) -> None:
        if any(s.status == GoalStatus.SUCCEEDED for s in message.status_list):
            finished.set()
        elif finished.is_set() and not message.status_list:
            expired.set()

    await pair.client_node.create_subscription(
        types.goal_status_array, "fibonacci/_action/status", on_status, EVERY_STATUS
    )
    server, client = await _connect(pair, fibonacci, execute, result_timeout=0.0)
    handle = await client.send_goal(fibonacci.Goal(order=1), timeout=TIMEOUT)
    await _wait(expired)
    assert server.goal_handles == []
    assert (await handle.get_result(timeout=TIMEOUT)).status == GoalStatus.UNKNOWN
    await server.destroy()


async def test_wrong_goal_type_is_refused(pair: Pair, fibonacci: Any) -> None:
    server, client = await _connect(pair, fibonacci, _fibonacci_execute(fibonacci))
    with pytest.raises(TypeError, match="Expected rfos_test_actions/action/Fibonacci_Goal"):
        await client.send_goal(fibonacci.Result(), timeout=TIMEOUT)
    await server.destroy()


async def test_deferred_execution(pair: Pair, fibonacci: Any) -> None:
    accepted: list[ServerGoalHandle] = []
    queued = asyncio.Event()

    def handle_accepted(goal: ServerGoalHandle) -> None:
        accepted.append(goal)
        queued.set()

    server, client = await _connect(
        pair, fibonacci, _fibonacci_execute(fibonacci), handle_accepted_callback=handle_accepted
    )
    handle = await client.send_goal(fibonacci.Goal(order=2), timeout=TIMEOUT)
    await _wait(queued)
    assert accepted[0].status is GoalStatus.ACCEPTED
    assert bytes(accepted[0].goal_id.uuid) == bytes(handle.goal_id.uuid)
    accepted[0].execute()
    response = await handle.get_result(timeout=TIMEOUT)
    assert response.status == GoalStatus.SUCCEEDED
    assert response.result.sequence.tolist() == [0, 1, 1]
    await server.destroy()


async def test_destroying_the_server_aborts_running_goals(pair: Pair, fibonacci: Any) -> None:
    started = asyncio.Event()

    async def execute(goal: ServerGoalHandle) -> Any:
        started.set()
        await asyncio.Event().wait()  # runs until cancelled

    server, client = await _connect(pair, fibonacci, execute)
    handle = await client.send_goal(fibonacci.Goal(order=2), timeout=TIMEOUT)
    await _wait(started)
    await server.destroy()
    assert await handle.wait_for_status(GoalStatus.ABORTED, timeout=TIMEOUT)
    await server.destroy()  # idempotent


def test_action_types_match_rosidl(fibonacci: Any) -> None:
    types = action_types(fibonacci)
    assert types.send_goal.__ros_type__ == "rfos_test_actions/action/Fibonacci_SendGoal"
    assert list(types.send_goal.Request.model_fields) == ["goal_id", "goal"]
    assert list(types.send_goal.Response.model_fields) == ["accepted", "stamp"]
    assert types.get_result.__ros_type__ == "rfos_test_actions/action/Fibonacci_GetResult"
    assert list(types.get_result.Request.model_fields) == ["goal_id"]
    assert list(types.get_result.Response.model_fields) == ["status", "result"]
    assert types.feedback_message.__ros_type__ == "rfos_test_actions/action/Fibonacci_FeedbackMessage"
    assert list(types.feedback_message.model_fields) == ["goal_id", "feedback"]
    assert types.cancel_goal.__ros_type__ == "action_msgs/srv/CancelGoal"
    assert getattr(types.cancel_goal.Response, "ERROR_GOAL_TERMINATED") == 3  # noqa: B009
    assert action_types(fibonacci) is types


def test_action_module_forwards_to_the_registry() -> None:
    import robotfleet_nodes.action as action_module

    with pytest.raises(AttributeError, match="NoSuchAction"):
        _ = action_module.NoSuchAction
