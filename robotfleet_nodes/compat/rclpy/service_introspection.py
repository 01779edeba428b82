"""``rclpy.service_introspection``: what a service or client tells ``<service>/_service_event``."""

from __future__ import annotations

import enum

__all__ = ["ServiceIntrospectionState"]


class ServiceIntrospectionState(enum.IntEnum):
    """``OFF``: no events; ``METADATA``: events without the request/response; ``CONTENTS``: with them."""

    OFF = 0
    METADATA = 1
    CONTENTS = 2
