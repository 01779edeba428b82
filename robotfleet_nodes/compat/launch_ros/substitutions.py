"""``launch_ros.substitutions``: package folders from the ament index (like ``ros2 pkg prefix``)."""

from __future__ import annotations

import os
from typing import Any

import ament_index_python
from launch.substitutions import Substitution, SubstitutionFailure
from launch.utilities import perform_substitutions

__all__ = ["FindPackage", "FindPackagePrefix", "FindPackageShare"]


class FindPackagePrefix(Substitution):  # type: ignore[misc]
    """The install prefix of ``package`` (``ament_index_python.get_package_prefix``)."""

    def __init__(self, package: Any) -> None:
        super().__init__()
        self.package = package

    def find(self, package: str) -> str:
        """The folder for ``package``; a failure naming the package and the search paths."""
        try:
            prefix: str = ament_index_python.get_package_prefix(package)
        except (ament_index_python.PackageNotFoundError, LookupError, ValueError) as exc:
            raise SubstitutionFailure(f"package {package!r} not found in the ament index: {exc}") from exc
        return prefix

    def perform(self, context: Any) -> str:
        return self.find(perform_substitutions(context, self.package))

    def describe(self) -> str:
        return f"{type(self).__name__}({self.package!r})"


class FindPackageShare(FindPackagePrefix):
    """``<prefix>/share/<package>`` of ``package``."""

    def find(self, package: str) -> str:
        return os.path.join(super().find(package), "share", package)


class FindPackage(FindPackagePrefix):
    """The install prefix of ``package`` (ROS 2 keeps both names)."""
