"""Lifecycle nodes: ROS 2's state machine, lifecycle publishers and the lifecycle services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from robotfleet_nodes.errors import LifecycleError
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.lifecycle import (
    LifecycleNode,
    LifecycleState,
    TransitionCallbackReturn,
    TransitionId,
)
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.parameters import interface_class
from robotfleet_nodes.transport.intra import IntraProcessTransport
from robotfleet_nodes.transport.nats import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

S = LifecycleState
R = TransitionCallbackReturn
TIMEOUT = 5.0


class Managed(LifecycleNode):
    """Records every callback; ``results`` scripts what a callback returns (or raises)."""

    def __init__(self, name: str, *, context: Context) -> None:
        super().__init__(name, context=context)
        self.calls: list[tuple[str, LifecycleState]] = []
        self.results: dict[str, Any] = {}

    def _record(self, name: str, state: LifecycleState) -> Any:
        self.calls.append((name, state))
        result = self.results.pop(name, R.SUCCESS)
        if isinstance(result, Exception):
            raise result
        return result

    def on_configure(self, state: LifecycleState) -> Any:
        return self._record("configure", state)

    async def on_activate(self, state: LifecycleState) -> Any:  # async callbacks work too
        await asyncio.sleep(0)
        return self._record("activate", state)

    def on_deactivate(self, state: LifecycleState) -> Any:
        return self._record("deactivate", state)

    def on_cleanup(self, state: LifecycleState) -> Any:
        return self._record("cleanup", state)

    def on_shutdown(self, state: LifecycleState) -> Any:
        return self._record("shutdown", state)

    def on_error(self, state: LifecycleState) -> Any:
        return self._record("error", state)


def state_of(node: LifecycleNode) -> LifecycleState:
    return node.current_state


@contextlib.asynccontextmanager
async def intra_context() -> AsyncIterator[Context]:
    transport = IntraProcessTransport(inner=None)
    try:
        async with Context(transport=transport) as context:
            yield context
    finally:
        await transport.close()


@contextlib.asynccontextmanager
async def nats_context(url: str, root: str) -> AsyncIterator[Context]:
    transport = NatsTransport(url, mapper=SubjectMapper(root=root))
    try:
        async with Context(transport=transport) as context:
            yield context
    finally:
        await transport.close()


@pytest.fixture
async def ctx() -> AsyncIterator[Context]:
    async with intra_context() as context:
        yield context


@pytest.fixture
async def node(ctx: Context) -> Managed:
    managed = Managed("managed", context=ctx)
    await managed.start()
    return managed


async def test_full_walk_locally_with_transition_events(ctx: Context, node: Managed) -> None:
    events: asyncio.Queue[Any] = asyncio.Queue()
    watcher = Node("watcher", context=ctx)
    await watcher.start()
    event_cls = interface_class("lifecycle_msgs/msg/TransitionEvent")
    await watcher.create_subscription(event_cls, "/managed/transition_event", events.put_nowait)

    assert state_of(node) is S.UNCONFIGURED
    assert await node.trigger_configure() is R.SUCCESS
    assert state_of(node) is S.INACTIVE
    await node.trigger_activate()
    assert state_of(node) is S.ACTIVE
    await node.trigger_deactivate()
    await node.trigger_cleanup()
    assert state_of(node) is S.UNCONFIGURED
    await node.trigger_configure()
    await node.trigger_activate()
    await node.trigger_shutdown()
    assert state_of(node) is S.FINALIZED
    assert node.calls == [
        ("configure", S.UNCONFIGURED),
        ("activate", S.INACTIVE),
        ("deactivate", S.ACTIVE),
        ("cleanup", S.INACTIVE),
        ("configure", S.UNCONFIGURED),
        ("activate", S.INACTIVE),
        ("shutdown", S.ACTIVE),
    ]
    seen = [await asyncio.wait_for(events.get(), TIMEOUT) for _ in range(14)]  # two per transition
    assert [(e.start_state.label, e.goal_state.label) for e in seen[:4]] == [
        ("unconfigured", "configuring"),
        ("configuring", "inactive"),
        ("inactive", "activating"),
        ("activating", "active"),
    ]
    assert [(e.transition.id, e.transition.label) for e in seen[:2]] == [
        (1, "configure"),
        (10, "transition_success"),
    ]
    assert (seen[-2].transition.id, seen[-1].goal_state.id) == (TransitionId.ACTIVE_SHUTDOWN, S.FINALIZED)


async def test_failure_returns_to_the_previous_state(node: Managed) -> None:
    node.results["configure"] = R.FAILURE
    assert await node.trigger_configure() is R.FAILURE
    assert state_of(node) is S.UNCONFIGURED
    await node.trigger_configure()
    node.results["activate"] = R.FAILURE
    await node.trigger_activate()
    assert state_of(node) is S.INACTIVE
    await node.trigger_activate()
    node.results["deactivate"] = R.FAILURE
    await node.trigger_deactivate()
    assert state_of(node) is S.ACTIVE


async def test_error_goes_through_error_processing(node: Managed) -> None:
    node.results["configure"] = R.ERROR
    assert await node.trigger_configure() is R.ERROR
    assert state_of(node) is S.UNCONFIGURED  # on_error succeeded
    assert node.calls[-1] == ("error", S.UNCONFIGURED)
    node.results["configure"] = RuntimeError("boom")  # an exception counts as ERROR
    node.results["error"] = R.FAILURE
    assert await node.trigger_configure() is R.ERROR
    assert state_of(node) is S.FINALIZED


async def test_invalid_transitions_raise(node: Managed) -> None:
    with pytest.raises(
        LifecycleError, match=r"cannot 'activate' .* from state 'unconfigured'; allowed now: configure"
    ):
        await node.trigger_activate()
    with pytest.raises(LifecycleError, match="unknown transition id 77"):
        await node.trigger_transition(77)
    await node.trigger_shutdown()
    with pytest.raises(LifecycleError, match="allowed now: none"):
        await node.trigger_configure()
    assert isinstance(LifecycleError("x"), RuntimeError)


async def test_lifecycle_publisher_only_publishes_when_active(
    ctx: Context, node: Managed, caplog: pytest.LogCaptureFixture
) -> None:
    string_cls = interface_class("std_msgs/msg/String")
    received: asyncio.Queue[Any] = asyncio.Queue()
    listener = Node("listener", context=ctx)
    await listener.start()
    await listener.create_subscription(string_cls, "/chatter", received.put_nowait)
    pub = await node.create_lifecycle_publisher(string_cls, "/chatter")
    with caplog.at_level(logging.WARNING, logger="robotfleet_nodes.node.lifecycle"):
        await pub.publish(string_cls(data="dropped 1"))
        await pub.publish(string_cls(data="dropped 2"))
    warnings = [r for r in caplog.records if "not activated" in r.getMessage()]
    assert len(warnings) == 1
    assert "'/chatter'" in warnings[0].getMessage()
    assert pub.dropped == 2
    await node.trigger_configure()
    await node.trigger_activate()
    assert pub.is_activated
    await pub.publish(string_cls(data="hello"))
    assert (await asyncio.wait_for(received.get(), TIMEOUT)).data == "hello"
    await node.trigger_deactivate()
    await pub.publish(string_cls(data="dropped 3"))
    assert pub.dropped == 3
    await node.trigger_activate()
    await pub.publish(string_cls(data="again"))
    assert (await asyncio.wait_for(received.get(), TIMEOUT)).data == "again"  # nothing dropped came through


async def test_remote_walk_through_change_state(nats_url: str, unique: str) -> None:
    async with nats_context(nats_url, unique) as server_ctx, nats_context(nats_url, unique) as client_ctx:
        managed = Managed("managed", context=server_ctx)
        await managed.start()
        tool = Node("lifecycle_tool", context=client_ctx)
        await tool.start()
        change_cls = interface_class("lifecycle_msgs/srv/ChangeState")
        transition_cls = interface_class("lifecycle_msgs/msg/Transition")
        change = await tool.create_client(change_cls, "/managed/change_state")
        get_state_cls = interface_class("lifecycle_msgs/srv/GetState")
        get_state = await tool.create_client(get_state_cls, "/managed/get_state")
        transitions_cls = interface_class("lifecycle_msgs/srv/GetAvailableTransitions")
        transitions = await tool.create_client(transitions_cls, "/managed/get_available_transitions")
        states_cls = interface_class("lifecycle_msgs/srv/GetAvailableStates")
        states = await tool.create_client(states_cls, "/managed/get_available_states")
        graph = await tool.create_client(transitions_cls, "/managed/get_transition_graph")
        for client in (change, get_state, transitions, states, graph):
            assert await client.wait_for_service(timeout=TIMEOUT)

        async def request(transition_id: int = 0, label: str = "") -> bool:
            req = change_cls.Request(transition=transition_cls(id=transition_id, label=label))
            return bool((await change.call(req, timeout=TIMEOUT)).success)

        async def state() -> tuple[int, str]:
            current = (await get_state.call(get_state_cls.Request(), timeout=TIMEOUT)).current_state
            return current.id, current.label

        assert await state() == (1, "unconfigured")
        available = await transitions.call(transitions_cls.Request(), timeout=TIMEOUT)
        assert [(t.transition.label, t.goal_state.label) for t in available.available_transitions] == [
            ("configure", "configuring"),
            ("shutdown", "shuttingdown"),
        ]
        all_states = await states.call(states_cls.Request(), timeout=TIMEOUT)
        assert [s.id for s in all_states.available_states] == [1, 2, 3, 4, 10, 11, 12, 13, 14, 15]
        assert len((await graph.call(transitions_cls.Request(), timeout=TIMEOUT)).available_transitions) == 25

        assert not await request(TransitionId.ACTIVATE)  # invalid from unconfigured
        assert await state() == (1, "unconfigured")
        walk = [
            (TransitionId.CONFIGURE, (2, "inactive")),
            (TransitionId.ACTIVATE, (3, "active")),
            (TransitionId.DEACTIVATE, (2, "inactive")),
            (TransitionId.CLEANUP, (1, "unconfigured")),
            (TransitionId.CONFIGURE, (2, "inactive")),
            (TransitionId.INACTIVE_SHUTDOWN, (4, "finalized")),
        ]
        for transition, expected in walk:
            assert await request(transition), transition
            assert await state() == expected
        assert not await request(label="configure")  # nothing is allowed from finalized

        again = Managed("again", context=server_ctx)
        await again.start()
        by_label = await tool.create_client(change_cls, "/again/change_state")
        assert await by_label.wait_for_service(timeout=TIMEOUT)
        req = change_cls.Request(transition=transition_cls(label="configure"))
        assert (await by_label.call(req, timeout=TIMEOUT)).success
        assert state_of(again) is S.INACTIVE
        again.results["activate"] = R.FAILURE
        req = change_cls.Request(transition=transition_cls(label="activate"))
        assert not (await by_label.call(req, timeout=TIMEOUT)).success  # callback failure -> False
        assert state_of(again) is S.INACTIVE
