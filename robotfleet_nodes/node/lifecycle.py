"""Managed (lifecycle) nodes: ROS 2's node state machine, exactly.

Primary states ``unconfigured -> inactive -> active`` and ``finalized``; each public
transition (``configure``, ``cleanup``, ``activate``, ``deactivate``, ``shutdown``) passes
through a transition state (``configuring`` ...) where the node's callback runs. The
callback's :class:`TransitionCallbackReturn` decides the rest: ``SUCCESS`` completes the
transition, ``FAILURE`` returns to the state it started from, ``ERROR`` (or an exception)
goes to ``errorprocessing``, whose ``on_error`` leads to ``unconfigured`` (success) or
``finalized``. State and transition ids are ``lifecycle_msgs``' own.

Like rcl's lifecycle a :class:`LifecycleNode` offers ``<node>/change_state``,
``get_state``, ``get_available_states``, ``get_available_transitions`` and
``get_transition_graph`` and publishes every state change on ``<node>/transition_event``.
Publishers made with :meth:`LifecycleNode.create_lifecycle_publisher` only publish while
the node is active.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from robotfleet_nodes._callbacks import RateLimitedLog, call_maybe_async
from robotfleet_nodes.errors import LifecycleError
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.parameters import interface_class
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.node.service import Service
from robotfleet_nodes.qos import QoSProfile

__all__ = [
    "LIFECYCLE_SERVICES",
    "TRANSITIONS",
    "LifecycleNode",
    "LifecyclePublisher",
    "LifecycleState",
    "State",
    "TransitionCallbackReturn",
    "TransitionId",
    "TransitionResult",
    "allowed_transitions",
    "transition_outcome",
]

log = logging.getLogger(__name__)

MsgT = TypeVar("MsgT")

#: The services of a lifecycle node, relative to the node (``~/<name>``), and their types.
LIFECYCLE_SERVICES: tuple[tuple[str, str], ...] = (
    ("change_state", "lifecycle_msgs/srv/ChangeState"),
    ("get_state", "lifecycle_msgs/srv/GetState"),
    ("get_available_states", "lifecycle_msgs/srv/GetAvailableStates"),
    ("get_available_transitions", "lifecycle_msgs/srv/GetAvailableTransitions"),
    ("get_transition_graph", "lifecycle_msgs/srv/GetAvailableTransitions"),
)


class LifecycleState(enum.IntEnum):
    """State ids of ``lifecycle_msgs/msg/State``; ``label`` is rcl's text."""

    UNKNOWN = 0
    UNCONFIGURED = 1
    INACTIVE = 2
    ACTIVE = 3
    FINALIZED = 4
    CONFIGURING = 10
    CLEANINGUP = 11
    SHUTTINGDOWN = 12
    ACTIVATING = 13
    DEACTIVATING = 14
    ERRORPROCESSING = 15

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def is_primary(self) -> bool:
        return self <= LifecycleState.FINALIZED

    def to_msg(self) -> Any:
        """This state as a ``lifecycle_msgs/msg/State``."""
        return interface_class("lifecycle_msgs/msg/State")(id=int(self), label=self.label)


#: Short alias, as in rclpy's ``lifecycle.State``-style code.
State = LifecycleState


class TransitionId(enum.IntEnum):
    """Transition ids of ``lifecycle_msgs/msg/Transition``."""

    CONFIGURE = 1
    CLEANUP = 2
    ACTIVATE = 3
    DEACTIVATE = 4
    UNCONFIGURED_SHUTDOWN = 5
    INACTIVE_SHUTDOWN = 6
    ACTIVE_SHUTDOWN = 7
    ON_CONFIGURE_SUCCESS = 10
    ON_CONFIGURE_FAILURE = 11
    ON_CONFIGURE_ERROR = 12
    ON_CLEANUP_SUCCESS = 20
    ON_CLEANUP_FAILURE = 21
    ON_CLEANUP_ERROR = 22
    ON_ACTIVATE_SUCCESS = 30
    ON_ACTIVATE_FAILURE = 31
    ON_ACTIVATE_ERROR = 32
    ON_DEACTIVATE_SUCCESS = 40
    ON_DEACTIVATE_FAILURE = 41
    ON_DEACTIVATE_ERROR = 42
    ON_SHUTDOWN_SUCCESS = 50
    ON_SHUTDOWN_FAILURE = 51
    ON_SHUTDOWN_ERROR = 52
    ON_ERROR_SUCCESS = 60
    ON_ERROR_FAILURE = 61
    ON_ERROR_ERROR = 62


class TransitionCallbackReturn(enum.IntEnum):
    """What a transition callback returns (``Transition.TRANSITION_CALLBACK_*``)."""

    SUCCESS = 97
    FAILURE = 98
    ERROR = 99

    def to_label(self) -> str:
        """The label of the transition this result takes (``"transition_success"`` ...)."""
        return f"transition_{self.name.lower()}"


#: What a transition callback may return: a result, ``None`` (SUCCESS), or an awaitable of either.
TransitionResult: TypeAlias = TransitionCallbackReturn | Awaitable[TransitionCallbackReturn | None] | None


@dataclass(frozen=True, slots=True)
class _Transition:
    id: TransitionId
    label: str
    start: LifecycleState
    goal: LifecycleState

    def to_description(self) -> Any:
        transition = interface_class("lifecycle_msgs/msg/Transition")(id=int(self.id), label=self.label)
        return interface_class("lifecycle_msgs/msg/TransitionDescription")(
            transition=transition, start_state=self.start.to_msg(), goal_state=self.goal.to_msg()
        )


_S = LifecycleState
_T = TransitionId
_SUCCESS, _FAILURE, _ERROR = "transition_success", "transition_failure", "transition_error"

#: rcl_lifecycle's default state machine, in its order.
_TRANSITIONS: tuple[_Transition, ...] = (
    _Transition(_T.CONFIGURE, "configure", _S.UNCONFIGURED, _S.CONFIGURING),
    _Transition(_T.ON_CONFIGURE_SUCCESS, _SUCCESS, _S.CONFIGURING, _S.INACTIVE),
    _Transition(_T.ON_CONFIGURE_FAILURE, _FAILURE, _S.CONFIGURING, _S.UNCONFIGURED),
    _Transition(_T.ON_CONFIGURE_ERROR, _ERROR, _S.CONFIGURING, _S.ERRORPROCESSING),
    _Transition(_T.CLEANUP, "cleanup", _S.INACTIVE, _S.CLEANINGUP),
    _Transition(_T.ON_CLEANUP_SUCCESS, _SUCCESS, _S.CLEANINGUP, _S.UNCONFIGURED),
    _Transition(_T.ON_CLEANUP_FAILURE, _FAILURE, _S.CLEANINGUP, _S.INACTIVE),
    _Transition(_T.ON_CLEANUP_ERROR, _ERROR, _S.CLEANINGUP, _S.ERRORPROCESSING),
    _Transition(_T.ACTIVATE, "activate", _S.INACTIVE, _S.ACTIVATING),
    _Transition(_T.ON_ACTIVATE_SUCCESS, _SUCCESS, _S.ACTIVATING, _S.ACTIVE),
    _Transition(_T.ON_ACTIVATE_FAILURE, _FAILURE, _S.ACTIVATING, _S.INACTIVE),
    _Transition(_T.ON_ACTIVATE_ERROR, _ERROR, _S.ACTIVATING, _S.ERRORPROCESSING),
    _Transition(_T.DEACTIVATE, "deactivate", _S.ACTIVE, _S.DEACTIVATING),
    _Transition(_T.ON_DEACTIVATE_SUCCESS, _SUCCESS, _S.DEACTIVATING, _S.INACTIVE),
    _Transition(_T.ON_DEACTIVATE_FAILURE, _FAILURE, _S.DEACTIVATING, _S.ACTIVE),
    _Transition(_T.ON_DEACTIVATE_ERROR, _ERROR, _S.DEACTIVATING, _S.ERRORPROCESSING),
    _Transition(_T.UNCONFIGURED_SHUTDOWN, "shutdown", _S.UNCONFIGURED, _S.SHUTTINGDOWN),
    _Transition(_T.INACTIVE_SHUTDOWN, "shutdown", _S.INACTIVE, _S.SHUTTINGDOWN),
    _Transition(_T.ACTIVE_SHUTDOWN, "shutdown", _S.ACTIVE, _S.SHUTTINGDOWN),
    _Transition(_T.ON_SHUTDOWN_SUCCESS, _SUCCESS, _S.SHUTTINGDOWN, _S.FINALIZED),
    _Transition(_T.ON_SHUTDOWN_FAILURE, _FAILURE, _S.SHUTTINGDOWN, _S.FINALIZED),
    _Transition(_T.ON_SHUTDOWN_ERROR, _ERROR, _S.SHUTTINGDOWN, _S.ERRORPROCESSING),
    _Transition(_T.ON_ERROR_SUCCESS, _SUCCESS, _S.ERRORPROCESSING, _S.UNCONFIGURED),
    _Transition(_T.ON_ERROR_FAILURE, _FAILURE, _S.ERRORPROCESSING, _S.FINALIZED),
    _Transition(_T.ON_ERROR_ERROR, _ERROR, _S.ERRORPROCESSING, _S.FINALIZED),
)
_BY_START: dict[LifecycleState, list[_Transition]] = {}
for _t in _TRANSITIONS:
    _BY_START.setdefault(_t.start, []).append(_t)
#: The states rcl's state machine holds (``UNKNOWN`` is not one of them).
_STATES = tuple(s for s in LifecycleState if s is not LifecycleState.UNKNOWN)
_OUTCOME_LABEL = {
    TransitionCallbackReturn.SUCCESS: _SUCCESS,
    TransitionCallbackReturn.FAILURE: _FAILURE,
    TransitionCallbackReturn.ERROR: _ERROR,
}


def _outcome(start: LifecycleState, result: TransitionCallbackReturn) -> _Transition:
    label = _OUTCOME_LABEL[result]
    return next(t for t in _BY_START[start] if t.label == label)


#: rcl_lifecycle's default state machine, in its order (each has ``id``, ``label``, ``start``,
#: ``goal`` and ``to_description()``).
TRANSITIONS = _TRANSITIONS
#: Where a transition state goes for a callback's result (``transition_outcome(CONFIGURING, SUCCESS)``).
transition_outcome = _outcome


def allowed_transitions(state: LifecycleState) -> list[_Transition]:
    """The public transitions that may start from ``state`` (none from a transition state)."""
    return list(_BY_START.get(state, [])) if state.is_primary else []


class LifecyclePublisher(Generic[MsgT]):
    """A publisher that publishes only while its node is active.

    Otherwise :meth:`publish` drops the message and logs one warning (rate-limited), as
    rclcpp's ``LifecyclePublisher`` does. The node activates and deactivates it.
    """

    __slots__ = ("_activated", "_dropped", "_warn", "publisher")

    def __init__(self, publisher: Publisher[MsgT]) -> None:
        self.publisher = publisher
        self._activated = False
        self._dropped = 0
        self._warn = RateLimitedLog(log, interval=10.0)

    @property
    def is_activated(self) -> bool:
        return self._activated

    @property
    def dropped(self) -> int:
        """Messages dropped because the publisher was not activated."""
        return self._dropped

    @property
    def topic_name(self) -> str:
        return self.publisher.topic_name

    def on_activate(self) -> None:
        self._activated = True

    def on_deactivate(self) -> None:
        self._activated = False

    async def publish(self, msg: MsgT) -> None:
        """Publish ``msg`` if activated; otherwise drop it (``TypeError`` for a wrong type)."""
        if not self._activated:
            self._dropped += 1
            self._warn(
                logging.WARNING,
                "Trying to publish message on the topic '%s', but the publisher is not activated",
                self.publisher.topic_name,
            )
            return
        await self.publisher.publish(msg)

    async def destroy(self) -> None:
        await self.publisher.destroy()

    def describe(self) -> dict[str, Any]:
        return {**self.publisher.describe(), "activated": self._activated, "dropped": self._dropped}


class LifecycleNode(Node):
    """A managed node: override ``on_configure`` ... ``on_error``; drive it with
    ``trigger_configure()`` ... locally or ``<node>/change_state`` remotely.

    Each callback receives the state the transition started from and returns a
    :class:`TransitionCallbackReturn` (``None`` counts as ``SUCCESS``); it may be a
    coroutine. An exception in a callback counts as ``ERROR``.
    """

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._state = LifecycleState.UNCONFIGURED
        self._transition_lock = asyncio.Lock()
        self._managed: list[LifecyclePublisher[Any]] = []
        self._transition_pub: Publisher[Any] | None = None
        self._lifecycle_services: list[Service[Any]] = []

    # -- state -------------------------------------------------------------------------
    @property
    def current_state(self) -> LifecycleState:
        """The current state (a transition state while a callback runs)."""
        return self._state

    def available_transitions(self) -> list[tuple[TransitionId, str, LifecycleState]]:
        """``(id, label, goal state)`` of the transitions allowed now."""
        return [(t.id, t.label, t.goal) for t in _BY_START.get(self._state, []) if self._state.is_primary]

    # -- start -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the node, then offer the lifecycle services and ``~/transition_event``."""
        await super().start()
        if self._lifecycle_services:
            return
        event_cls = interface_class("lifecycle_msgs/msg/TransitionEvent")
        self._transition_pub = await self.create_publisher(
            event_cls, "~/transition_event", QoSProfile(depth=10)
        )
        handlers: dict[str, Callable[[Any, Any], Any]] = {
            "change_state": self._srv_change_state,
            "get_state": self._srv_get_state,
            "get_available_states": self._srv_available_states,
            "get_available_transitions": self._srv_available_transitions,
            "get_transition_graph": self._srv_transition_graph,
        }
        self._lifecycle_services = list(
            await asyncio.gather(
                *(
                    self.create_service(interface_class(type_name), f"~/{name}", handlers[name])
                    for name, type_name in LIFECYCLE_SERVICES
                )
            )
        )

    async def destroy_node(self) -> None:
        self._lifecycle_services = []
        self._transition_pub = None
        await super().destroy_node()

    # -- lifecycle publishers --------------------------------------------------------------
    async def create_lifecycle_publisher(
        self, msg_type: type[MsgT], topic: str, qos_profile: QoSProfile | int = 10
    ) -> LifecyclePublisher[MsgT]:
        """A publisher that publishes only while the node is active."""
        publisher = LifecyclePublisher(await self.create_publisher(msg_type, topic, qos_profile))
        if self._state is LifecycleState.ACTIVE:
            publisher.on_activate()
        self._managed.append(publisher)
        return publisher

    # -- callbacks (override) ----------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionResult:
        """``configure``: load configuration, create entities."""
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionResult:
        """``cleanup``: undo ``on_configure``."""
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionResult:
        """``activate``: start processing (lifecycle publishers are activated on success)."""
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionResult:
        """``deactivate``: stop processing (lifecycle publishers are deactivated first)."""
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionResult:
        """``shutdown`` (from unconfigured, inactive or active): release everything."""
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionResult:
        """A callback returned ``ERROR``: ``SUCCESS`` goes to unconfigured, else finalized."""
        return TransitionCallbackReturn.SUCCESS

    # -- triggering --------------------------------------------------------------------------
    async def trigger_configure(self) -> TransitionCallbackReturn:
        return await self.trigger_transition("configure")

    async def trigger_cleanup(self) -> TransitionCallbackReturn:
        return await self.trigger_transition("cleanup")

    async def trigger_activate(self) -> TransitionCallbackReturn:
        return await self.trigger_transition("activate")

    async def trigger_deactivate(self) -> TransitionCallbackReturn:
        return await self.trigger_transition("deactivate")

    async def trigger_shutdown(self) -> TransitionCallbackReturn:
        return await self.trigger_transition("shutdown")

    def _find(self, transition: int | str) -> _Transition:
        """The public transition ``transition`` (id or label) allowed from the current state."""
        if self._transition_lock.locked():
            raise LifecycleError(
                f"node {self.get_fully_qualified_name()} is in transition ({self._state.label}): "
                "wait for it to finish"
            )
        options = _BY_START.get(self._state, []) if self._state.is_primary else []
        for t in options:
            if (isinstance(transition, str) and t.label == transition) or (
                not isinstance(transition, str) and int(t.id) == int(transition)
            ):
                return t
        if isinstance(transition, str):
            what = repr(transition)
        else:
            try:
                what = f"{TransitionId(transition).name.lower()!r} ({int(transition)})"
            except ValueError:
                what = f"unknown transition id {int(transition)}"
        allowed = ", ".join(f"{t.label} ({int(t.id)})" for t in options) or "none"
        raise LifecycleError(
            f"cannot {what} node {self.get_fully_qualified_name()} from state {self._state.label!r}; "
            f"allowed now: {allowed}"
        )

    async def trigger_transition(self, transition: int | str) -> TransitionCallbackReturn:
        """Run the public transition ``transition`` (``"configure"`` or a ``TransitionId``).

        Returns what the node's callback returned; the node is then in the resulting
        primary state. Raises :class:`LifecycleError` if the transition is not allowed from
        the current state (or another one is running).
        """
        first = self._find(transition)
        async with self._transition_lock:
            start = self._state
            await self._move(first)
            if first.goal is LifecycleState.DEACTIVATING:
                for publisher in self._managed:
                    publisher.on_deactivate()
            result = await self._call(first.goal, start)
            await self._move(_outcome(first.goal, result))
            if result is TransitionCallbackReturn.ERROR:
                error_result = await self._call(LifecycleState.ERRORPROCESSING, start)
                await self._move(_outcome(LifecycleState.ERRORPROCESSING, error_result))
            active = self._state is LifecycleState.ACTIVE
            for publisher in self._managed:
                if active:
                    publisher.on_activate()
                else:
                    publisher.on_deactivate()
            return result

    _CALLBACKS: ClassVar[dict[LifecycleState, str]] = {
        LifecycleState.CONFIGURING: "on_configure",
        LifecycleState.CLEANINGUP: "on_cleanup",
        LifecycleState.ACTIVATING: "on_activate",
        LifecycleState.DEACTIVATING: "on_deactivate",
        LifecycleState.SHUTTINGDOWN: "on_shutdown",
        LifecycleState.ERRORPROCESSING: "on_error",
    }

    async def _call(
        self, transition_state: LifecycleState, start: LifecycleState
    ) -> TransitionCallbackReturn:
        name = self._CALLBACKS[transition_state]
        try:
            result = await call_maybe_async(getattr(self, name), start)
        except Exception:
            self.get_logger().exception("%s raised: treated as ERROR", name)
            return TransitionCallbackReturn.ERROR
        if result is None:
            return TransitionCallbackReturn.SUCCESS
        try:
            return TransitionCallbackReturn(result)
        except ValueError:
            self.get_logger().error(
                "%s returned %r, not a TransitionCallbackReturn: treated as ERROR", name, result
            )
            return TransitionCallbackReturn.ERROR

    async def _move(self, transition: _Transition) -> None:
        self._state = transition.goal
        self.get_logger().debug(
            "lifecycle %s: %s -> %s", transition.label, transition.start.label, transition.goal.label
        )
        if self._transition_pub is None:
            return
        event = interface_class("lifecycle_msgs/msg/TransitionEvent")(
            timestamp=time.time_ns(),
            transition=interface_class("lifecycle_msgs/msg/Transition")(
                id=int(transition.id), label=transition.label
            ),
            start_state=transition.start.to_msg(),
            goal_state=transition.goal.to_msg(),
        )
        try:
            await self._transition_pub.publish(event)
        except Exception:
            self.get_logger().warning("could not publish a transition event", exc_info=True)

    # -- services -------------------------------------------------------------------------
    async def _srv_change_state(self, request: Any, response: Any) -> Any:
        wanted: int | str = request.transition.label or request.transition.id
        try:
            result = await self.trigger_transition(wanted)
        except LifecycleError as exc:
            self.get_logger().warning("change_state refused: %s", exc)
            response.success = False
            return response
        response.success = result is TransitionCallbackReturn.SUCCESS
        return response

    def _srv_get_state(self, request: Any, response: Any) -> Any:
        response.current_state = self._state.to_msg()
        return response

    def _srv_available_states(self, request: Any, response: Any) -> Any:
        response.available_states = [s.to_msg() for s in _STATES]
        return response

    def _srv_available_transitions(self, request: Any, response: Any) -> Any:
        transitions = _BY_START.get(self._state, []) if self._state.is_primary else []
        response.available_transitions = [t.to_description() for t in transitions]
        return response

    def _srv_transition_graph(self, request: Any, response: Any) -> Any:
        response.available_transitions = [t.to_description() for t in _TRANSITIONS]
        return response
