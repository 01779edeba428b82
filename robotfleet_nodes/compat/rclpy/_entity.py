"""What an executor polls: an entity with ready work, guarded by its callback group."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .callback_groups import CallbackGroup

__all__ = ["Entity", "Work"]

#: Work an executor runs: the user's callback with what it was given (its value: a coroutine
#: of an ``async def`` callback is driven on, see ``Executor._run``).
Work = Callable[[], Any]


class Entity:
    """What an executor polls: ready work, guarded by a callback group."""

    def __init__(self, group: CallbackGroup) -> None:
        self.callback_group = group
        group.add_entity(self)
        self._lock = threading.Lock()
        self._destroyed = False

    def _take(self, now: float) -> Work | None:
        raise NotImplementedError

    def _deadline(self) -> float | None:
        """When this entity becomes ready by itself (timers), else ``None``."""
        return None
