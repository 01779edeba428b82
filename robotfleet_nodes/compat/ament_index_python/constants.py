"""``ament_index_python.constants`` (as ament's module)."""

from __future__ import annotations

from robotfleet_nodes.ament_index import RESOURCE_INDEX_SUBFOLDER

__all__ = ["AMENT_PREFIX_PATH_ENV_VAR", "RESOURCE_INDEX_SUBFOLDER"]

AMENT_PREFIX_PATH_ENV_VAR = "AMENT_PREFIX_PATH"
