"""The zone as a composable node: several zones in one container process.

``ZoneComponent`` follows the component convention of
:mod:`robotfleet_nodes.node.container` (``factory(context, **node_options)``); its
parameter ``config`` is the path of the zone's YAML (what ``ZONE_CONFIG`` names for
``./bin/zone``). Large fleets compose their zones (``launch/fleet_1000.launch.yaml
zone_containers:=N``): 50 zone processes would each pay the interpreter and the imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from robotfleet_nodes.config import load_config
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.zone.node import ZoneNode

__all__ = ["ZoneComponent"]

_KNOWN = ("config",)


def ZoneComponent(
    context: Context,
    *,
    parameter_overrides: Mapping[str, Any] | None = None,
    cli_args: Sequence[str] | None = None,
    **options: Any,
) -> ZoneNode:
    """A :class:`ZoneNode` for the zone file its ``config`` parameter names."""
    params = dict(parameter_overrides or {})
    unknown = sorted(set(params) - set(_KNOWN))
    if unknown:
        raise ConfigError(f"zone component: unknown parameter(s) {unknown}; known: {list(_KNOWN)}")
    path = params.get("config")
    config = load_config("zone", str(path) if path else None, environ={})
    return ZoneNode(config, context=context, cli_args=cli_args)
