"""``ament_index_python.search_paths``: the prefixes searched (as ament's module)."""

from __future__ import annotations

from robotfleet_nodes.ament_index import get_search_paths

__all__ = ["get_search_paths"]
