"""``ActionServer``: ROS 2 actions served from three services and two topics, like rclpy's.

For an action named ``fibonacci`` the server offers, exactly as rcl_action names them:

- service ``fibonacci/_action/send_goal`` (``pkg/action/Name_SendGoal``)
- service ``fibonacci/_action/cancel_goal`` (``action_msgs/srv/CancelGoal``)
- service ``fibonacci/_action/get_result`` (``pkg/action/Name_GetResult``; answers once the
  goal has finished)
- topic ``fibonacci/_action/feedback`` (``pkg/action/Name_FeedbackMessage``)
- topic ``fibonacci/_action/status`` (``action_msgs/msg/GoalStatusArray``, transient local,
  depth 1: a late subscriber gets the current states at once)

Node entities are created by coroutines, so the server is built with an async factory::

    async def execute(goal: ServerGoalHandle) -> Fibonacci.Result:
        for i in range(goal.request.order):
            await goal.publish_feedback(Fibonacci.Feedback(partial_sequence=[...]))
        goal.succeed()
        return Fibonacci.Result(sequence=[...])

    server = await ActionServer.create(node, Fibonacci, "fibonacci", execute)
    ...
    await server.destroy()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from robotfleet_nodes._callbacks import call_maybe_async
from robotfleet_nodes.action._status import TERMINAL_STATES, CancelResponse, GoalResponse, GoalStatus
from robotfleet_nodes.action._types import ActionTypes, action_types, goal_id_bytes, stamp_now, stamp_ns
from robotfleet_nodes.qos import QOS_DEFAULT, Durability, QoSProfile, Reliability

if TYPE_CHECKING:
    from robotfleet_nodes.node.node import Node
    from robotfleet_nodes.node.publisher import Publisher
    from robotfleet_nodes.node.service import Service

__all__ = ["QOS_ACTION_STATUS", "ActionServer", "ServerGoalHandle"]

log = logging.getLogger(__name__)

#: rcl_action's status topic profile: reliable, transient local, keep last 1.
QOS_ACTION_STATUS = QoSProfile(
    depth=1, reliability=Reliability.RELIABLE, durability=Durability.TRANSIENT_LOCAL
)

#: Seconds ``get_result`` keeps a finished goal's result (rcl_action's default: 15 minutes).
DEFAULT_RESULT_TIMEOUT = 900.0

_ZERO_ID = bytes(16)

# rcl_action's goal state machine: (state, event) -> next state.
_TRANSITIONS: dict[tuple[GoalStatus, str], GoalStatus] = {
    (GoalStatus.ACCEPTED, "execute"): GoalStatus.EXECUTING,
    (GoalStatus.ACCEPTED, "cancel_goal"): GoalStatus.CANCELING,
    (GoalStatus.EXECUTING, "cancel_goal"): GoalStatus.CANCELING,
    (GoalStatus.EXECUTING, "succeed"): GoalStatus.SUCCEEDED,
    (GoalStatus.EXECUTING, "abort"): GoalStatus.ABORTED,
    (GoalStatus.CANCELING, "succeed"): GoalStatus.SUCCEEDED,
    (GoalStatus.CANCELING, "abort"): GoalStatus.ABORTED,
    (GoalStatus.CANCELING, "canceled"): GoalStatus.CANCELED,
}


def _accept_all(goal_request: Any) -> GoalResponse:
    return GoalResponse.ACCEPT


def _reject_cancel(goal_handle: ServerGoalHandle) -> CancelResponse:
    return CancelResponse.REJECT


def _execute_now(goal_handle: ServerGoalHandle) -> None:
    goal_handle.execute()


class ServerGoalHandle:
    """One accepted goal on the server: its request, state, feedback and end.

    The execute callback ends the goal with :meth:`succeed`, :meth:`abort` or (after a
    cancel request was accepted, see :attr:`is_cancel_requested`) :meth:`canceled`, then
    returns the result message.
    """

    def __init__(self, server: ActionServer, goal_id: Any, request: Any, stamp: Any) -> None:
        self._server = server
        self._goal_id = goal_id
        self._key = goal_id_bytes(goal_id)
        self._request = request
        self._stamp = stamp
        self._status = GoalStatus.ACCEPTED
        self._executing = False
        self._result_response: Any = None
        self._result_ready = asyncio.Event()

    @property
    def goal_id(self) -> Any:
        """The goal's ``unique_identifier_msgs/UUID``."""
        return self._goal_id

    @property
    def request(self) -> Any:
        """The goal message the client sent (``Name.Goal``)."""
        return self._request

    @property
    def stamp(self) -> Any:
        """When the goal was accepted (``builtin_interfaces/Time``)."""
        return self._stamp

    @property
    def status(self) -> GoalStatus:
        """The current :class:`GoalStatus`."""
        return self._status

    @property
    def is_active(self) -> bool:
        """True until the goal reaches a terminal state."""
        return self._status not in TERMINAL_STATES

    @property
    def is_cancel_requested(self) -> bool:
        """True once a cancel request for this goal was accepted (state CANCELING)."""
        return self._status is GoalStatus.CANCELING

    def execute(self) -> None:
        """Start the execute callback (the default ``handle_accepted_callback`` does this)."""
        if self._executing:
            raise RuntimeError(f"goal {self._key.hex()} is already executing")
        self._executing = True
        # A goal canceled before it started stays CANCELING; its callback still runs to end it.
        if not self.is_cancel_requested:
            self._update("execute")
        self._server._start_execution(self)

    async def publish_feedback(self, feedback: Any) -> None:
        """Publish ``feedback`` (a ``Name.Feedback``) to clients; ``TypeError`` for another type."""
        await self._server._publish_feedback(self, feedback)

    def succeed(self) -> None:
        """End the goal as SUCCEEDED."""
        self._update("succeed")

    def abort(self) -> None:
        """End the goal as ABORTED."""
        self._update("abort")

    def canceled(self) -> None:
        """End the goal as CANCELED (only after a cancel request was accepted)."""
        self._update("canceled")

    def _update(self, event: str) -> None:
        new = _TRANSITIONS.get((self._status, event))
        if new is None:
            raise RuntimeError(
                f"goal {self._key.hex()}: cannot {event.replace('_', ' ')} "
                f"a goal in state {self._status.name}"
            )
        self._status = new
        self._server._status_changed()

    def __repr__(self) -> str:
        return f"ServerGoalHandle(goal_id={self._key.hex()}, status={self._status.name})"


class ActionServer:
    """Serves one action. Build with ``await ActionServer.create(...)``.

    Callbacks may be plain functions or coroutine functions:

    - ``execute_callback(goal_handle) -> Name.Result``: runs the goal; it should end the goal
      (``succeed()`` / ``abort()`` / ``canceled()``). A goal left active is aborted with a
      warning; an exception aborts it, is logged, and the client gets an empty result.
    - ``goal_callback(goal) -> GoalResponse``: accept or reject a new goal (default: accept).
    - ``cancel_callback(goal_handle) -> CancelResponse``: accept or reject a cancel request
      (default: reject, as in rclpy).
    - ``handle_accepted_callback(goal_handle)``: called once a goal is accepted (default:
      ``goal_handle.execute()``; call it later yourself to queue or defer goals).

    Finished goals, and their results, are kept for ``result_timeout`` seconds.
    """

    def __init__(
        self,
        node: Node,
        action_type: type[Any],
        action_name: str,
        execute_callback: Callable[[ServerGoalHandle], Any],
        *,
        goal_callback: Callable[[Any], Any] | None = None,
        cancel_callback: Callable[[ServerGoalHandle], Any] | None = None,
        handle_accepted_callback: Callable[[ServerGoalHandle], Any] | None = None,
        result_timeout: float = DEFAULT_RESULT_TIMEOUT,
        feedback_qos: QoSProfile = QOS_DEFAULT,
        status_qos: QoSProfile = QOS_ACTION_STATUS,
    ) -> None:
        """Prefer :meth:`create`; a server built directly serves nothing until :meth:`start`."""
        if result_timeout < 0:
            raise ValueError(f"result_timeout must be >= 0 seconds, got {result_timeout}")
        self.node = node
        self.action_name = action_name
        self.types: ActionTypes = action_types(action_type)
        self._execute_callback = execute_callback
        self._goal_callback = goal_callback or _accept_all
        self._cancel_callback = cancel_callback or _reject_cancel
        self._handle_accepted_callback = handle_accepted_callback or _execute_now
        self._result_timeout = result_timeout
        self._feedback_qos = feedback_qos
        self._status_qos = status_qos
        self._goals: dict[bytes, ServerGoalHandle] = {}
        self._expiry: dict[bytes, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._status_queue: asyncio.Queue[Any] = asyncio.Queue()
        self._status_task: asyncio.Task[None] | None = None
        self._services: list[Service[Any]] = []
        self._feedback_pub: Publisher[Any] | None = None
        self._status_pub: Publisher[Any] | None = None
        self._destroyed = False

    @classmethod
    async def create(
        cls,
        node: Node,
        action_type: type[Any],
        action_name: str,
        execute_callback: Callable[[ServerGoalHandle], Any],
        *,
        goal_callback: Callable[[Any], Any] | None = None,
        cancel_callback: Callable[[ServerGoalHandle], Any] | None = None,
        handle_accepted_callback: Callable[[ServerGoalHandle], Any] | None = None,
        result_timeout: float = DEFAULT_RESULT_TIMEOUT,
        feedback_qos: QoSProfile = QOS_DEFAULT,
        status_qos: QoSProfile = QOS_ACTION_STATUS,
    ) -> ActionServer:
        """Create the server's services and topics on ``node`` (a started node) and serve."""
        server = cls(
            node,
            action_type,
            action_name,
            execute_callback,
            goal_callback=goal_callback,
            cancel_callback=cancel_callback,
            handle_accepted_callback=handle_accepted_callback,
            result_timeout=result_timeout,
            feedback_qos=feedback_qos,
            status_qos=status_qos,
        )
        await server.start()
        return server

    async def start(self) -> None:
        """Create the services and publishers (done by :meth:`create`)."""
        t, name, node = self.types, self.action_name, self.node
        self._feedback_pub = await node.create_publisher(
            t.feedback_message, f"{name}/_action/feedback", self._feedback_qos
        )
        self._status_pub = await node.create_publisher(
            t.goal_status_array, f"{name}/_action/status", self._status_qos
        )
        # The status publisher task starts with the first goal (thousands of idle servers in
        # one process then cost no task each). The services are created together: their
        # subscriptions share one round trip to the broker.
        created = await asyncio.gather(
            *(
                node.create_service(srv_type, f"{name}/_action/{part}", handler)
                for srv_type, part, handler in (
                    (t.send_goal, "send_goal", self._on_send_goal),
                    (t.cancel_goal, "cancel_goal", self._on_cancel_goal),
                    (t.get_result, "get_result", self._on_get_result),
                )
            ),
            return_exceptions=True,
        )
        failed = [c for c in created if isinstance(c, BaseException)]
        self._services.extend(c for c in created if not isinstance(c, BaseException))
        if failed:
            await self.destroy()
            raise failed[0]

    @property
    def goal_handles(self) -> list[ServerGoalHandle]:
        """Every goal known (active, or finished and not yet expired)."""
        return list(self._goals.values())

    # -- services --------------------------------------------------------------------
    async def _on_send_goal(self, request: Any) -> Any:
        response_cls = self.types.send_goal.Response
        key = goal_id_bytes(request.goal_id)
        if key in self._goals:
            log.warning("%s: rejected a goal with a duplicate id %s", self.action_name, key.hex())
            return response_cls(accepted=False, stamp=stamp_now(self.types.time))
        try:
            decision = await call_maybe_async(self._goal_callback, request.goal)
        except Exception:
            log.exception("%s: goal_callback raised; goal %s rejected", self.action_name, key.hex())
            decision = GoalResponse.REJECT
        stamp = stamp_now(self.types.time)
        if decision is not GoalResponse.ACCEPT:
            log.debug("%s: goal %s rejected", self.action_name, key.hex())
            return response_cls(accepted=False, stamp=stamp)
        handle = ServerGoalHandle(self, request.goal_id, request.goal, stamp)
        self._goals[key] = handle
        self._status_changed()
        # rclpy calls handle_accepted_callback after the response went out: do it on the next turn.
        self._spawn(self._run_accepted(handle))
        return response_cls(accepted=True, stamp=stamp)

    async def _run_accepted(self, handle: ServerGoalHandle) -> None:
        await asyncio.sleep(0)
        try:
            await call_maybe_async(self._handle_accepted_callback, handle)
        except Exception:
            log.exception(
                "%s: handle_accepted_callback raised for goal %s", self.action_name, handle._key.hex()
            )
            if handle.is_active and not handle._executing:
                handle._executing = True
                self._abort_now(handle)

    async def _on_cancel_goal(self, request: Any) -> Any:
        response_cls: Any = self.types.cancel_goal.Response
        key = goal_id_bytes(request.goal_info.goal_id)
        before = stamp_ns(request.goal_info.stamp)
        if key == _ZERO_ID and before == 0:
            matching = list(self._goals.values())
        else:
            matching = [
                h
                for h in self._goals.values()
                if (key != _ZERO_ID and h._key == key) or (before != 0 and stamp_ns(h.stamp) <= before)
            ]
        candidates = [h for h in matching if h.status in (GoalStatus.ACCEPTED, GoalStatus.EXECUTING)]
        if not candidates:
            code = response_cls.ERROR_REJECTED
            if key != _ZERO_ID and before == 0:
                target = self._goals.get(key)
                code = (
                    response_cls.ERROR_UNKNOWN_GOAL_ID
                    if target is None
                    else response_cls.ERROR_GOAL_TERMINATED
                )
            return response_cls(return_code=code, goals_canceling=[])
        canceling = []
        for handle in candidates:
            try:
                decision = await call_maybe_async(self._cancel_callback, handle)
            except Exception:
                log.exception("%s: cancel_callback raised for goal %s", self.action_name, handle._key.hex())
                decision = CancelResponse.REJECT
            # The goal may have ended while the callback ran.
            if decision is CancelResponse.ACCEPT and handle.status in (
                GoalStatus.ACCEPTED,
                GoalStatus.EXECUTING,
            ):
                handle._update("cancel_goal")
                canceling.append(self.types.goal_info(goal_id=handle.goal_id, stamp=handle.stamp))
        code = response_cls.ERROR_NONE if canceling else response_cls.ERROR_REJECTED
        return response_cls(return_code=code, goals_canceling=canceling)

    async def _on_get_result(self, request: Any) -> Any:
        handle = self._goals.get(goal_id_bytes(request.goal_id))
        if handle is None:
            return self.types.get_result.Response(status=int(GoalStatus.UNKNOWN))
        await handle._result_ready.wait()
        return handle._result_response

    # -- execution -------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_execution(self, handle: ServerGoalHandle) -> None:
        self._spawn(self._execute(handle))

    async def _execute(self, handle: ServerGoalHandle) -> None:
        result: Any = None
        try:
            result = await call_maybe_async(self._execute_callback, handle)
        except asyncio.CancelledError:
            if handle.is_active:
                self._abort_now(handle)
            raise
        except Exception:
            log.exception("%s: execute callback raised; goal %s aborted", self.action_name, handle._key.hex())
            result = None
            if handle.is_active:
                handle._update("abort")
        if handle.is_active:
            log.warning(
                "%s: goal %s state not set by execute callback, assuming aborted",
                self.action_name,
                handle._key.hex(),
            )
            handle._update("abort")
        if result is None:
            result = self.types.action.Result()
        elif not isinstance(result, self.types.action.Result):
            log.error(
                "%s: execute callback returned %s, expected %s; sending an empty result",
                self.action_name,
                type(result).__name__,
                self.types.action.Result.__ros_type__,
            )
            result = self.types.action.Result()
        self._finish(handle, None, result)

    def _abort_now(self, handle: ServerGoalHandle) -> None:
        """Abort from any active state (server-side failures, shutdown) and release the result."""
        handle._status = GoalStatus.ABORTED
        self._status_changed()
        self._finish(handle, None, self.types.action.Result())

    def _finish(self, handle: ServerGoalHandle, event: str | None, result: Any) -> None:
        if event is not None:
            handle._update(event)
        handle._result_response = self.types.get_result.Response(status=int(handle.status), result=result)
        handle._result_ready.set()
        log.debug("%s: goal %s finished %s", self.action_name, handle._key.hex(), handle.status.name)
        if not self._destroyed:
            loop = asyncio.get_running_loop()
            self._expiry[handle._key] = loop.call_later(self._result_timeout, self._expire, handle._key)

    def _expire(self, key: bytes) -> None:
        self._expiry.pop(key, None)
        if self._goals.pop(key, None) is not None:
            log.debug("%s: result of goal %s expired", self.action_name, key.hex())
            self._status_changed()

    # -- topics ----------------------------------------------------------------------
    async def _publish_feedback(self, handle: ServerGoalHandle, feedback: Any) -> None:
        expected = self.types.action.Feedback
        if not isinstance(feedback, expected):
            got = getattr(type(feedback), "__ros_type__", type(feedback).__name__)
            raise TypeError(f"Expected {expected.__ros_type__}, got {got}")
        if self._feedback_pub is None or self._destroyed:
            raise RuntimeError(f"action server {self.action_name} is destroyed")
        await self._feedback_pub.publish(
            self.types.feedback_message(goal_id=handle.goal_id, feedback=feedback)
        )

    def _status_changed(self) -> None:
        """Queue a snapshot of every goal's state now, so each transition is published in order."""
        if self._destroyed:
            return
        t = self.types
        snapshot = t.goal_status_array(
            status_list=[
                t.goal_status(goal_info=t.goal_info(goal_id=h.goal_id, stamp=h.stamp), status=int(h.status))
                for h in self._goals.values()
            ]
        )
        self._status_queue.put_nowait(snapshot)
        if self._status_task is None:
            self._status_task = asyncio.create_task(self._status_loop(), name=f"{self.action_name} status")

    async def _status_loop(self) -> None:
        while True:
            snapshot = await self._status_queue.get()
            try:
                if self._status_pub is not None:
                    await self._status_pub.publish(snapshot)
            except Exception:
                log.exception("%s: could not publish the goal status", self.action_name)
            finally:
                self._status_queue.task_done()

    # -- life ------------------------------------------------------------------------
    async def destroy(self) -> None:
        """Stop serving: running goals are cancelled (and aborted), entities destroyed; idempotent."""
        if self._destroyed:
            return
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._status_task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._status_queue.join(), timeout=1.0)
        self._destroyed = True
        for timer in self._expiry.values():
            timer.cancel()
        self._expiry.clear()
        for handle in self._goals.values():  # release get_result requests still waiting
            if not handle._result_ready.is_set():
                handle._result_response = self.types.get_result.Response(status=int(GoalStatus.ABORTED))
                handle._result_ready.set()
        if self._status_task is not None:
            self._status_task.cancel()
            await asyncio.gather(self._status_task, return_exceptions=True)
            self._status_task = None
        for service in self._services:
            await service.destroy()
        self._services.clear()
        for pub in (self._feedback_pub, self._status_pub):
            if pub is not None:
                await pub.destroy()
        self._feedback_pub = self._status_pub = None

    def describe(self) -> dict[str, Any]:
        """The server as plain data (for introspection)."""
        return {
            "name": self.node.resolve_name(self.action_name),
            "type": self.types.action.__ros_type__,
            "goals": [{"goal_id": h._key.hex(), "status": h.status.name} for h in self._goals.values()],
        }
