"""``rclpy.signals``: which signal handlers ``rclpy.init()`` installs (SIGINT only here)."""

from __future__ import annotations

from enum import IntEnum

from . import _core

__all__ = [
    "SignalHandlerOptions",
    "get_current_signal_handlers_options",
    "install_signal_handlers",
    "uninstall_signal_handlers",
]


class SignalHandlerOptions(IntEnum):
    """rclpy's options; ``SIGTERM`` is accepted and leaves SIGTERM to Python's default."""

    NO = 0
    SIGINT = 1
    SIGTERM = 2
    ALL = 3


_current: list[SignalHandlerOptions] = [SignalHandlerOptions.NO]


def install_signal_handlers(options: SignalHandlerOptions = SignalHandlerOptions.ALL) -> None:
    """Ctrl-C makes ``rclpy.ok()`` false, wakes sleepers, then raises ``KeyboardInterrupt``."""
    if options in (SignalHandlerOptions.SIGINT, SignalHandlerOptions.ALL):
        _core.install_sigint()
    _current[0] = options


def get_current_signal_handlers_options() -> SignalHandlerOptions:
    """What :func:`install_signal_handlers` was last given (``NO`` before)."""
    return _current[0]


def uninstall_signal_handlers() -> None:
    """Restore the handler found before :func:`install_signal_handlers`."""
    _core.uninstall_sigint()
    _current[0] = SignalHandlerOptions.NO
