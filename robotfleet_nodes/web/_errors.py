"""Errors of the web layer: :class:`HttpError` becomes a JSON error response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from robotfleet_nodes.errors import RobotFleetError

__all__ = ["HttpError", "RouteError"]


class HttpError(RobotFleetError):
    """Raise anywhere in a handler to answer ``{"error": message, **extra}`` with ``status``.

    ``headers`` are added to the response (e.g. ``Allow`` or ``Retry-After``); every other
    keyword argument is added to the JSON body and must be JSON-serialisable.
    """

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"HttpError status must be 4xx or 5xx, got {status}")
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, Any] = extra

    def payload(self) -> dict[str, Any]:
        """The JSON body: ``{"error": message, **extra}``."""
        return {"error": self.message, **self.extra}


class RouteError(RobotFleetError, ValueError):
    """A route template is invalid or the same method and path are registered twice."""
