"""The edge as a composable node: many robots in one container process.

``EdgeComponent`` follows the component convention of
:mod:`robotfleet_nodes.node.container` (``factory(context, **node_options)``). Its
parameters say which robot it is:

- ``config``: path of the robot's edge YAML (what ``EDGE_CONFIG`` names for ``./bin/edge``;
  ``deploy/1000/edge/robot-7.yaml``), and/or
- ``robot_id`` / ``zone_id``: override the file's ids (what ``EDGE_ROBOT_ID`` /
  ``EDGE_ZONE_ID`` do for a process).

A launch file therefore composes the same generated configs the guide's Option A starts
one process each for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from robotfleet_nodes.config import load_config
from robotfleet_nodes.edge.node import EdgeNode
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.node.context import Context

__all__ = ["EdgeComponent"]

_KNOWN = ("config", "robot_id", "zone_id")


def EdgeComponent(
    context: Context,
    *,
    parameter_overrides: Mapping[str, Any] | None = None,
    cli_args: Sequence[str] | None = None,
    **options: Any,
) -> EdgeNode:
    """An :class:`EdgeNode` for the robot its parameters name."""
    params = dict(parameter_overrides or {})
    unknown = sorted(set(params) - set(_KNOWN))
    if unknown:
        raise ConfigError(f"edge component: unknown parameter(s) {unknown}; known: {list(_KNOWN)}")
    environ: dict[str, str] = {}
    if params.get("robot_id"):
        environ["EDGE_ROBOT_ID"] = str(params["robot_id"])
    if params.get("zone_id"):
        environ["EDGE_ZONE_ID"] = str(params["zone_id"])
    path = params.get("config")
    config = load_config("edge", str(path) if path else None, environ=environ)
    return EdgeNode(config, context=context, cli_args=cli_args)
