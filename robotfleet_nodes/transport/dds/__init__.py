"""DDS transport (Eclipse Cyclone DDS), wire-compatible with ROS 2 nodes on rmw_cyclonedds.

Optional: needs the ``dds`` extra (``pip install 'robotfleet_nodes[dds]'``). Importing this
package without cyclonedds raises :class:`DdsUnavailable`, an ``ImportError`` that is also a
:class:`~robotfleet_nodes.errors.RobotFleetError` and says how to install it.

``transport_from_env()`` picks the process's transport from ``RFOS_TRANSPORT``
(``dds`` -> :class:`DdsTransport`, on ``ROS_DOMAIN_ID``).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.errors import RobotFleetError, TransportError

__all__ = [
    "FASTDDS_COMPATIBILITY",
    "INSTALL_HINT",
    "LOOPBACK_CONFIG",
    "DdsTransport",
    "DdsUnavailable",
    "transport_from_env",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'robotfleet_nodes[dds]'"


#: A ``CYCLONEDDS_URI`` value keeping all DDS traffic on 127.0.0.1 (tests, one machine):
#: unicast discovery to the local participant ports, no multicast; Fast DDS peers (real
#: ROS 2 started with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``) match as on a robot
#: (every domain we join adds :data:`FASTDDS_COMPATIBILITY`, see ``_domain.py``).
LOOPBACK_CONFIG = (
    "<CycloneDDS><Domain><General>"
    '<Interfaces><NetworkInterface address="127.0.0.1"/></Interfaces>'
    "<AllowMulticast>false</AllowMulticast>"
    "</General><Discovery>"
    '<Peers><Peer address="127.0.0.1"/></Peers>'
    "<ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>100</MaxAutoParticipantIndex>"
    "</Discovery></Domain></CycloneDDS>"
)


class DdsUnavailable(RobotFleetError, ImportError):
    """cyclonedds is not installed; the message says how to install it.

    (An ``ImportError`` and a :class:`RobotFleetError`; ``TransportError`` derives from
    ``OSError``, whose instance layout cannot be combined with ``ImportError``.)
    """


try:
    import cyclonedds  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise DdsUnavailable(f"the DDS transport needs cyclonedds: {INSTALL_HINT}") from exc

from robotfleet_nodes.transport.dds._domain import FASTDDS_COMPATIBILITY  # noqa: E402
from robotfleet_nodes.transport.dds._rosgraph import is_fastdds  # noqa: E402
from robotfleet_nodes.transport.dds._transport import (  # noqa: E402
    DdsTransport,
    reply_topic,
    request_topic,
    topic_name,
)

if TYPE_CHECKING:
    from robotfleet_nodes.transport._base import Transport

__all__ += ["is_fastdds", "reply_topic", "request_topic", "topic_name"]


def transport_from_env(environ: dict[str, str] | None = None, **nats_options: Any) -> Transport:
    """The transport ``RFOS_TRANSPORT`` names: ``dds``, or ``nats`` (the default).

    ``nats_options`` go to :class:`~robotfleet_nodes.transport.NatsTransport`.
    """
    env = os.environ if environ is None else environ
    kind = (env.get("RFOS_TRANSPORT") or "nats").strip().lower()
    if kind == "dds":
        domain = env.get("ROS_DOMAIN_ID")
        return DdsTransport(int(domain) if domain else None)
    if kind == "nats":
        from robotfleet_nodes.transport.nats import NatsTransport

        return NatsTransport(**nats_options)
    raise TransportError(f"RFOS_TRANSPORT={kind!r}: use 'nats' or 'dds'")
