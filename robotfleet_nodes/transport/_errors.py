"""Errors raised by transports beyond those of :mod:`robotfleet_nodes.errors`."""

from __future__ import annotations

from robotfleet_nodes.errors import RobotFleetError

__all__ = ["RemoteServiceError"]


class RemoteServiceError(RobotFleetError, RuntimeError):
    """The service handler raised; the message is ``service: ExceptionType: message``."""

    def __init__(self, service: str, detail: str) -> None:
        self.service = service
        self.detail = detail
        super().__init__(f"{service}: {detail}")
