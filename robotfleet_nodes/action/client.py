"""``ActionClient``: sends goals to an action server and follows them, like rclpy's.

One client owns three service clients (``<name>/_action/send_goal``, ``cancel_goal``,
``get_result``) and two subscriptions (``feedback``, ``status``) shared by all its goals;
feedback and status are dispatched to the right :class:`ClientGoalHandle` by goal id::

    client = await ActionClient.create(node, Fibonacci, "fibonacci")
    if not await client.wait_for_server(timeout=5.0):
        raise RuntimeError("no fibonacci server")
    handle = await client.send_goal(Fibonacci.Goal(order=5), feedback_callback=on_feedback)
    if handle.accepted:
        response = await handle.get_result()  # .status (GoalStatus) and .result
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from robotfleet_nodes._callbacks import call_maybe_async
from robotfleet_nodes.action._status import TERMINAL_STATES, GoalStatus
from robotfleet_nodes.action._types import ActionTypes, action_types, goal_id_bytes, new_goal_id
from robotfleet_nodes.action.server import QOS_ACTION_STATUS
from robotfleet_nodes.qos import QOS_DEFAULT, QoSProfile

if TYPE_CHECKING:
    from robotfleet_nodes.node.node import Node
    from robotfleet_nodes.node.service import Client
    from robotfleet_nodes.node.subscription import Subscription

__all__ = ["ActionClient", "ClientGoalHandle"]

log = logging.getLogger(__name__)

#: Default seconds to wait for the server to answer ``send_goal`` / ``cancel_goal``.
DEFAULT_TIMEOUT = 5.0
# get_result answers when the goal ends, however long that takes: "no timeout".
_NO_TIMEOUT = 365 * 24 * 3600.0

FeedbackCallback = Callable[[Any], Any]


class ClientGoalHandle:
    """A goal sent by an :class:`ActionClient`: whether it was accepted, its state, its result."""

    def __init__(
        self,
        client: ActionClient,
        goal_id: Any,
        feedback_callback: FeedbackCallback | None,
    ) -> None:
        self._client = client
        self._goal_id = goal_id
        self._key = goal_id_bytes(goal_id)
        self._feedback_callback = feedback_callback
        self._accepted = False
        self._stamp: Any = None
        self._status = GoalStatus.UNKNOWN
        self._result: Any = None
        self._result_task: asyncio.Task[Any] | None = None
        self._status_changed = asyncio.Event()
        self._in_status = False  # seen in a status array of the server
        self._finished = asyncio.Event()  # terminal, or gone from the status (expired)

    @property
    def goal_id(self) -> Any:
        """The goal's ``unique_identifier_msgs/UUID``."""
        return self._goal_id

    @property
    def accepted(self) -> bool:
        """Whether the server accepted the goal."""
        return self._accepted

    @property
    def stamp(self) -> Any:
        """When the server accepted (or rejected) the goal (``builtin_interfaces/Time``)."""
        return self._stamp

    @property
    def status(self) -> GoalStatus:
        """The latest state seen on the status topic (or in the result); UNKNOWN before any."""
        return self._status

    async def get_result(self, *, timeout: float | None = None) -> Any:
        """Wait for the goal to finish; returns ``Name_GetResult.Response`` (``.status``, ``.result``).

        The request is sent once the status topic shows the goal finished (the server then
        answers at once); several callers share it. ``timeout`` (seconds; ``None``: as long
        as the goal runs) raises ``TimeoutError`` without abandoning the request. A goal the
        server does not know (rejected, or its result expired) gives status ``UNKNOWN``.
        """
        if self._result is not None:
            return self._result
        task = self._result_task
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = self._result_task = asyncio.ensure_future(self._client._fetch_result(self))
        shielded = asyncio.shield(task)
        if timeout is None:
            return await shielded
        return await asyncio.wait_for(shielded, timeout)

    async def cancel_goal(self, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Ask the server to cancel this goal; returns ``action_msgs/srv/CancelGoal.Response``."""
        return await self._client._cancel(self._goal_id, timeout=timeout)

    async def wait_for_status(self, *statuses: GoalStatus, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """True once the goal is in one of ``statuses``; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self._status not in statuses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._status_changed.clear()
            try:
                await asyncio.wait_for(self._status_changed.wait(), remaining)
            except TimeoutError:
                return self._status in statuses
        return True

    def _set_status(self, status: GoalStatus) -> None:
        if self._status in TERMINAL_STATES:
            return  # terminal is final; a late status message cannot undo it
        self._status = status
        self._status_changed.set()
        if status in TERMINAL_STATES:
            self._finished.set()

    async def _on_feedback(self, message: Any) -> None:
        if self._feedback_callback is not None:
            try:
                await call_maybe_async(self._feedback_callback, message)
            except Exception:
                log.exception("feedback callback raised for goal %s", self._key.hex())

    def __repr__(self) -> str:
        return (
            f"ClientGoalHandle(goal_id={self._key.hex()}, accepted={self._accepted}, "
            f"status={self._status.name})"
        )


class ActionClient:
    """Client of one action. Build with ``await ActionClient.create(node, ActionType, name)``."""

    def __init__(
        self,
        node: Node,
        action_type: type[Any],
        action_name: str,
        *,
        feedback_qos: QoSProfile = QOS_DEFAULT,
        status_qos: QoSProfile = QOS_ACTION_STATUS,
    ) -> None:
        """Prefer :meth:`create`; a client built directly is unusable until :meth:`start`."""
        self.node = node
        self.action_name = action_name
        self.types: ActionTypes = action_types(action_type)
        self._feedback_qos = feedback_qos
        self._status_qos = status_qos
        self._handles: dict[bytes, ClientGoalHandle] = {}
        self._send_goal: Client[Any] | None = None
        self._cancel_goal: Client[Any] | None = None
        self._get_result: Client[Any] | None = None
        self._subscriptions: list[Subscription[Any]] = []
        self._destroyed = False

    @classmethod
    async def create(
        cls,
        node: Node,
        action_type: type[Any],
        action_name: str,
        *,
        feedback_qos: QoSProfile = QOS_DEFAULT,
        status_qos: QoSProfile = QOS_ACTION_STATUS,
    ) -> ActionClient:
        """Create the client's service clients and subscriptions on ``node`` (a started node)."""
        client = cls(node, action_type, action_name, feedback_qos=feedback_qos, status_qos=status_qos)
        await client.start()
        return client

    async def start(self) -> None:
        """Create the service clients and subscriptions (done by :meth:`create`)."""
        t, name, node = self.types, self.action_name, self.node
        try:
            self._send_goal = await node.create_client(t.send_goal, f"{name}/_action/send_goal")
            self._cancel_goal = await node.create_client(t.cancel_goal, f"{name}/_action/cancel_goal")
            self._get_result = await node.create_client(t.get_result, f"{name}/_action/get_result")
            self._subscriptions.append(
                await node.create_subscription(
                    t.feedback_message, f"{name}/_action/feedback", self._on_feedback, self._feedback_qos
                )
            )
            self._subscriptions.append(
                await node.create_subscription(
                    t.goal_status_array, f"{name}/_action/status", self._on_status, self._status_qos
                )
            )
        except BaseException:
            await self.destroy()
            raise

    def _clients(self) -> tuple[Client[Any], Client[Any], Client[Any]]:
        if self._send_goal is None or self._cancel_goal is None or self._get_result is None:
            raise RuntimeError(
                f"action client {self.action_name} is not started or destroyed: "
                "use `await ActionClient.create(...)`"
            )
        return self._send_goal, self._cancel_goal, self._get_result

    async def wait_for_server(self, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """True once the server's three services answer; False after ``timeout`` seconds."""
        results = await asyncio.gather(*(c.wait_for_service(timeout=timeout) for c in self._clients()))
        return all(results)

    async def send_goal(
        self,
        goal: Any,
        *,
        feedback_callback: FeedbackCallback | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        goal_id: Any | None = None,
    ) -> ClientGoalHandle:
        """Send ``goal`` (a ``Name.Goal``); returns its handle once the server accepted or rejected it.

        ``feedback_callback(feedback_message)`` (sync or async) gets each
        ``Name_FeedbackMessage`` of this goal (``.feedback`` is the ``Name.Feedback``).
        Raises ``TypeError`` for another goal type, ``ServiceUnavailable`` without a server,
        ``ServiceTimeout`` if it does not answer within ``timeout`` seconds. ``goal_id`` (a
        ``unique_identifier_msgs/UUID``) defaults to a random one.
        """
        expected = self.types.action.Goal
        if not isinstance(goal, expected):
            got = getattr(type(goal), "__ros_type__", type(goal).__name__)
            raise TypeError(f"Expected {expected.__ros_type__}, got {got}")
        send_goal = self._clients()[0]
        if goal_id is None:
            goal_id = self.types.uuid(uuid=new_goal_id())
        handle = ClientGoalHandle(self, goal_id, feedback_callback)
        # Registered before the request: feedback may overtake the response.
        self._handles[handle._key] = handle
        try:
            response = await send_goal.call(
                self.types.send_goal.Request(goal_id=goal_id, goal=goal), timeout=timeout
            )
        except BaseException:
            self._handles.pop(handle._key, None)
            raise
        handle._accepted = bool(response.accepted)
        handle._stamp = response.stamp
        if handle._accepted:
            if handle._status is GoalStatus.UNKNOWN:
                handle._set_status(GoalStatus.ACCEPTED)
        else:
            self._handles.pop(handle._key, None)
        return handle

    async def _fetch_result(self, handle: ClientGoalHandle) -> Any:
        get_result = self._clients()[2]
        if handle._accepted:
            # Ask once the status topic says the goal is over, so the request never sits in
            # the server waiting: a transport that runs one service's requests one at a time
            # would make it hold up every other goal's result behind it.
            await handle._finished.wait()
        response = await get_result.call(
            self.types.get_result.Request(goal_id=handle.goal_id), timeout=_NO_TIMEOUT
        )
        handle._result = response
        try:
            status = GoalStatus(response.status)
        except ValueError:
            status = GoalStatus.UNKNOWN
        if status is not GoalStatus.UNKNOWN:
            handle._set_status(status)
        self._handles.pop(handle._key, None)
        return response

    async def _cancel(self, goal_id: Any, *, timeout: float) -> Any:
        cancel_goal = self._clients()[1]
        request = self.types.cancel_goal.Request(goal_info=self.types.goal_info(goal_id=goal_id))
        return await cancel_goal.call(request, timeout=timeout)

    async def _on_feedback(self, message: Any) -> None:
        handle = self._handles.get(goal_id_bytes(message.goal_id))
        if handle is not None:
            await handle._on_feedback(message)

    def _on_status(self, message: Any) -> None:
        listed: set[bytes] = set()
        for goal_status in message.status_list:
            key = goal_id_bytes(goal_status.goal_info.goal_id)
            listed.add(key)
            handle = self._handles.get(key)
            if handle is not None:
                handle._in_status = True
                try:
                    handle._set_status(GoalStatus(goal_status.status))
                except ValueError:
                    log.warning("%s: unknown goal status %r ignored", self.action_name, goal_status.status)
        for key, handle in self._handles.items():
            if handle._in_status and key not in listed:
                handle._finished.set()  # its result expired before we saw it end

    async def destroy(self) -> None:
        """Destroy the service clients and subscriptions; pending results are cancelled; idempotent."""
        if self._destroyed:
            return
        self._destroyed = True
        tasks = [h._result_task for h in self._handles.values() if h._result_task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._handles.clear()
        for client in (self._send_goal, self._cancel_goal, self._get_result):
            if client is not None:
                await client.destroy()
        self._send_goal = self._cancel_goal = self._get_result = None
        for sub in self._subscriptions:
            await sub.destroy()
        self._subscriptions.clear()

    def describe(self) -> dict[str, Any]:
        """The client as plain data (for introspection)."""
        return {
            "name": self.node.resolve_name(self.action_name),
            "type": self.types.action.__ros_type__,
            "goals": [{"goal_id": h._key.hex(), "status": h.status.name} for h in self._handles.values()],
        }
