"""``rclpy.guard_condition.GuardCondition``: wake an executor from any thread with ``trigger()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _core
from ._entity import Entity, Work
from .callback_groups import CallbackGroup

__all__ = ["GuardCondition"]


class GuardCondition(Entity):
    """``trigger()`` makes it ready; an executor spinning its node then runs ``callback()``
    once, honouring its callback group (triggers before that run collapse into one, as in rcl)."""

    def __init__(self, callback: Callable[[], Any] | None, callback_group: CallbackGroup) -> None:
        super().__init__(callback_group)
        self.callback = callback
        self._triggered = False

    def trigger(self) -> None:
        """Make the guard condition ready (thread-safe)."""
        with self._lock:
            self._triggered = True
        _core.notify()

    def _take(self, now: float) -> Work | None:
        with self._lock:
            if not self._triggered or self._destroyed:
                return None
            self._triggered = False
        callback = self.callback
        return callback if callback is not None else (lambda: None)

    def destroy(self) -> None:
        """Stop (use ``Node.destroy_guard_condition``)."""
        self._destroyed = True
