"""How many replicas the JetStream streams and buckets we create get.

Every stream, key-value bucket and Object Store bucket the package creates (order events,
orders, audit, latched topics, large latched messages) asks :func:`stream_replicas` for
``num_replicas``: the configured ``messaging.jetstream_replicas`` when set, else decided
once per connection from what the server said about itself: 3 when it is a member of a
cluster that knows at least 3 servers, else 1 (a single server refuses replicas > 1).

The servers a connection knows are the cluster's client URLs the server advertises (its
``INFO``: ``connect_urls``, and those nats-py discovered later) or, when more, the URLs the
connection was configured with (``MESSAGING_URL`` listing the cluster); the larger count
wins, so a client connecting while the routes still form counts its configured list. A
cluster whose servers advertise more than one URL each (listening on ``0.0.0.0`` of a host
with several addresses) is best given ``client_advertise`` (``gen-config`` writes it) or
an explicit ``jetstream_replicas``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["CLUSTER_REPLICAS", "auto_replicas", "in_cluster", "stream_replicas"]

log = logging.getLogger(__name__)

#: Replicas of our streams on a cluster of 3 or more servers (JetStream's usual R3).
CLUSTER_REPLICAS: Final = 3


def auto_replicas(info: Mapping[str, Any], advertised: Iterable[str], configured: Iterable[str]) -> int:
    """The replicas for a server that sent ``info`` (its ``INFO``).

    ``advertised``: the cluster's client URLs (``host:port``) the server told about;
    ``configured``: those the connection was given. 3 (:data:`CLUSTER_REPLICAS`) when the
    server has JetStream, is in a cluster (``info["cluster"]``) and either set names at least
    3 servers, else 1.
    """
    if not info.get("jetstream") or not info.get("cluster"):
        return 1
    known = max(len(set(advertised)), len(set(configured)))
    return CLUSTER_REPLICAS if known >= CLUSTER_REPLICAS else 1


def stream_replicas(nc: Any) -> int:
    """``num_replicas`` for a stream or bucket created on connection ``nc`` (nats-py client).

    ``nc.rfos_jetstream_replicas`` (the transport sets it from ``messaging.jetstream_replicas``)
    wins; else :func:`auto_replicas`, decided on the first call and kept on ``nc``.
    """
    configured = getattr(nc, "rfos_jetstream_replicas", None)
    if configured is not None:
        return int(configured)
    decided = getattr(nc, "rfos_auto_replicas", None)
    if decided is not None:
        return int(decided)
    info = _server_info(nc)
    discovered = [srv.netloc for srv in nc.discovered_servers]
    advertised = [*(info.get("connect_urls") or ()), *discovered]
    configured_urls = [srv.netloc for srv in nc.servers if srv.netloc not in discovered]
    if not info:
        info = {"jetstream": True, "cluster": len(set(advertised)) > 1}
    decided = auto_replicas(info, advertised, configured_urls)
    log.info(
        "JetStream streams and buckets created by this connection get %d replica(s) (server %s%s)",
        decided,
        info.get("server_name", "?"),
        f", cluster {info['cluster']}" if info.get("cluster") else "",
    )
    nc.rfos_auto_replicas = decided
    return decided


def _server_info(nc: Any) -> Mapping[str, Any]:
    # nats-py keeps the server's INFO in a private attribute (no public accessor); without
    # it (another nats-py), only the configured and discovered URLs count.
    info = getattr(nc, "_server_info", None)
    return info if isinstance(info, Mapping) else {}


def in_cluster(nc: Any) -> bool:
    """Whether the server ``nc`` is connected to said it is a member of a cluster."""
    return bool(_server_info(nc).get("cluster")) or bool(nc.discovered_servers)
