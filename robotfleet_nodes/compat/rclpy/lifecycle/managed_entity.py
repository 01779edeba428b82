"""``rclpy.lifecycle.managed_entity``: what a lifecycle node's transitions are passed on to."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.node.lifecycle import TransitionCallbackReturn

if TYPE_CHECKING:
    from .node import LifecycleState

__all__ = ["ManagedEntity", "SimpleManagedEntity"]


class ManagedEntity:
    """An entity whose ``on_*`` callbacks a lifecycle node calls in its own (default) ones."""

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Handle configure transition request."""
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Handle cleanup transition request."""
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Handle shutdown transition request."""
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Handle activate transition request."""
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Handle deactivate transition request."""
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Handle error transition request."""
        return TransitionCallbackReturn.SUCCESS


class SimpleManagedEntity(ManagedEntity):
    """A managed entity that is enabled while its node is active."""

    def __init__(self) -> None:
        self._enabled = False

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._enabled = True
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._enabled = False
        return TransitionCallbackReturn.SUCCESS

    @property
    def is_activated(self) -> bool:
        return self._enabled

    @staticmethod
    def when_enabled(
        wrapped: Callable[..., None] | None = None, *, when_not_enabled: Callable[[], None] | None = None
    ) -> Any:
        """Decorate a method so that it does nothing (or ``when_not_enabled()``) while disabled."""

        def decorator(method: Callable[..., None]) -> Callable[..., None]:
            @functools.wraps(method)
            def only_when_enabled(self: SimpleManagedEntity, *args: Any, **kwargs: Any) -> None:
                if not self._enabled:
                    if when_not_enabled is not None:
                        when_not_enabled()
                    return
                method(self, *args, **kwargs)

            return only_when_enabled

        return decorator if wrapped is None else decorator(wrapped)
