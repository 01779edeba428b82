"""A zone's lease bookkeeping: its own lease from the area, and its robots' revocations.

Pure state, no I/O: :class:`ZoneLeases` answers "does the zone hold its lease now", keeps the
revocations the zone's renewals carry, and builds the ``LeaseRenewal`` message the zone
publishes every ``leases.renew_period_s`` (docs/fleet.md, "Leases").
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.config import LeaseConfig, ZoneConfig

__all__ = ["REVOCATION_TTL_S", "Grant", "ZoneLeases", "zone_lease_hold_s"]

#: Seconds a revocation stays in the renewals after the robot last reported the order.
REVOCATION_TTL_S = 60.0
#: Revocations kept at most (oldest dropped first).
MAX_REVOCATIONS = 10_000


def zone_lease_hold_s(config: ZoneConfig) -> float:
    """How long the zone holds its lease after the area's last grant [s].

    ``leases.zone_lease_s``; for a zone at an edge site (``site:``) ``site.site_offline_grace_s``
    (its uplink may be cut: the zone keeps working that long). 0 stays 0 (no lease needed).
    The zone announces this value as ``zone_lease_s`` in its ``ZoneSummary``, so its area
    takes its orders back only after it plus ``robot_lease_s`` and ``margin_s``.
    """
    lease_s = config.leases.zone_lease_s
    if config.site is None or not lease_s:
        return lease_s
    return config.site.site_offline_grace_s


@dataclass(frozen=True, slots=True)
class Grant:
    """One assignment the zone renews: ``robot_id`` executes ``order_id`` at ``attempt``."""

    robot_id: str
    order_id: str
    attempt: int
    status_seq: int


class ZoneLeases:
    """The zone's own lease (from its area's grants) and the revocations it sends its robots."""

    def __init__(self, zone_id: str, config: LeaseConfig, *, hold_s: float | None = None) -> None:
        self.zone_id = zone_id
        self.config = config
        #: How long an area's grant holds (:func:`zone_lease_hold_s`) [s].
        self.hold_s = config.zone_lease_s if hold_s is None else hold_s
        self._zone_lease_until = -math.inf
        self._seq = 0
        # (robot id, order id) -> (revoked attempt, monotonic time it may be forgotten)
        self._revoked: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    # -- the zone's own lease -------------------------------------------------------------
    @property
    def needs_zone_lease(self) -> bool:
        """False when ``zone_lease_s`` is 0: the zone runs without an area's grant."""
        return self.config.zone_lease_s > 0

    def holds(self, now: float) -> bool:
        """Whether the zone may assign and renew now."""
        return not self.needs_zone_lease or now < self._zone_lease_until

    def on_area_grant(self, msg: Any, now: float) -> list[tuple[str, int]]:
        """Apply the area's ``LeaseRenewal``; the (order id, attempt) pairs it revokes from this zone."""
        if self.zone_id in msg.holders:
            self._zone_lease_until = now + self.hold_s
        return [
            (str(order_id), int(attempt))
            for holder, order_id, attempt in zip(
                msg.revoked_holders, msg.revoked_order_ids, msg.revoked_attempts, strict=False
            )
            if holder == self.zone_id
        ]

    # -- robots ---------------------------------------------------------------------------
    def lease_end(self, renewed_at: float) -> float:
        """When an assignment last renewed at ``renewed_at`` may move on (lease + margin)."""
        return renewed_at + self.config.robot_lease_s + self.config.margin_s

    def revoke(self, robot_id: str, order_id: str, attempt: int, now: float) -> None:
        """Tell ``robot_id`` to drop ``order_id`` at ``attempt`` or older (kept a while)."""
        key = (robot_id, order_id)
        old = self._revoked.get(key)
        self._revoked[key] = (max(attempt, old[0]) if old else attempt, now + REVOCATION_TTL_S)
        self._revoked.move_to_end(key)
        while len(self._revoked) > MAX_REVOCATIONS:
            self._revoked.popitem(last=False)

    def still_revoked(self, robot_id: str, order_id: str, attempt: int, now: float) -> bool:
        """True if ``robot_id`` holding ``order_id`` at ``attempt`` is revoked (and keep it so)."""
        entry = self._revoked.get((robot_id, order_id))
        if entry is None or attempt > entry[0]:
            return False
        self._revoked[(robot_id, order_id)] = (entry[0], now + REVOCATION_TTL_S)
        return True

    def unrevoke(self, robot_id: str, order_id: str) -> None:
        """Forget the revocation of ``order_id`` on ``robot_id`` (it holds it no more)."""
        self._revoked.pop((robot_id, order_id), None)

    @property
    def revocations(self) -> int:
        """Revocations currently sent."""
        return len(self._revoked)

    def renewal(self, msg_cls: Any, grants: Iterable[Grant], now: float) -> Any:
        """The ``LeaseRenewal`` to publish now: ``grants`` renewed, live revocations listed."""
        for key in [k for k, (_, until) in self._revoked.items() if until <= now]:
            del self._revoked[key]
        self._seq += 1
        listed = list(grants)
        return msg_cls(
            granter=self.zone_id,
            seq=self._seq,
            lease_s=self.config.robot_lease_s,
            holders=[g.robot_id for g in listed],
            order_ids=[g.order_id for g in listed],
            attempts=[g.attempt for g in listed],
            status_seqs=[g.status_seq for g in listed],
            revoked_holders=[robot for robot, _ in self._revoked],
            revoked_order_ids=[order for _, order in self._revoked],
            revoked_attempts=[attempt for attempt, _ in self._revoked.values()],
        )
