"""``rclpy.node.Node`` over RobotFleetOS: synchronous entity creation, callbacks on executors.

Each entity wraps one of our asyncio entities. The asyncio thread only queues what arrives
(a message, a request, a response) and wakes the executors; an executor takes it and runs
the user's callback on its own thread, honouring the entity's callback group.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from robotfleet_nodes.node import Node as _CoreNode
from robotfleet_nodes.qos import QoSProfile, as_qos

from . import _core
from ._entity import Entity, Work
from ._events import EntityEvents, publisher_events, subscription_events
from ._interfaces import refuse_rosidl as _check_ours
from ._introspection import (
    REQUEST_RECEIVED,
    REQUEST_SENT,
    RESPONSE_RECEIVED,
    RESPONSE_SENT,
    ClientIntrospectionMixin,
    IntrospectionMixin,
)
from ._node_graph import _GraphMixin, subscription_count
from ._node_logging import LoggingMixin, pop_logging_options
from ._node_params import ParametersMixin
from ._node_time import _TimeMixin
from .callback_groups import CallbackGroup, MutuallyExclusiveCallbackGroup
from .logging import RcutilsLogger
from .qos_overriding_options import QoSOverridingOptions, declare_qos_overrides
from .serialization import deserialize_message, serialize_message
from .task import Future
from .timer import Timer

__all__ = ["Client", "Node", "Publisher", "Service", "Subscription", "Timer"]


class Publisher:
    """Publishes synchronously: ``publish`` returns once the message was handed to the broker."""

    def __init__(self, core: Any, msg_type: type[Any], topic: str) -> None:
        self._core = core
        self.msg_type = msg_type
        self.topic_name: str = core.topic_name  # fully qualified, as rclpy's
        self._events: EntityEvents | None = None  # QoS event callbacks (_events.py)

    def get_subscription_count(self) -> int:
        """Subscriptions on this topic in the graph, from any process (one graph query)."""
        return subscription_count(self._core)

    def publish(self, msg: Any) -> None:
        """Send ``msg`` (an instance of the publisher's type, or its serialized ``bytes``)."""
        if isinstance(msg, bytes):
            msg = deserialize_message(msg, self.msg_type)
        _core.run(self._core.publish(msg))
        if self._events is not None:
            self._events.published()

    def assert_liveliness(self) -> None:
        """Assert this publisher's liveliness (MANUAL_BY_TOPIC: renews its lease, as ``publish``)."""
        if self._events is not None:
            self._events.asserted()


class Subscription(Entity):
    """Queues messages (KEEP_LAST depth) for ``callback(msg)`` on an executor."""

    def __init__(
        self,
        msg_type: type[Any],
        topic: str,
        callback: Callable[[Any], Any],
        qos: QoSProfile,
        group: CallbackGroup,
    ) -> None:
        super().__init__(group)
        self.msg_type = msg_type
        self.topic_name = topic
        self.callback = callback
        self._queue: deque[Any] = deque(maxlen=max(qos.depth, 1))
        self._core: Any = None
        self.raw = False  # True: the callback gets serialize_message(msg) (rclpy's raw=True)
        self._events: EntityEvents | None = None  # QoS event callbacks (_events.py)

    def _receive(self, msg: Any) -> None:  # on the asyncio thread
        with self._lock:
            self._queue.append(msg)
        if self._events is not None:
            self._events.received()
        _core.notify()

    def _take(self, now: float) -> Work | None:
        with self._lock:
            if not self._queue:
                return None
            msg = self._queue.popleft()
        if self.raw:
            msg = serialize_message(msg)
        return lambda: self.callback(msg)


class Service(IntrospectionMixin, Entity):
    """Answers requests with ``callback(request, response)`` run on an executor."""

    def __init__(
        self, srv_type: type[Any], name: str, callback: Callable[[Any, Any], Any], group: CallbackGroup
    ) -> None:
        super().__init__(group)
        self.srv_type = srv_type
        self.srv_name = name
        self.callback = callback
        self._queue: deque[tuple[Any, asyncio.Future[Any]]] = deque()
        self._core: Any = None

    async def _handle(self, request: Any) -> Any:  # on the asyncio thread
        sequence_number = self._next_sequence_number()
        await self._event(REQUEST_RECEIVED, sequence_number, request=request)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queue.append((request, answer))
        _core.notify()
        response = await answer
        await self._event(RESPONSE_SENT, sequence_number, response=response)
        return response

    def _take(self, now: float) -> Work | None:
        with self._lock:
            if not self._queue:
                return None
            request, answer = self._queue.popleft()

        def work() -> None:
            loop = answer.get_loop()
            try:
                response = self.callback(request, self.srv_type.Response())
            except BaseException as exc:
                loop.call_soon_threadsafe(answer.set_exception, exc)
                raise
            loop.call_soon_threadsafe(answer.set_result, response)

        return work


class Client(ClientIntrospectionMixin, Entity):
    """Calls a service: ``call_async`` returns a :class:`Future` completed on an executor."""

    def __init__(self, srv_type: type[Any], name: str, group: CallbackGroup) -> None:
        super().__init__(group)
        self.srv_type = srv_type
        self.srv_name = name
        self._queue: deque[tuple[Future, Any, BaseException | None]] = deque()
        self._core: Any = None

    def call_async(self, request: Any) -> Future:
        """Send ``request``; the future completes when an executor spinning the node takes the response."""
        if not isinstance(request, self.srv_type.Request):
            expected = self.srv_type.Request.__name__
            raise TypeError(f"{self.srv_name}: expected a {expected}, got {type(request)!r}")
        future = Future()

        async def call() -> None:
            sequence_number = self._next_sequence_number()
            try:
                await self._event(REQUEST_SENT, sequence_number, request=request)
                response = await self._core.call(request)
            except Exception as exc:
                self._answer(future, None, exc)
            else:
                await self._event(RESPONSE_RECEIVED, sequence_number, response=response)
                self._answer(future, response, None)

        _core.submit(call())
        return future

    def call(self, request: Any, timeout_sec: float | None = None) -> Any:
        """Send ``request`` and wait for the response (from a thread other than the one
        spinning); ``TimeoutError`` after ``timeout_sec`` (None: wait forever)."""
        future = self.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        if not future.done() and not done.wait(timeout_sec):
            future.cancel()
            raise TimeoutError(f"no response from service {self.srv_name} within {timeout_sec} s")
        exception = future.exception()
        if exception is not None:
            raise exception
        return future.result()

    def _answer(self, future: Future, response: Any, exc: BaseException | None) -> None:
        with self._lock:
            self._queue.append((future, response, exc))
        _core.notify()

    def _take(self, now: float) -> Work | None:
        with self._lock:
            if not self._queue:
                return None
            future, response, exc = self._queue.popleft()
        if exc is not None:
            return lambda: future.set_exception(exc)
        return lambda: future.set_result(response)

    def service_is_ready(self) -> bool:
        return bool(_core.run(self._core.wait_for_service(timeout=0.0)))

    def wait_for_service(self, timeout_sec: float | None = None) -> bool:
        """True once a server exists; False after ``timeout_sec`` (None: wait forever)."""
        if timeout_sec is not None:
            return bool(_core.run(self._core.wait_for_service(timeout=timeout_sec)))
        while not _core.run(self._core.wait_for_service(timeout=1.0)):
            pass
        return True


class Node(ParametersMixin, _TimeMixin, _GraphMixin, LoggingMixin):
    """A ROS 2 node (like ``rclpy.node.Node``), on the context ``rclpy.init()`` made."""

    def __init__(self, node_name: str, *, namespace: str | None = None, **options: Any) -> None:
        services = options.pop("start_parameter_services", True)
        declare = options.pop("automatically_declare_parameters_from_overrides", False)
        options["start_parameter_services"] = False  # ours answer them on an executor
        logging_options = pop_logging_options(options)
        self._core = _CoreNode(node_name, context=_core.context(), namespace=namespace or "", **options)
        _core.run(self._core.start())
        self.default_callback_group: CallbackGroup = MutuallyExclusiveCallbackGroup()
        self._entities: list[Entity] = []
        self._entities_lock = threading.Lock()
        self._logger = RcutilsLogger(self._core.get_fully_qualified_name().strip("/").replace("/", "."))
        self._executor: Any = None
        self._init_parameters(start_parameter_services=services, automatically_declare=declare)
        self._init_time()
        self._init_logging(self._logger.name, logging_options)

    # -- identity -------------------------------------------------------------------
    def get_name(self) -> str:
        return self._core.get_name()

    def get_namespace(self) -> str:
        return self._core.get_namespace()

    def get_fully_qualified_name(self) -> str:
        return self._core.get_fully_qualified_name()

    def get_logger(self) -> RcutilsLogger:
        """The node's logger: ``[INFO] [<epoch>.<ns>] [<node name>]: msg`` on stderr."""
        return self._logger

    @property
    def executor(self) -> Any:
        return self._executor

    def _add(self, entity: Entity) -> None:
        with self._entities_lock:
            self._entities.append(entity)
        _core.notify()

    def _snapshot(self) -> list[Entity]:
        with self._entities_lock:
            return list(self._entities)

    # -- entities -------------------------------------------------------------------
    def create_publisher(
        self,
        msg_type: type[Any],
        topic: str,
        qos_profile: QoSProfile | int,
        *,
        qos_overriding_options: QoSOverridingOptions | None = None,
        **_: Any,
    ) -> Publisher:
        """A publisher of ``msg_type`` on ``topic`` (an int QoS is a KEEP_LAST depth)."""
        _check_ours(msg_type)
        qos_profile = declare_qos_overrides(
            self, "publisher", self._core.resolve_name(topic), qos_profile, qos_overriding_options
        )
        core = _core.run(self._core.create_publisher(msg_type, topic, qos_profile))
        pub = Publisher(core, msg_type, topic)
        group = _.get("callback_group") or self.default_callback_group
        pub._events = publisher_events(self, core, _.get("event_callbacks"), group)
        return pub

    def create_subscription(
        self,
        msg_type: type[Any],
        topic: str,
        callback: Callable[[Any], Any],
        qos_profile: QoSProfile | int,
        *,
        callback_group: CallbackGroup | None = None,
        raw: bool = False,
        qos_overriding_options: QoSOverridingOptions | None = None,
        **_: Any,
    ) -> Subscription:
        """Call ``callback(msg)`` on an executor for each message on ``topic``."""
        _check_ours(msg_type)
        qos_profile = declare_qos_overrides(
            self, "subscription", self._core.resolve_name(topic), qos_profile, qos_overriding_options
        )
        qos = as_qos(qos_profile)
        sub = Subscription(msg_type, topic, callback, qos, callback_group or self.default_callback_group)
        sub.raw = raw
        sub._core = _core.run(self._core.create_subscription(msg_type, topic, sub._receive, qos))
        sub.topic_name = sub._core.topic_name  # fully qualified, as rclpy's
        self._add(sub)
        sub._events = subscription_events(self, sub._core, _.get("event_callbacks"), sub.callback_group)
        return sub

    def create_service(
        self,
        srv_type: type[Any],
        srv_name: str,
        callback: Callable[[Any, Any], Any],
        *,
        callback_group: CallbackGroup | None = None,
        **_: Any,
    ) -> Service:
        """Answer ``srv_type`` requests with ``callback(request, response)`` on an executor."""
        _check_ours(srv_type)
        srv = Service(srv_type, srv_name, callback, callback_group or self.default_callback_group)
        srv._core = _core.run(self._core.create_service(srv_type, srv_name, srv._handle))
        self._add(srv)
        return srv

    def create_client(
        self, srv_type: type[Any], srv_name: str, *, callback_group: CallbackGroup | None = None, **_: Any
    ) -> Client:
        """A client of the ``srv_type`` service ``srv_name``."""
        _check_ours(srv_type)
        client = Client(srv_type, srv_name, callback_group or self.default_callback_group)
        client._core = _core.run(self._core.create_client(srv_type, srv_name))
        self._add(client)
        return client

    def _snapshot_remove(self, entity: Entity) -> bool:
        with self._entities_lock:
            if entity not in self._entities:
                return False
            self._entities.remove(entity)
        return True

    def destroy_node(self) -> None:
        """Destroy every entity and leave the graph."""
        self._stop_logging()
        with self._entities_lock:
            self._entities.clear()
        if self._executor is not None:
            self._executor.remove_node(self)
        if _core.is_running():
            _core.run(self._core.destroy_node())
