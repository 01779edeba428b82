"""``rclpy.callback_groups``: which callbacks may run at the same time."""

from __future__ import annotations

import threading

__all__ = ["CallbackGroup", "MutuallyExclusiveCallbackGroup", "ReentrantCallbackGroup"]


class CallbackGroup:
    """The base: every callback of a node belongs to one group."""

    def can_execute(self) -> bool:
        """Whether a callback of this group may start now."""
        return True

    def beginning_execution(self) -> bool:
        """Claim a slot; False if the group is busy."""
        return True

    def ending_execution(self) -> None:
        """Release the slot claimed by :meth:`beginning_execution`."""


class ReentrantCallbackGroup(CallbackGroup):
    """Its callbacks may run in parallel (on a multi-threaded executor)."""


class MutuallyExclusiveCallbackGroup(CallbackGroup):
    """One callback of the group at a time (a node's default group)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = False

    def can_execute(self) -> bool:
        return not self._busy

    def beginning_execution(self) -> bool:
        with self._lock:
            if self._busy:
                return False
            self._busy = True
            return True

    def ending_execution(self) -> None:
        with self._lock:
            self._busy = False
