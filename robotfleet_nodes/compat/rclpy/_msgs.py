"""The ``builtin_interfaces`` message classes, imported when first needed."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["builtin_msg"]


def builtin_msg(name: str) -> Any:
    """``builtin_interfaces.msg.<name>`` (ours: served by the interface finder)."""
    return getattr(importlib.import_module("builtin_interfaces.msg"), name)
