"""Edge sites: a zone's order events stored at its site, sourced by the hub (docs/fleet.md, "Edge sites").

A zone behind a site's leaf node publishes its order events to :class:`SiteOrderEvents`, a
stream in the site's own JetStream domain, on site-only subjects
``<root>.<domain>.w.siteorders.<zone id>.<order id>``: storing them needs nothing from the
hub, so a cut uplink stops no event. The hub's order-event stream (the one the fleet
consumes) *sources* each site's stream through the site's JetStream API
(``$JS.<site domain>.API``, across the leaf link), turning each subject back into
``<root>.<domain>.w.orders.<zone id>.<order id>`` (:func:`site_source`). The fleet adds
those sources at start from ``FleetConfig.site_domains`` (:func:`add_site_sources`).

Why a site-only subject: a subject the hub's stream listens to would also reach it directly
over the leaf link while the link is up, and then once more through the source. Each event
keeps its ``Nats-Msg-Id``: a publish the zone repeats is dropped by the site's stream, and
what the source delivers once more after a reconnection by the hub's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from nats.js import api as js_api

from robotfleet_nodes.fleet.protocol import OrderEvents
from robotfleet_nodes.transport import NatsTransport

__all__ = ["SITE_EVENTS_TOKEN", "SiteOrderEvents", "add_site_sources", "site_source", "site_stream_name"]

log = logging.getLogger(__name__)

#: The token after kind ``w`` of a site's order-event subjects.
SITE_EVENTS_TOKEN = "siteorders"
_ORDERS_TOKEN = "orders"


def _safe(token: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", token)


def site_stream_name(mapper: Any, zone_id: str) -> str:
    """The name of ``zone_id``'s order-event stream in its site's domain (``mapper``: the
    transport's ``SubjectMapper``)."""
    return f"RFOS_{_safe(mapper.root)}_{_safe(mapper.domain)}_SITE_{_safe(zone_id)}_EVENTS"


class SiteOrderEvents(OrderEvents):
    """A site zone's order events, stored in the site's own JetStream domain.

    Publishing and de-duplication work as in :class:`OrderEvents`; only the stream (one per
    site zone, in the site's domain: the zone's connection is to the site's leaf node) and
    the subjects (``...w.siteorders.<zone id>.<order id>``) differ.
    """

    def __init__(self, transport: NatsTransport, zone_id: str) -> None:
        super().__init__(transport, zone_id)
        mapper = transport.mapper
        self.stream = site_stream_name(mapper, zone_id)
        self.wildcard = mapper.work_wildcard(SITE_EVENTS_TOKEN, zone_id)

    def subject(self, order_id: str) -> str:
        """The site subject of ``order_id``'s events."""
        return self._mapper.work(SITE_EVENTS_TOKEN, str(self.source), order_id)

    async def ensure(self, *, create: bool | None = None) -> None:
        """Create the site's stream if missing (the site's broker: the zone may create it)."""
        await super().ensure(create=True if create is None else create)


def site_source(events: OrderEvents, zone_id: str, domain: str) -> js_api.StreamSource:
    """The source of the hub stream ``events`` that brings ``zone_id``'s events from ``domain``."""
    mapper = events._mapper
    return js_api.StreamSource(
        name=site_stream_name(mapper, zone_id),
        external=js_api.ExternalStream(api=f"$JS.{domain}.API"),
        subject_transforms=[
            js_api.SubjectTransform(
                src=mapper.work_wildcard(SITE_EVENTS_TOKEN, zone_id),
                dest=mapper.work_wildcard(_ORDERS_TOKEN, zone_id),
            )
        ],
    )


async def add_site_sources(events: OrderEvents, site_domains: Mapping[str, str]) -> list[str]:
    """Make the hub's order-event stream source every site of ``site_domains`` (zone id ->
    JetStream domain); the sources it lacked (names), added in one stream update."""
    if not site_domains:
        return []
    info = await events.js.stream_info(events.stream)
    config = info.config
    sources = list(config.sources or [])
    known = {(s.name, s.external.api if s.external else None) for s in sources}
    added: list[str] = []
    for zone_id, domain in site_domains.items():
        source = site_source(events, zone_id, domain)
        if (source.name, source.external.api if source.external else None) in known:
            continue
        sources.append(source)
        added.append(source.name)
    if added:
        config.sources = sources
        await events.js.update_stream(config)
        log.info("order-event stream %s now sources the sites %s", events.stream, ", ".join(added))
    return added
