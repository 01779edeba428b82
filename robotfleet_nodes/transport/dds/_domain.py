"""The Cyclone DDS domain of this process, configured to match real ROS 2's default DDS.

ROS 2's default rmw is Fast DDS. Cyclone rejects the XTypes type objects Fast DDS announces
for nested types (``sensor_msgs/PointCloud2``, ``JointState``, ``Imu``: no match at all,
measured in tests/transport/test_ros2_dds_interop.py), so every domain we join adds
Cyclone's ``Compatibility`` setting (:data:`FASTDDS_COMPATIBILITY`) to whatever
``CYCLONEDDS_URI`` configures: a robot's own Cyclone configuration needs no change.
"""

from __future__ import annotations

import logging
import os
import threading

from cyclonedds.core import DDSException
from cyclonedds.domain import Domain

__all__ = ["FASTDDS_COMPATIBILITY", "domain_config", "ensure_domain"]

log = logging.getLogger(__name__)

#: Cyclone's ``Compatibility`` setting for a bus with Fast DDS participants (ROS 2's default
#: rmw): match Fast DDS's readers and writers by topic and type name, ignoring the XTypes type
#: information they announce (vendor id 1.15, eProsima). rmw_cyclonedds announces no type
#: information, so it matches by name too. Type safety stays: ROS 2's ``typehash=RIHS01_...;``
#: in USER_DATA is checked per writer.
FASTDDS_COMPATIBILITY = "<Compatibility><IgnoreTypeInformation>1.15</IgnoreTypeInformation></Compatibility>"

_FRAGMENT = f"<CycloneDDS><Domain>{FASTDDS_COMPATIBILITY}</Domain></CycloneDDS>"

_domains: dict[int, Domain] = {}
_lock = threading.Lock()


def domain_config(uri: str | None = None) -> str:
    """``CYCLONEDDS_URI`` (or ``uri``) followed by the Fast DDS compatibility fragment
    (Cyclone merges a comma-separated list of files and XML fragments in order)."""
    base = (os.environ.get("CYCLONEDDS_URI", "") if uri is None else uri).strip().rstrip(",")
    return f"{base},{_FRAGMENT}" if base else _FRAGMENT


def ensure_domain(domain_id: int) -> None:
    """Create domain ``domain_id`` with :func:`domain_config` once per process (kept for its
    lifetime); if something else created it first, it is used as it is."""
    with _lock:
        if domain_id in _domains:
            return
        try:
            _domains[domain_id] = Domain(domain_id, domain_config())
        except DDSException as exc:  # created already (by a participant made without us)
            log.debug("DDS domain %d exists already (%s): using its configuration", domain_id, exc)
