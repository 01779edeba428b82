"""The graph without a daemon: ask everyone, gather the answers.

Every transport subscribes to ``<root>.<domain>.g.query`` and answers a query with its
:class:`ParticipantInfo` as JSON. :func:`participant_from_json` is the inverse. A query
collects replies on a private inbox until its timeout: a dead process simply does not
answer, so the result is exact, and nothing is sent while nobody asks. ``announce``
publishes a small event on ``<root>.<domain>.g.changed`` so watchers know to ask again.

Counters change with every message, so they are not part of the (cached) node chunks: a
participant with troubled subscriptions (:class:`SubscriptionStats`: messages dropped by a
full queue, malformed, of another type or incompatible QoS) adds one more chunk, made when
it answers (:func:`troubled_to_json`), with no nodes and a ``troubled`` list.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport._base import (
    EndpointInfo,
    EntityStats,
    NodeInfo,
    ParticipantInfo,
    SubscriptionStats,
)

__all__ = ["participant_from_json", "participant_to_json", "participant_to_json_chunks", "troubled_to_json"]

_COUNTERS = frozenset(f.name for f in fields(EntityStats))

_KINDS = ("publishers", "subscriptions", "services", "clients")


def _node_dict(node: NodeInfo) -> dict[str, Any]:
    return {
        "name": node.name,
        "namespace": node.namespace,
        **{kind: [ep.describe() for ep in getattr(node, kind)] for kind in _KINDS},
    }


def _node_json(node: NodeInfo) -> bytes:
    return json.dumps(_node_dict(node), separators=(",", ":")).encode()


def _head(info: ParticipantInfo) -> dict[str, Any]:
    return {"gid": info.gid, "host": info.host, "pid": info.pid, "started_at": info.started_at}


def participant_to_json(info: ParticipantInfo) -> bytes:
    """``info`` as compact JSON."""
    data = {**_head(info), "nodes": [_node_dict(node) for node in info.nodes]}
    return json.dumps(data, separators=(",", ":")).encode()


def participant_to_json_chunks(
    info: ParticipantInfo, max_bytes: int, cache: dict[int, tuple[NodeInfo, bytes]] | None = None
) -> list[bytes]:
    """``info`` as one or more JSON documents of at most about ``max_bytes`` each.

    A container of 1000 nodes describes itself in a few MB, more than one NATS message may
    carry; each chunk holds whole nodes plus the participant's identity and ``part`` /
    ``parts``, and the querying side merges chunks by ``gid``. A participant with no
    nodes still sends one chunk, so it is seen.

    ``cache`` (kept by the caller between calls) maps ``id(node)`` to its encoded form:
    nodes hand out the same ``NodeInfo`` object until they change, so re-announcing 1000
    nodes after one of them changed encodes one node, not 1000.
    """
    blobs = []
    fresh: dict[int, tuple[NodeInfo, bytes]] = {}
    for node in info.nodes:
        hit = cache.get(id(node)) if cache is not None else None
        blob = hit[1] if hit is not None and hit[0] is node else _node_json(node)
        fresh[id(node)] = (node, blob)
        blobs.append(blob)
    if cache is not None:
        cache.clear()
        cache.update(fresh)
    groups: list[list[bytes]] = [[]]
    size = 0
    budget = max(1024, max_bytes - 256)
    for blob in blobs:
        if groups[-1] and size + len(blob) + 1 > budget:
            groups.append([])
            size = 0
        groups[-1].append(blob)
        size += len(blob) + 1
    chunks = []
    for index, group in enumerate(groups):
        head = json.dumps({**_head(info), "part": index, "parts": len(groups)}, separators=(",", ":"))
        chunks.append(head[:-1].encode() + b',"nodes":[' + b",".join(group) + b"]}")
    return chunks


def troubled_to_json(info: ParticipantInfo) -> bytes:
    """The chunk carrying ``info.troubled`` (no nodes): sent after the node chunks."""
    troubled = [{"node": t.node, "topic": t.topic, **asdict(t.stats)} for t in info.troubled]
    return json.dumps({**_head(info), "nodes": [], "troubled": troubled}, separators=(",", ":")).encode()


def _troubled(data: dict[str, Any]) -> SubscriptionStats:
    counters = {key: int(value) for key, value in data.items() if key in _COUNTERS}
    return SubscriptionStats(node=str(data["node"]), topic=str(data["topic"]), stats=EntityStats(**counters))


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
        troubled=[_troubled(entry) for entry in data.get("troubled", [])],
    )
