"""The zone tier: :class:`ZoneNode`, and :class:`ZoneComponent` to compose several zones in
one container; the ``zone`` executable is :mod:`.main`.

Names are imported on first access (the package stays cheap to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes._lazy import lazy_attributes

if TYPE_CHECKING:
    from robotfleet_nodes.zone.component import ZoneComponent
    from robotfleet_nodes.zone.node import ZoneNode

__all__ = ["ZoneComponent", "ZoneNode"]

__getattr__, __dir__ = lazy_attributes(__name__, {"ZoneComponent": "component", "ZoneNode": "node"})
