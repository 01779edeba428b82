"""``rclpy.callback_groups``: which callbacks may run at the same time.

As in rclpy, the executor asks the entity's group before it runs a callback
(``can_execute(entity)``, ``beginning_execution(entity)``) and tells it when the callback
ended (``ending_execution(entity)``); a custom group overrides these three.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["CallbackGroup", "MutuallyExclusiveCallbackGroup", "ReentrantCallbackGroup"]


class CallbackGroup:
    """The base: every callback of a node belongs to one group."""

    def __init__(self) -> None:
        self.entities: weakref.WeakSet[Any] = weakref.WeakSet()

    def add_entity(self, entity: Any) -> None:
        """Make ``entity`` (a timer, subscription, service, client, ...) a member."""
        self.entities.add(entity)

    def has_entity(self, entity: Any) -> bool:
        return entity in self.entities

    def can_execute(self, entity: Any) -> bool:
        """Whether a callback of ``entity`` may start now."""
        return True

    def beginning_execution(self, entity: Any) -> bool:
        """Claim a slot for ``entity``'s callback; False if the group is busy."""
        return True

    def ending_execution(self, entity: Any) -> None:
        """Release the slot claimed by :meth:`beginning_execution`."""


class ReentrantCallbackGroup(CallbackGroup):
    """Its callbacks may run in parallel (on a multi-threaded executor)."""


class MutuallyExclusiveCallbackGroup(CallbackGroup):
    """One callback of the group at a time (a node's default group)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._busy = False

    def can_execute(self, entity: Any) -> bool:
        return not self._busy

    def beginning_execution(self, entity: Any) -> bool:
        with self._lock:
            if self._busy:
                return False
            self._busy = True
            return True

    def ending_execution(self, entity: Any) -> None:
        with self._lock:
            self._busy = False
