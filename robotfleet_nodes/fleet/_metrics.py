"""The fleet's Prometheus metrics, in one registry per service, and its order counts by state.

``rfos_work_orders`` (by state), ``rfos_dispatch_latency_seconds`` (submission to
DISPATCHED and to EXECUTING, observed once per order and stage), ``rfos_robots``,
``rfos_robots_online`` and the messages in and out by kind (docs/fleet.md, ``/metrics``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import prometheus_client as prometheus

from robotfleet_nodes.fleet.orders import stamp_seconds
from robotfleet_nodes.fleet.protocol import FINAL_STATES, STATE_NAMES
from robotfleet_nodes.msg import WorkOrder
from robotfleet_nodes.web import new_registry

__all__ = ["FleetMetrics"]


class FleetMetrics:
    """The metrics of one :class:`~robotfleet_nodes.fleet.service.FleetService`.

    ``registry`` holds them; ``counts`` is orders by state value, kept by :meth:`count`.
    """

    def __init__(self) -> None:
        self.registry = new_registry()
        self.counts: Counter[int] = Counter()
        self._observed: set[tuple[str, str]] = set()
        m = self.registry
        self.m_orders = prometheus.Gauge("rfos_work_orders", "Work orders by state", ["state"], registry=m)
        self.m_latency = prometheus.Histogram(
            "rfos_dispatch_latency_seconds",
            "Seconds from submission to DISPATCHED (stage=dispatched) and EXECUTING (stage=executing)",
            ["stage"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=m,
        )
        self.m_robots_online = prometheus.Gauge(
            "rfos_robots_online", "Robots online (sum of zone summaries)", registry=m
        )
        self.m_robots = prometheus.Gauge(
            "rfos_robots", "Robots configured (sum of zone summaries)", registry=m
        )
        self.m_in = prometheus.Counter(
            "rfos_messages_in_total", "Messages received by the fleet", ["kind"], registry=m
        )
        self.m_out = prometheus.Counter(
            "rfos_messages_out_total", "Messages and calls sent by the fleet", ["kind"], registry=m
        )
        for name in STATE_NAMES.values():
            self.m_orders.labels(name).set(0)

    def count(self, old: Any, new: Any) -> None:
        """Order ``new`` replaced ``old`` (None: a new order): move the counts, observe latency."""
        if old is not None:
            self.counts[old.state] -= 1
            self.m_orders.labels(STATE_NAMES[old.state]).set(self.counts[old.state])
        self.counts[new.state] += 1
        self.m_orders.labels(STATE_NAMES[new.state]).set(self.counts[new.state])
        if new.state in (WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_EXECUTING) and (
            old is None or old.state != new.state
        ):
            stage = "dispatched" if new.state == WorkOrder.STATE_DISPATCHED else "executing"
            if (new.id, stage) not in self._observed:
                self._observed.add((new.id, stage))
                delay = stamp_seconds(new.updated) - stamp_seconds(new.created)
                self.m_latency.labels(stage).observe(max(0.0, delay))
        if new.state in FINAL_STATES:
            self._observed.discard((new.id, "dispatched"))
            self._observed.discard((new.id, "executing"))
