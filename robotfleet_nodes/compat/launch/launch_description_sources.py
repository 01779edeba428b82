"""``launch.launch_description_sources``: where an ``IncludeLaunchDescription`` gets its description.

Our loader picks the format by the file's suffix (``.py``, ``.yaml``/``.yml``, ``.xml``), so
every source is a path (text or substitutions) or an already built ``LaunchDescription``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnyLaunchDescriptionSource",
    "FrontendLaunchDescriptionSource",
    "LaunchDescriptionSource",
    "PythonLaunchDescriptionSource",
]


class LaunchDescriptionSource:
    """A ``launch_description`` given directly, or one loaded from ``location``."""

    def __init__(
        self, launch_description: Any = None, location: Any = "<string>", method: str = "interpreted"
    ) -> None:
        self.location: Any = launch_description if launch_description is not None else location
        self.method = method


class PythonLaunchDescriptionSource(LaunchDescriptionSource):
    """A ``*.launch.py`` file's ``generate_launch_description()``."""

    def __init__(self, launch_file_path: Any) -> None:
        super().__init__(location=launch_file_path, method="interpreted python launch file")


class FrontendLaunchDescriptionSource(LaunchDescriptionSource):
    """An XML or YAML launch file."""

    def __init__(self, launch_file_path: Any, parser: Any = None) -> None:
        super().__init__(location=launch_file_path, method="interpreted frontend launch file")


class AnyLaunchDescriptionSource(LaunchDescriptionSource):
    """A launch file of any format we load (chosen by its suffix)."""

    def __init__(self, launch_file_path: Any) -> None:
        super().__init__(location=launch_file_path, method="interpreted launch file")
