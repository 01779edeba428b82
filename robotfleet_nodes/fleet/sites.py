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

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from nats.js import api as js_api

from robotfleet_nodes.fleet.protocol import OrderEvents
from robotfleet_nodes.transport import NatsTransport

__all__ = [
    "SITE_EVENTS_TOKEN",
    "SiteOrderEvents",
    "SiteSourceWatch",
    "add_site_sources",
    "site_source",
    "site_stream_name",
]

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


#: A site source that reported nothing (no message, no heartbeat: nats-server's source
#: consumers send one a second) for this long is stalled [s].
STALLED_S = 5.0
#: How often the leading fleet looks at its site sources, and the least time between two
#: re-creations of one site's source [s].
WATCH_PERIOD_S = 2.0
RESET_GAP_S = 10.0
#: How long the site's JetStream may take to answer the check that it is reachable [s]
#: (generous: a loaded hub answers slowly, and a missed answer waits for the next look).
SITE_ANSWER_TIMEOUT_S = 3.0


class SiteSourceWatch:
    """Restarts the hub's stalled site sources once the site answers again.

    nats-server retries a stalled source with a growing delay (10 s, 20 s, 30 s ... up to
    2 min after a long cut; measured: a 20 s cut converged 37 s after the link came back).
    It resets that delay when a leaf node connects, but only on the server the leaf node
    dialled, and for the streams that server leads: on a hub cluster the order-event stream
    is often led by another server. A new stream leader sets its sources up afresh, so the
    leading fleet checks every :data:`WATCH_PERIOD_S`: when a site source of a *replicated*
    stream has been silent for :data:`STALLED_S` and the site's JetStream answers (the link
    is back), it asks the stream's leader to step down (``$JS.API.STREAM.LEADER.STEPDOWN``);
    the new leader starts every source at once after the last event it holds from each
    (nats-server keeps that per source). Removing and adding the source back would do it
    too, but makes the server re-scan the whole stream for the source's last event
    (measured: 20-30 s with ~120 000 events, the stream not answering meanwhile). On a
    single server the leaf node's reconnection resets the source by itself.
    """

    def __init__(
        self, events: OrderEvents, transport: NatsTransport, site_domains: Mapping[str, str]
    ) -> None:
        self._events = events
        self._transport = transport
        self._sites = {
            site_stream_name(events._mapper, zone): (zone, domain) for zone, domain in site_domains.items()
        }
        self._last_reset: dict[str, float] = {}
        self._stalled: dict[str, float] = {}  # zone -> when its source was first seen stalled
        self._logged: dict[str, bool] = {}  # the stall was logged
        self._healthy: dict[str, int] = {}  # looks in a row that found the source healthy
        self.resets = 0

    async def run(self) -> None:
        """Check every :data:`WATCH_PERIOD_S` until cancelled."""
        while True:
            await asyncio.sleep(WATCH_PERIOD_S)
            try:
                await self.check()
            except Exception as exc:  # a failed look is retried at the next
                log.info("site sources: could not check the order-event stream's sources: %r", exc)

    async def check(self) -> list[str]:
        """One look; the zone ids whose source was re-created."""
        info = await self._events.js.stream_info(self._events.stream)
        reset: list[str] = []
        for source in info.sources or []:
            site = self._sites.get(source.name)
            if site is None:
                continue
            zone, domain = site
            now = time.monotonic()
            if source.active is not None and 0 <= source.active < STALLED_S * 1e9:
                # healthy twice in a row ends a stall (a retry by the server looks healthy once)
                self._healthy[zone] = self._healthy.get(zone, 0) + 1
                if self._healthy[zone] >= 2:
                    self._stalled.pop(zone, None)
                    self._logged[zone] = False
                continue
            self._healthy[zone] = 0
            if zone not in self._stalled:  # (a source being set up reports no activity yet)
                self._stalled[zone] = now
                continue
            if now - self._stalled[zone] < STALLED_S:
                continue
            if not self._logged.get(zone):
                self._logged[zone] = True
                log.info("site %s: the hub's source of its events is stalled (site cut off?)", zone)
            if info.cluster is None or not info.cluster.replicas:
                continue  # one server: the leaf node's reconnection restarts the source
            if now - self._last_reset.get(zone, -RESET_GAP_S) < RESET_GAP_S:
                continue
            if not await self._site_answers(source.name, domain):
                continue  # still cut off: nats-server's own retries go on
            self._last_reset[zone] = now
            await self._step_down()
            self._stalled.pop(zone, None)
            self._logged[zone] = False
            self.resets += 1
            reset.append(zone)
            log.info(
                "site %s: the site answers again: the order-event stream's leader (%s) stepped down "
                "so that its sources start again",
                zone,
                info.cluster.leader,
            )
            break  # one step-down restarts every source
        return reset

    async def _site_answers(self, stream: str, domain: str) -> bool:
        try:
            js = self._transport.jetstream(domain=domain)
            await asyncio.wait_for(js.stream_info(stream), SITE_ANSWER_TIMEOUT_S)
        except Exception as exc:  # no answer of any kind: the site is not reachable
            log.debug("site stream %s in domain %s does not answer: %r", stream, domain, exc)
            return False
        return True

    async def _step_down(self) -> None:
        reply = await self._transport.client.request(
            f"$JS.API.STREAM.LEADER.STEPDOWN.{self._events.stream}", b"", timeout=5.0
        )
        answer = json.loads(reply.data)
        if "error" in answer:
            raise RuntimeError(f"stream leader step-down refused: {answer['error']}")
