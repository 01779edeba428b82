"""The graph without a daemon: ask everyone, gather the answers.

Every transport subscribes to ``<root>.<domain>.g.query`` and answers a query with its
:class:`ParticipantInfo` as JSON. :func:`participant_from_json` is the inverse. A query
collects replies on a private inbox until its timeout: a dead process simply does not
answer, so the result is exact, and nothing is sent while nobody asks. ``announce``
publishes a small event on ``<root>.<domain>.g.changed`` so watchers know to ask again.
"""

from __future__ import annotations

import json
from typing import Any

from robotfleet_nodes.node.qos import QoSProfile
from robotfleet_nodes.transport._base import EndpointInfo, NodeInfo, ParticipantInfo

__all__ = ["participant_from_json", "participant_to_json"]

_KINDS = ("publishers", "subscriptions", "services", "clients")


def participant_to_json(info: ParticipantInfo) -> bytes:
    """``info`` as compact JSON."""
    data = {
        "gid": info.gid,
        "host": info.host,
        "pid": info.pid,
        "started_at": info.started_at,
        "nodes": [
            {
                "name": node.name,
                "namespace": node.namespace,
                **{kind: [ep.describe() for ep in getattr(node, kind)] for kind in _KINDS},
            }
            for node in info.nodes
        ],
    }
    return json.dumps(data, separators=(",", ":")).encode()


def _endpoint(data: dict[str, Any]) -> EndpointInfo:
    return EndpointInfo(
        name=str(data["name"]),
        type_name=str(data["type"]),
        type_hash=str(data["hash"]),
        qos=QoSProfile.from_description(data.get("qos") or {}),
    )


def participant_from_json(raw: bytes) -> ParticipantInfo:
    """Parse a reply; raises ``ValueError`` (or ``KeyError``/``TypeError``) when malformed."""
    data = json.loads(raw)
    nodes = [
        NodeInfo(
            name=str(node["name"]),
            namespace=str(node["namespace"]),
            **{kind: [_endpoint(ep) for ep in node.get(kind, [])] for kind in _KINDS},
        )
        for node in data.get("nodes", [])
    ]
    return ParticipantInfo(
        gid=str(data["gid"]),
        host=str(data.get("host", "")),
        pid=int(data.get("pid", 0)),
        nodes=nodes,
        started_at=float(data.get("started_at", 0.0)),
    )
