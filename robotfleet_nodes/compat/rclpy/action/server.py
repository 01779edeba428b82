"""``rclpy.action.server``: an action server whose callbacks run on executors.

The protocol (services, topics, goal states, result expiry) is our asyncio
:class:`robotfleet_nodes.action.ActionServer`; this module only moves each user callback
to an executor thread: ``goal_callback``, ``cancel_callback`` and
``handle_accepted_callback`` in the server's callback group, ``execute_callback`` as an
rclpy task does (outside any group, so a long execution never blocks the server's other
callbacks on a multi-threaded executor). The execute callback is a plain function that
may block and returns the ``Result``, or an ``async def``.
"""

from __future__ import annotations

import logging
import threading
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from robotfleet_nodes.action import QOS_ACTION_STATUS, CancelResponse, GoalResponse, GoalStatus
from robotfleet_nodes.action import ActionServer as _CoreActionServer
from robotfleet_nodes.action import ServerGoalHandle as _CoreGoalHandle
from robotfleet_nodes.qos import QoSProfile

from .. import _core
from .._interfaces import refuse_rosidl
from ..callback_groups import CallbackGroup
from ..node import Node
from ..qos import qos_profile_services_default
from ._bridge import WorkQueue

__all__ = [
    "ActionServer",
    "CancelResponse",
    "GoalResponse",
    "ServerGoalHandle",
    "default_cancel_callback",
    "default_goal_callback",
    "default_handle_accepted_callback",
]

log = logging.getLogger(__name__)

ExecuteCallback = Callable[["ServerGoalHandle"], Any]


class ServerGoalHandle:
    """One accepted goal (like ``rclpy.action.server.ServerGoalHandle``); methods are synchronous."""

    def __init__(self, server: ActionServer, core: _CoreGoalHandle) -> None:
        self._server = server
        self._core = core
        self._execute_callback: ExecuteCallback | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerGoalHandle) and self.goal_id == other.goal_id

    def __hash__(self) -> int:
        return hash(bytes(self.goal_id.uuid))

    @property
    def request(self) -> Any:
        """The goal message (``Action.Goal``)."""
        return self._core.request

    @property
    def goal_id(self) -> Any:
        """The goal's ``unique_identifier_msgs/UUID``."""
        return self._core.goal_id

    @property
    def is_active(self) -> bool:
        return self._core.is_active

    @property
    def is_cancel_requested(self) -> bool:
        return self._core.is_cancel_requested

    @property
    def status(self) -> int:
        """A ``GoalStatus.STATUS_*`` value."""
        return int(self._core.status)

    def execute(self, execute_callback: ExecuteCallback | None = None) -> None:
        """Run the goal: the server's execute callback (or ``execute_callback``) as a task."""
        self._execute_callback = execute_callback
        _core.run(self._server._on_loop(self._core.execute))

    def publish_feedback(self, feedback: Any) -> None:
        """Publish ``feedback`` (an ``Action.Feedback``); ``TypeError`` for another type."""
        if not isinstance(feedback, self._server._action_type.Feedback):
            raise TypeError()
        _core.run(self._core.publish_feedback(feedback))

    def succeed(self) -> None:
        _core.run(self._server._on_loop(self._core.succeed))

    def abort(self) -> None:
        _core.run(self._server._on_loop(self._core.abort))

    def canceled(self) -> None:
        _core.run(self._server._on_loop(self._core.canceled))

    def destroy(self) -> None:
        """Nothing to release: the server forgets the goal when its result expires."""

    def __repr__(self) -> str:
        return f"ServerGoalHandle <id={list(self.goal_id.uuid)}, status={self.status}>"


def default_handle_accepted_callback(goal_handle: ServerGoalHandle) -> None:
    """Execute the goal."""
    goal_handle.execute()


def default_goal_callback(goal_request: Any) -> GoalResponse:
    """Accept all goals."""
    return GoalResponse.ACCEPT


def default_cancel_callback(cancel_request: Any) -> CancelResponse:
    """No cancellations."""
    return CancelResponse.REJECT


class ActionServer:
    """Serves one action (like ``rclpy.action.ActionServer``); spin its node to serve."""

    def __init__(
        self,
        node: Node,
        action_type: type[Any],
        action_name: str,
        execute_callback: ExecuteCallback,
        *,
        callback_group: CallbackGroup | None = None,
        goal_callback: Callable[[Any], Any] = default_goal_callback,
        handle_accepted_callback: Callable[[ServerGoalHandle], Any] = default_handle_accepted_callback,
        cancel_callback: Callable[[ServerGoalHandle], Any] = default_cancel_callback,
        goal_service_qos_profile: QoSProfile = qos_profile_services_default,
        result_service_qos_profile: QoSProfile = qos_profile_services_default,
        cancel_service_qos_profile: QoSProfile = qos_profile_services_default,
        feedback_pub_qos_profile: QoSProfile | None = None,
        status_pub_qos_profile: QoSProfile = QOS_ACTION_STATUS,
        result_timeout: int = 10,
    ) -> None:
        """Create the action's services and topics on ``node``. The service QoS profiles are
        accepted and not used (our services are always reliable)."""
        refuse_rosidl(action_type)
        self._node = node
        self._action_type = action_type
        self._group = callback_group if callback_group is not None else node.default_callback_group
        self._callbacks = WorkQueue(self._group)
        self._tasks = WorkQueue(CallbackGroup())  # executions: rclpy tasks belong to no group
        self._handles: weakref.WeakKeyDictionary[_CoreGoalHandle, ServerGoalHandle] = (
            weakref.WeakKeyDictionary()
        )
        self._handles_lock = threading.Lock()
        self._logger = node.get_logger().get_child("action_server")
        self.register_goal_callback(goal_callback)
        self.register_cancel_callback(cancel_callback)
        self.register_handle_accepted_callback(handle_accepted_callback)
        self.register_execute_callback(execute_callback)
        self._server: _CoreActionServer = _core.run(
            _CoreActionServer.create(
                node._core,
                action_type,
                action_name,
                self._on_execute,
                goal_callback=self._on_goal,
                cancel_callback=self._on_cancel,
                handle_accepted_callback=self._on_accepted,
                result_timeout=float(result_timeout),
                feedback_qos=feedback_pub_qos_profile or QoSProfile(depth=10),
                status_qos=status_pub_qos_profile,
            )
        )
        node._add(self._callbacks)
        node._add(self._tasks)

    @property
    def action_type(self) -> type[Any]:
        return self._action_type

    # -- registration (as in rclpy: None restores the default) -------------------------
    def register_goal_callback(self, goal_callback: Callable[[Any], Any] | None) -> None:
        self._goal_callback = goal_callback or default_goal_callback

    def register_cancel_callback(self, cancel_callback: Callable[[ServerGoalHandle], Any] | None) -> None:
        self._cancel_callback = cancel_callback or default_cancel_callback

    def register_handle_accepted_callback(
        self, handle_accepted_callback: Callable[[ServerGoalHandle], Any] | None
    ) -> None:
        self._handle_accepted_callback = handle_accepted_callback or default_handle_accepted_callback

    def register_execute_callback(self, execute_callback: ExecuteCallback) -> None:
        if not callable(execute_callback):
            raise TypeError("Failed to register goal execution callback: not callable")
        self._execute_callback = execute_callback

    # -- the core's callbacks, on the asyncio thread -----------------------------------------
    def _handle(self, core: _CoreGoalHandle) -> ServerGoalHandle:
        with self._handles_lock:
            handle = self._handles.get(core)
            if handle is None:
                handle = self._handles[core] = ServerGoalHandle(self, core)
            return handle

    async def _on_loop(self, method: Callable[[], None]) -> None:
        method()

    async def _on_goal(self, goal: Any) -> GoalResponse:
        response = await self._callbacks.call(self._goal_callback, goal)
        if not isinstance(response, GoalResponse):
            self._logger.warning("Goal request callback did not return a GoalResponse type. Rejecting goal.")
            return GoalResponse.REJECT
        return response

    async def _on_cancel(self, core: _CoreGoalHandle) -> CancelResponse:
        response = await self._callbacks.call(self._cancel_callback, self._handle(core))
        return response if isinstance(response, CancelResponse) else CancelResponse.REJECT

    async def _on_accepted(self, core: _CoreGoalHandle) -> None:
        await self._callbacks.call(self._handle_accepted_callback, self._handle(core))

    async def _on_execute(self, core: _CoreGoalHandle) -> Any:
        handle = self._handle(core)
        callback = handle._execute_callback or self._execute_callback
        try:
            return await self._tasks.call(callback, handle, reraise=False)
        except Exception as ex:
            self._logger.error(f"Error raised in execute callback: {ex}")  # noqa: TRY400 - rclpy's text
            traceback.print_exception(ex)
            if core.status in (GoalStatus.ACCEPTED, GoalStatus.EXECUTING, GoalStatus.CANCELING):
                core.abort()
            return None

    # -- life -----------------------------------------------------------------------------------
    def destroy(self) -> None:
        """Stop serving: running goals are aborted, the services and topics destroyed."""
        for entity in (self._callbacks, self._tasks):
            with self._node._entities_lock:
                if entity in self._node._entities:
                    self._node._entities.remove(entity)
        if _core.is_running():
            _core.run(self._server.destroy())
