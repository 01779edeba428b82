"""``rclpy.qos_event``: the old name of :mod:`rclpy.event_handler` (deprecated in rclpy too)."""

from __future__ import annotations

import warnings

from . import event_handler as _event_handler
from .event_handler import *  # noqa: F403 - the same names, under the old module

__all__ = list(_event_handler.__all__)

warnings.warn("importing 'qos_event' is deprecated; import 'event_handler' instead", stacklevel=2)
