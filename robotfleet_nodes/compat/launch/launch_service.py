"""``launch.LaunchService``: run descriptions from a Python script with our launch service."""

from __future__ import annotations

from collections.abc import Iterable

from robotfleet_nodes.launch import LaunchError
from robotfleet_nodes.launch import LaunchService as _CoreLaunchService

from .launch_description import LaunchDescription

__all__ = ["LaunchService"]


class LaunchService:
    """Collects included descriptions; :meth:`run` runs them until the launch ends.

    ``argv`` items ``name:=value`` are launch arguments.
    """

    def __init__(
        self, *, argv: Iterable[str] | None = None, noninteractive: bool = False, debug: bool = False
    ) -> None:
        self._arguments: dict[str, str] = {}
        for item in argv or ():
            name, sep, value = item.partition(":=")
            if sep and name:
                self._arguments[name] = value
        self._descriptions: list[LaunchDescription] = []
        self._service: _CoreLaunchService | None = None

    def include_launch_description(self, launch_description: LaunchDescription) -> None:
        """Add a description to run."""
        self._descriptions.append(launch_description)

    def run(self, *, shutdown_when_idle: bool = True) -> int:
        """Run everything included; the exit code (0, or 1 after a failure)."""
        if not shutdown_when_idle:
            raise LaunchError("LaunchService.run(shutdown_when_idle=False) is not supported")
        self._service = _CoreLaunchService(LaunchDescription(self._descriptions), arguments=self._arguments)
        return self._service.run()

    def shutdown(self, force_sync: bool = False) -> None:
        """Ask a running launch to end."""
        if self._service is not None:
            self._service.shutdown("LaunchService.shutdown() called")
