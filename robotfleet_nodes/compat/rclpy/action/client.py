"""``rclpy.action.client``: an action client whose futures complete on executors.

The protocol is our asyncio :class:`robotfleet_nodes.action.ActionClient`. Each ``*_async``
method returns an rclpy :class:`~rclpy.task.Future` that an executor spinning the node
completes (its done callbacks run there); feedback callbacks run on the executor too, in
the client's callback group. The blocking ``send_goal``, ``get_result`` and
``cancel_goal`` need another thread to spin the node, as in rclpy.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from robotfleet_nodes.action import QOS_ACTION_STATUS
from robotfleet_nodes.action import ActionClient as _CoreActionClient
from robotfleet_nodes.action import ClientGoalHandle as _CoreGoalHandle
from robotfleet_nodes.qos import QoSProfile

from .. import _core
from .._interfaces import refuse_rosidl
from ..callback_groups import CallbackGroup
from ..node import Node
from ..qos import qos_profile_services_default
from ..task import Future
from ._bridge import WorkQueue, wait_done

__all__ = ["ActionClient", "ClientGoalHandle"]

#: rclpy never times a goal, cancel or result request out.
_NO_TIMEOUT = 365 * 24 * 3600.0


class ClientGoalHandle:
    """A goal sent by an :class:`ActionClient` (like ``rclpy.action.client.ClientGoalHandle``)."""

    def __init__(self, client: ActionClient, core: _CoreGoalHandle) -> None:
        self._client = client
        self._core = core

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClientGoalHandle) and self.goal_id == other.goal_id

    def __hash__(self) -> int:
        return hash(bytes(self.goal_id.uuid))

    def __repr__(self) -> str:
        return f"ClientGoalHandle <id={self.goal_id.uuid}, accepted={self.accepted}, status={self.status}>"

    @property
    def goal_id(self) -> Any:
        return self._core.goal_id

    @property
    def stamp(self) -> Any:
        return self._core.stamp

    @property
    def accepted(self) -> bool:
        return self._core.accepted

    @property
    def status(self) -> int:
        """The latest ``GoalStatus.STATUS_*`` seen for the goal."""
        return int(self._core.status)

    def cancel_goal_async(self) -> Future:
        """Ask the server to cancel the goal; a future of the ``CancelGoal.Response``."""
        return self._client._future(self._core.cancel_goal(timeout=_NO_TIMEOUT))

    def cancel_goal(self) -> Any:
        """Cancel and wait for the response (from a thread other than the spinning one)."""
        return self._client._wait(self.cancel_goal_async())

    def get_result_async(self) -> Future:
        """A future of the ``GetResult.Response`` (``.status``, ``.result``) once the goal ends."""
        return self._client._future(self._core.get_result())

    def get_result(self) -> Any:
        """Wait for the result (from a thread other than the spinning one)."""
        return self._client._wait(self.get_result_async())


class ActionClient:
    """Client of one action (like ``rclpy.action.ActionClient``); spin its node to get answers."""

    def __init__(
        self,
        node: Node,
        action_type: type[Any],
        action_name: str,
        *,
        callback_group: CallbackGroup | None = None,
        goal_service_qos_profile: QoSProfile = qos_profile_services_default,
        result_service_qos_profile: QoSProfile = qos_profile_services_default,
        cancel_service_qos_profile: QoSProfile = qos_profile_services_default,
        feedback_sub_qos_profile: QoSProfile | None = None,
        status_sub_qos_profile: QoSProfile = QOS_ACTION_STATUS,
    ) -> None:
        """Create the action's clients and subscriptions on ``node``. The service QoS profiles
        are accepted and not used (our services are always reliable)."""
        refuse_rosidl(action_type)
        self._node = node
        self._action_type = action_type
        self._action_name = action_name
        group = callback_group if callback_group is not None else node.default_callback_group
        self._queue = WorkQueue(group)
        self._client: _CoreActionClient = _core.run(
            _CoreActionClient.create(
                node._core,
                action_type,
                action_name,
                feedback_qos=feedback_sub_qos_profile or QoSProfile(depth=10),
                status_qos=status_sub_qos_profile,
            )
        )
        node._add(self._queue)

    # -- futures completed on an executor ----------------------------------------------------
    def _future(self, coro: Coroutine[Any, Any, Any], wrap: Callable[[Any], Any] | None = None) -> Future:
        future = Future()

        async def run() -> None:
            try:
                value = await coro
            except Exception as exc:
                error = exc
                self._queue.put(lambda: future.set_exception(error))
            else:
                result = wrap(value) if wrap is not None else value
                self._queue.put(lambda: future.set_result(result))

        _core.submit(run())
        return future

    @staticmethod
    def _wait(future: Future) -> Any:
        wait_done(future)
        exception = future.exception()
        if exception is not None:
            raise exception
        return future.result()

    # -- goals ------------------------------------------------------------------------------------
    def send_goal_async(
        self,
        goal: Any,
        feedback_callback: Callable[[Any], Any] | None = None,
        goal_uuid: Any | None = None,
    ) -> Future:
        """Send ``goal``; a future of its :class:`ClientGoalHandle` once the server accepted or
        rejected it. ``feedback_callback(feedback_message)`` runs on an executor."""
        if not isinstance(goal, self._action_type.Goal):
            raise TypeError(f"Expected goal type ({self._action_type.Goal}) but received ({type(goal)})")
        on_feedback = None
        if feedback_callback is not None:
            callback = feedback_callback

            def on_feedback(message: Any) -> None:  # on the asyncio thread
                self._queue.run(callback, (message,), self._reraise)

        sent = self._client.send_goal(
            goal, feedback_callback=on_feedback, timeout=_NO_TIMEOUT, goal_id=goal_uuid
        )
        return self._future(sent, lambda core: ClientGoalHandle(self, core))

    @staticmethod
    def _reraise(value: Any, exc: BaseException | None) -> None:
        if exc is not None:
            raise exc

    def send_goal(self, goal: Any, **kwargs: Any) -> Any:
        """Send ``goal`` and wait for its result (``GetResult.Response``); from a thread other
        than the one spinning the node."""
        if not isinstance(goal, self._action_type.Goal):
            raise TypeError(f"Expected goal type ({self._action_type.Goal}) but received ({type(goal)})")
        handle = self._wait(self.send_goal_async(goal, **kwargs))
        return handle.get_result()

    # -- server -----------------------------------------------------------------------------------
    def server_is_ready(self) -> bool:
        """Whether an action server is ready for this client."""
        return bool(_core.run(self._client.wait_for_server(timeout=0.0)))

    def wait_for_server(self, timeout_sec: float | None = None) -> bool:
        """True once an action server is ready; False after ``timeout_sec`` (None: forever)."""
        if timeout_sec is not None:
            return bool(_core.run(self._client.wait_for_server(timeout=timeout_sec)))
        while _core.is_running():
            if _core.run(self._client.wait_for_server(timeout=1.0)):
                return True
        return False

    def destroy(self) -> None:
        """Destroy the client's service clients and subscriptions."""
        with self._node._entities_lock:
            if self._queue in self._node._entities:
                self._node._entities.remove(self._queue)
        if _core.is_running():
            _core.run(self._client.destroy())
