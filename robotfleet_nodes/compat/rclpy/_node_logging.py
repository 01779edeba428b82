"""The logging options of ``rclpy.node.Node``: ``/rosout`` and the logger level services.

``enable_rosout`` (default true): the node's logger, and its children, also publish each
record they print as an ``rcl_interfaces/msg/Log`` on ``/rosout`` (through the context's
rosout handler). ``enable_logger_service`` (default false): the node answers
``<node>/get_logger_levels`` and ``<node>/set_logger_levels`` (rcl_interfaces) from
:mod:`rclpy.logging`'s per-name levels, as this node's own services run on an executor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from robotfleet_nodes.node import Node as _CoreNode
from robotfleet_nodes.node.parameters import interface_class

from . import logging as _rclpy_logging
from .impl.logging_severity import LoggingSeverity

__all__ = ["LoggingMixin", "pop_logging_options"]

_OPTIONS = {"enable_rosout": True, "rosout_qos_profile": None, "enable_logger_service": False}


def pop_logging_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take this mixin's options out of a Node's keyword arguments (the core node has none)."""
    return {name: options.pop(name, default) for name, default in _OPTIONS.items()}


class LoggingMixin:
    """``enable_rosout`` and ``enable_logger_service`` of an rclpy node."""

    _core: _CoreNode
    create_service: Callable[..., Any]
    get_name: Callable[[], str]

    def _init_logging(self, logger_name: str, options: dict[str, Any]) -> None:
        self._rosout_name: str | None = None
        handler = self._core.context.rosout_handler
        if options["enable_rosout"] and handler is not None:
            self._rosout_name = logger_name
            _rclpy_logging._attach_rosout(logger_name, handler.handle)
        if options["enable_logger_service"]:
            name = self.get_name()
            get_cls = interface_class("rcl_interfaces/srv/GetLoggerLevels")
            set_cls = interface_class("rcl_interfaces/srv/SetLoggerLevels")
            self.create_service(get_cls, f"{name}/get_logger_levels", self._srv_get_logger_levels)
            self.create_service(set_cls, f"{name}/set_logger_levels", self._srv_set_logger_levels)

    def _stop_logging(self) -> None:
        """Stop publishing this node's records on ``/rosout`` (``destroy_node``)."""
        if getattr(self, "_rosout_name", None) is not None:
            _rclpy_logging._detach_rosout(str(self._rosout_name))
            self._rosout_name = None

    @staticmethod
    def _srv_get_logger_levels(request: Any, response: Any) -> Any:
        level_cls = interface_class("rcl_interfaces/msg/LoggerLevel")
        response.levels = [
            level_cls(name=name, level=int(_rclpy_logging.get_logger_level(name))) for name in request.names
        ]
        return response

    @staticmethod
    def _srv_set_logger_levels(request: Any, response: Any) -> Any:
        result_cls = interface_class("rcl_interfaces/msg/SetLoggerLevelsResult")
        results = []
        for level in request.levels:
            try:
                _rclpy_logging.set_logger_level(level.name, LoggingSeverity(level.level), detailed_error=True)
            except ValueError:
                results.append(result_cls(successful=False, reason="Failed reason: Invalid logger level."))
            else:
                results.append(result_cls(successful=True))
        response.results = results
        return response
