"""The area tier: :class:`AreaNode`, run by the ``area`` executable (:mod:`.main`).

Names are imported on first access (the package stays cheap to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes._lazy import lazy_attributes

if TYPE_CHECKING:
    from robotfleet_nodes.area.node import AreaNode

__all__ = ["AreaNode"]

__getattr__, __dir__ = lazy_attributes(__name__, {"AreaNode": "node"})
