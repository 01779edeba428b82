"""``rclpy.lifecycle.node``: managed nodes whose transition callbacks run like rclpy's.

The state machine is rcl_lifecycle's (the table of :mod:`robotfleet_nodes.node.lifecycle`).
A transition runs its callback on the thread that asked for it: ``trigger_configure()``
and friends on the caller's thread, a ``~/change_state`` request on the executor running
the lifecycle services (in their callback group), never on the asyncio thread. As in rclpy,
the default ``on_*`` callbacks pass the transition on to the node's managed entities
(lifecycle publishers are enabled on activate, disabled on deactivate).
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar, NamedTuple

from robotfleet_nodes.errors import LifecycleError
from robotfleet_nodes.node.lifecycle import (
    LIFECYCLE_SERVICES,
    TRANSITIONS,
    TransitionCallbackReturn,
    allowed_transitions,
    transition_outcome,
)
from robotfleet_nodes.node.lifecycle import (
    LifecycleState as _State,
)
from robotfleet_nodes.node.parameters import interface_class
from robotfleet_nodes.qos import QoSProfile

from .. import _core
from ..callback_groups import CallbackGroup
from ..logging import RcutilsLogger
from ..node import Node, Publisher
from .managed_entity import ManagedEntity
from .publisher import LifecyclePublisher

__all__ = ["LifecycleNode", "LifecycleNodeMixin", "LifecycleState", "TransitionCallbackReturn"]


class LifecycleState(NamedTuple):
    """A state as rclpy passes it to transition callbacks."""

    label: str
    state_id: int


def _state(state: _State) -> LifecycleState:
    return LifecycleState(label=state.label, state_id=int(state))


class LifecycleNodeMixin(ManagedEntity):
    """The lifecycle part of :class:`LifecycleNode`; needs :class:`rclpy.node.Node` beside it."""

    _CALLBACKS: ClassVar[dict[_State, str]] = {
        _State.CONFIGURING: "on_configure",
        _State.CLEANINGUP: "on_cleanup",
        _State.SHUTTINGDOWN: "on_shutdown",
        _State.ACTIVATING: "on_activate",
        _State.DEACTIVATING: "on_deactivate",
        _State.ERRORPROCESSING: "on_error",
    }
    _logger: RcutilsLogger

    def __init__(
        self, *, enable_communication_interface: bool = True, callback_group: CallbackGroup | None = None
    ) -> None:
        """Offer the lifecycle services (in ``callback_group``, default: the node's) and
        ``~/transition_event`` unless ``enable_communication_interface`` is False."""
        if not isinstance(self, Node):
            raise LifecycleError("LifecycleNodeMixin needs rclpy.node.Node in the class's bases")
        node: Node = self
        self._lc_state = _State.UNCONFIGURED
        self._lc_lock = threading.Lock()
        self._managed_entities: set[ManagedEntity] = set()
        self._transition_pub: Publisher | None = None
        if not enable_communication_interface:
            return
        group = callback_group if callback_group is not None else node.default_callback_group
        self._transition_pub = node.create_publisher(
            interface_class("lifecycle_msgs/msg/TransitionEvent"), "~/transition_event", 10
        )
        handlers = {
            "change_state": self._on_change_state,
            "get_state": self._on_get_state,
            "get_available_states": self._on_get_available_states,
            "get_available_transitions": self._on_get_available_transitions,
            "get_transition_graph": self._on_get_transition_graph,
        }
        for name, type_name in LIFECYCLE_SERVICES:
            node.create_service(interface_class(type_name), f"~/{name}", handlers[name], callback_group=group)

    # -- triggering -----------------------------------------------------------------------
    def trigger_configure(self) -> TransitionCallbackReturn:
        return self._change_state(1)

    def trigger_cleanup(self) -> TransitionCallbackReturn:
        return self._change_state(2)

    def trigger_activate(self) -> TransitionCallbackReturn:
        return self._change_state(3)

    def trigger_deactivate(self) -> TransitionCallbackReturn:
        return self._change_state(4)

    def trigger_shutdown(self) -> TransitionCallbackReturn:
        shutdown = [t for t in allowed_transitions(self._lc_state) if t.label == "shutdown"]
        if not shutdown:
            raise LifecycleError(
                f"Shutdown transition not possible from state {self._lc_state.label!r}: "
                "wait for the running transition to end"
            )
        return self._change_state(int(shutdown[0].id))

    # -- managed entities -------------------------------------------------------------------
    def add_managed_entity(self, entity: ManagedEntity) -> None:
        if not isinstance(entity, ManagedEntity):
            raise TypeError("Expected a rclpy.lifecycle.ManagedEntity instance.")
        self._managed_entities.add(entity)

    def _pass_on(self, name: str, state: LifecycleState) -> TransitionCallbackReturn:
        for entity in list(self._managed_entities):
            ret = getattr(entity, name)(state)
            if not isinstance(ret, TransitionCallbackReturn):
                raise TypeError(
                    f"{name}() return value of class {type(entity)} should be `TransitionCallbackReturn`."
                )
            if ret is not TransitionCallbackReturn.SUCCESS:
                return ret
        return TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Configuring: by default, pass on to the managed entities (override to add to it)."""
        return self._pass_on("on_configure", state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Cleaning up: by default, pass on to the managed entities."""
        return self._pass_on("on_cleanup", state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Shutting down: by default, pass on to the managed entities."""
        return self._pass_on("on_shutdown", state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Activating: by default, enable the managed entities (call it when overriding)."""
        return self._pass_on("on_activate", state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Deactivating: by default, disable the managed entities (call it when overriding)."""
        return self._pass_on("on_deactivate", state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Error processing: by default, pass on to the managed entities."""
        return self._pass_on("on_error", state)

    # -- lifecycle publishers -------------------------------------------------------------------
    def create_lifecycle_publisher(
        self,
        msg_type: type[Any],
        topic: str,
        qos_profile: QoSProfile | int,
        *,
        publisher_class: None = None,
        **kwargs: Any,
    ) -> LifecyclePublisher:
        """A publisher that publishes only while the node is active."""
        if publisher_class:
            raise TypeError("create_publisher() got an unexpected keyword argument 'publisher_class'")
        assert isinstance(self, Node)
        plain = Node.create_publisher(self, msg_type, topic, qos_profile, **kwargs)
        publisher = LifecyclePublisher(plain._core, plain.msg_type, plain.topic_name)
        self._managed_entities.add(publisher)
        return publisher

    def destroy_lifecycle_publisher(self, publisher: LifecyclePublisher) -> bool:
        return self.destroy_publisher(publisher)

    def destroy_publisher(self, publisher: Publisher) -> bool:
        """Destroy ``publisher`` (a lifecycle one too)."""
        if isinstance(publisher, ManagedEntity):
            self._managed_entities.discard(publisher)
        base = getattr(super(), "destroy_publisher", None)
        if base is not None:
            return bool(base(publisher))
        if _core.is_running():
            _core.run(publisher._core.destroy())
        return True

    # -- the state machine ------------------------------------------------------------------------
    def _move(self, transition: Any) -> None:
        self._lc_state = transition.goal
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
        self._transition_pub.publish(event)

    def _callback(self, transition_state: _State, previous: LifecycleState) -> TransitionCallbackReturn:
        try:
            ret = getattr(self, self._CALLBACKS[transition_state])(previous)
        except Exception:
            return TransitionCallbackReturn.ERROR
        if not isinstance(ret, TransitionCallbackReturn):
            self._logger.error(
                f"{self._CALLBACKS[transition_state]}() returned {ret!r}, not a TransitionCallbackReturn: "
                "treated as ERROR"
            )
            return TransitionCallbackReturn.ERROR
        return ret

    def _change_state(self, transition_id: int) -> TransitionCallbackReturn:
        if not self._lc_lock.acquire(blocking=False):
            self._logger.error(
                f"Unable to start transition {transition_id}: the node is in transition "
                f"({self._lc_state.label}); wait for it to end"
            )
            return TransitionCallbackReturn.ERROR
        try:
            start = self._lc_state
            first = next((t for t in allowed_transitions(start) if int(t.id) == transition_id), None)
            if first is None:
                self._logger.error(
                    f"Unable to start transition {transition_id} from current state "
                    f"({int(start)}, '{start.label}')"
                )
                return TransitionCallbackReturn.ERROR
            previous = _state(start)
            self._move(first)
            ret = self._callback(first.goal, previous)
            self._move(transition_outcome(first.goal, ret))
            if ret is TransitionCallbackReturn.ERROR:
                error_ret = self._callback(_State.ERRORPROCESSING, previous)
                self._move(transition_outcome(_State.ERRORPROCESSING, error_ret))
            return ret
        finally:
            self._lc_lock.release()

    # -- services (on an executor) -----------------------------------------------------------------
    def _on_change_state(self, request: Any, response: Any) -> Any:
        transition_id = int(request.transition.id)
        if request.transition.label:
            found = [t for t in allowed_transitions(self._lc_state) if t.label == request.transition.label]
            if not found:
                response.success = False
                return response
            transition_id = int(found[0].id)
        response.success = self._change_state(transition_id) is TransitionCallbackReturn.SUCCESS
        return response

    def _on_get_state(self, request: Any, response: Any) -> Any:
        response.current_state = self._lc_state.to_msg()
        return response

    def _on_get_available_states(self, request: Any, response: Any) -> Any:
        response.available_states = [s.to_msg() for s in _State if s is not _State.UNKNOWN]
        return response

    def _on_get_available_transitions(self, request: Any, response: Any) -> Any:
        response.available_transitions = [t.to_description() for t in allowed_transitions(self._lc_state)]
        return response

    def _on_get_transition_graph(self, request: Any, response: Any) -> Any:
        response.available_transitions = [t.to_description() for t in TRANSITIONS]
        return response


class LifecycleNode(LifecycleNodeMixin, Node):
    """A managed node (like ``rclpy.lifecycle.LifecycleNode``): override ``on_configure`` ...
    ``on_error``; drive it with ``trigger_configure()`` ... or ``~/change_state``."""

    def __init__(self, node_name: str, *, enable_communication_interface: bool = True, **kwargs: Any) -> None:
        Node.__init__(self, node_name, **kwargs)
        LifecycleNodeMixin.__init__(self, enable_communication_interface=enable_communication_interface)
