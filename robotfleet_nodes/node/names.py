"""ROS 2 names for nodes: re-exports :mod:`robotfleet_nodes.names`.

The name rules live below both the node layer and the transports (which both apply them);
this module keeps ``from robotfleet_nodes.node.names import validate_topic_name`` working.
"""

from __future__ import annotations

from robotfleet_nodes.names import (
    MAX_NAMESPACE_LENGTH,
    MAX_NODE_NAME_LENGTH,
    MAX_TOPIC_NAME_LENGTH,
    Remapping,
    apply_node_remaps,
    expand_name,
    fully_qualified_node_name,
    invalid_name,
    normalize_namespace,
    remap_name,
    remap_namespace,
    remap_node_name,
    validate_full_topic_name,
    validate_namespace,
    validate_node_name,
    validate_topic_name,
)

__all__ = [
    "MAX_NAMESPACE_LENGTH",
    "MAX_NODE_NAME_LENGTH",
    "MAX_TOPIC_NAME_LENGTH",
    "Remapping",
    "apply_node_remaps",
    "expand_name",
    "fully_qualified_node_name",
    "invalid_name",
    "normalize_namespace",
    "remap_name",
    "remap_namespace",
    "remap_node_name",
    "validate_full_topic_name",
    "validate_namespace",
    "validate_node_name",
    "validate_topic_name",
]
