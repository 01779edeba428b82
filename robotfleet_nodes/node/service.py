"""Service servers and clients (request/reply; replicas of a server share the load)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from robotfleet_nodes._callbacks import is_async
from robotfleet_nodes.transport import ClientHandle, EndpointInfo, EntityStats, ServiceHandle

if TYPE_CHECKING:
    from robotfleet_nodes.node.node import Node

__all__ = ["Client", "Service", "adapt_handler"]

SrvT = TypeVar("SrvT")

#: Default seconds ``Client.call`` waits for a response.
DEFAULT_CALL_TIMEOUT = 5.0


def adapt_handler(srv_type: Any, handler: Callable[..., Any]) -> Callable[[Any], Any]:
    """Accept both handler styles: ``handler(request)`` and rclpy's ``handler(request, response)``.

    A plain function stays a plain function (the transport answers it without a task);
    a coroutine function stays a coroutine function.
    """
    try:
        params = [
            p
            for p in inspect.signature(handler).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
    except (TypeError, ValueError):  # builtins without a signature
        params = []
    if len(params) < 2:
        return handler
    response_cls = srv_type.Response
    if is_async(handler):

        async def two_args_async(request: Any) -> Any:
            return await handler(request, response_cls())

        return two_args_async

    def two_args(request: Any) -> Any:
        return handler(request, response_cls())

    return two_args


class Service(Generic[SrvT]):
    """Answers requests on one service name. Create with ``node.create_service``."""

    __slots__ = ("_handle", "endpoint", "node", "srv_type")

    def __init__(
        self, node: Node, srv_type: type[SrvT], endpoint: EndpointInfo, handle: ServiceHandle
    ) -> None:
        self.node = node
        self.srv_type = srv_type
        self.endpoint = endpoint
        self._handle = handle

    @property
    def service_name(self) -> str:
        return self.endpoint.name

    @property
    def stats(self) -> EntityStats:
        return self._handle.stats

    async def destroy(self) -> None:
        await self.node.destroy_service(self)

    async def _close(self) -> None:
        await self._handle.close()

    def describe(self) -> dict[str, Any]:
        return self.endpoint.describe()


class Client(Generic[SrvT]):
    """Calls one service: ``response = await client.call(request, timeout=2.0)``."""

    __slots__ = ("_handle", "endpoint", "node", "srv_type")

    def __init__(
        self, node: Node, srv_type: type[SrvT], endpoint: EndpointInfo, handle: ClientHandle
    ) -> None:
        self.node = node
        self.srv_type = srv_type
        self.endpoint = endpoint
        self._handle = handle

    @property
    def service_name(self) -> str:
        return self.endpoint.name

    async def call(self, request: Any, *, timeout: float = DEFAULT_CALL_TIMEOUT) -> Any:
        """Send ``request`` and return the response.

        Raises ``TypeError`` for a request of the wrong type, ``ServiceUnavailable`` when no
        server exists and ``ServiceTimeout`` when the server does not answer in time.
        """
        expected = self.srv_type.Request  # type: ignore[attr-defined]
        if type(request) is not expected and not isinstance(request, expected):
            raise TypeError(
                f"Expected {getattr(expected, '__ros_type__', expected.__name__)}, "
                f"got {getattr(type(request), '__ros_type__', type(request).__name__)}"
            )
        return await self._handle.call(request, timeout=timeout)

    async def wait_for_service(self, timeout: float = 5.0) -> bool:
        """True once a server exists; False if none appeared within ``timeout`` seconds."""
        return await self._handle.wait_for_service(timeout=timeout)

    async def destroy(self) -> None:
        await self.node.destroy_client(self)

    async def _close(self) -> None:
        await self._handle.close()

    def describe(self) -> dict[str, Any]:
        return self.endpoint.describe()
