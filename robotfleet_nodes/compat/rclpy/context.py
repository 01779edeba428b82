"""``rclpy.context.Context``: the default context (the only one our rclpy has)."""

from __future__ import annotations

from collections.abc import Callable

from . import _core

__all__ = ["Context"]


class Context:
    """The process's rclpy context: ``rclpy.init()`` starts it, ``rclpy.shutdown()`` ends it.

    Only the default context exists (:func:`rclpy.utilities.get_default_context`); every
    instance speaks for it.
    """

    def ok(self) -> bool:
        """Whether rclpy is initialised and neither shut down nor interrupted."""
        return _core.is_running()

    def shutdown(self) -> None:
        """Shut down; ``RuntimeError`` if not initialised."""
        if not _core.is_initialised():
            raise _core.RclpyStateError(
                "rclpy.shutdown() without rclpy.init(): Context must be initialized before it can be "
                "shutdown; call rclpy.init() first"
            )
        _core.stop()

    def try_shutdown(self) -> None:
        """Shut down if initialised, else nothing."""
        if _core.is_initialised():
            _core.stop()

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when this context shuts down (at once if it is not ok)."""
        if not callable(callback):
            raise TypeError(f"callback should be a callable, got {type(callback)}")
        if not self.ok():
            callback()
            return
        _core.on_shutdown(callback)

    @property
    def handle(self) -> object | None:
        """Not ``None`` while initialised (rclpy code checks it before creating entities)."""
        return self if _core.is_initialised() else None
