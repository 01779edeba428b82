"""NATS permissions of every identity, derived from the topology; deny by default.

``P`` below is ``<root>.<domain>`` (``rfos.0``). Every identity gets the common part:
its own inbox ``_INBOX.<name>.>`` (sub), the graph ``P.g.>`` (pub+sub), ``/rosout`` and
``/parameter_events`` (pub+sub), and response permissions (it may answer requests it
received, whatever their reply subject, for :data:`RESPONSE_TTL_NS`). The tables per tier
are in ``docs/subjects.md``; each function below builds one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from robotfleet_nodes.security._subjects import Subjects
from robotfleet_nodes.security.topology import Topology

__all__ = [
    "HUB_DOMAIN",
    "RESPONSE_TTL_NS",
    "VEHICLE_PUBLISHES",
    "VEHICLE_SUBSCRIBES",
    "PermissionTables",
    "Permissions",
    "js_names",
]

#: How long a request's reply subject may be answered (ns): long enough for slow services.
RESPONSE_TTL_NS = 120 * 1_000_000_000
_JS = "$JS.API"
#: The hub's JetStream domain in a deployment with edge sites (``SiteConfig.hub_domain``).
HUB_DOMAIN = "hub"
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
#: The topics a VDA 5050 vehicle publishes and subscribes (spec 6.2).
VEHICLE_PUBLISHES = ("connection", "state", "visualization", "factsheet")
VEHICLE_SUBSCRIBES = ("order", "instantActions")


def js_names(root: str, domain: str) -> dict[str, str]:
    """The JetStream streams and buckets of a subject root (as fleet/protocol.py names them)."""
    stem = f"RFOS_{_SAFE.sub('_', root)}_{_SAFE.sub('_', domain)}"
    return {
        "orders_bucket": f"{stem}_ORDERS",
        "orders_kv_stream": f"KV_{stem}_ORDERS",
        "order_events": f"{stem}_ORDER_EVENTS",
        "latched": _SAFE.sub("_", f"RFOS_{root}_{domain}_LATCHED"),
        "audit": f"{stem}_AUDIT",
        "fleet_leader_bucket": f"{stem}_FLEET_LEADER",
        "factsheets_bucket": f"{stem}_FACTSHEETS",
    }


def site_stream(root: str, domain: str, zone_id: str) -> str:
    """A site zone's order-event stream in its site's domain (as fleet/sites.py names it)."""
    return f"RFOS_{_SAFE.sub('_', root)}_{_SAFE.sub('_', domain)}_SITE_{_SAFE.sub('_', zone_id)}_EVENTS"


@dataclass(frozen=True)
class Permissions:
    """Publish and subscribe allow/deny lists (NATS subjects; ``"subj queue"`` for queue subs)."""

    pub_allow: tuple[str, ...] = ()
    sub_allow: tuple[str, ...] = ()
    pub_deny: tuple[str, ...] = ()
    sub_deny: tuple[str, ...] = ()
    responses: bool = True
    """May answer requests received (NATS response permissions)."""
    unrestricted: bool = field(default=False)
    """No permission lists at all (operator, system user)."""

    def __or__(self, other: Permissions) -> Permissions:
        return Permissions.union(self, other)

    @staticmethod
    def union(*parts: Permissions) -> Permissions:
        """Everything any of ``parts`` allows (one pass: containers join thousands)."""
        return Permissions(
            pub_allow=_unique(s for p in parts for s in p.pub_allow),
            sub_allow=_unique(s for p in parts for s in p.sub_allow),
            pub_deny=_unique(s for p in parts for s in p.pub_deny),
            sub_deny=_unique(s for p in parts for s in p.sub_deny),
            responses=any(p.responses for p in parts),
            unrestricted=any(p.unrestricted for p in parts),
        )

    def claims(self) -> dict[str, Any]:
        """The permission fields of a user JWT's ``nats`` object."""
        if self.unrestricted:
            return {}
        out: dict[str, Any] = {
            "pub": _lists(self.pub_allow, self.pub_deny),
            "sub": _lists(self.sub_allow, self.sub_deny),
        }
        if self.responses:
            out["resp"] = {"max": -1, "ttl": RESPONSE_TTL_NS}
        return out


def _lists(allow: Sequence[str], deny: Sequence[str]) -> dict[str, list[str]]:
    # An empty allow list would mean "everything" to the server: deny by default needs a
    # subject nobody uses instead.
    out: dict[str, list[str]] = {"allow": list(allow) or ["_RFOS.NOTHING"]}
    if deny:
        out["deny"] = list(deny)
    return out


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


class PermissionTables:
    """The permissions of each identity of a deployment (see the module docstring)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.mapper = Subjects(topology.root, topology.domain)
        self.p = self.mapper.prefix
        self.js = js_names(topology.root, topology.domain)
        self._vehicles = {v.robot_id: v for v in topology.vehicles}

    # -- parts ----------------------------------------------------------------------
    def common(self, name: str) -> Permissions:
        """Inbox, graph, ``/rosout`` and ``/parameter_events``: what every node needs."""
        p = self.p
        shared = (f"{p}.g.>", f"{p}.t.rosout", f"{p}.t.parameter_events")
        return Permissions(pub_allow=shared, sub_allow=(f"_INBOX.{name}.>", *shared))

    def _js_reader(self, stream: str, *, direct_get: bool = False, api: str = _JS) -> tuple[str, ...]:
        """Read a stream through (ordered) consumers: info, create/delete own consumers
        (``api``: the JetStream API prefix, ``$JS.<domain>.API`` for another domain's)."""
        out = [
            f"{api}.STREAM.INFO.{stream}",
            f"{api}.CONSUMER.CREATE.{stream}",
            f"{api}.CONSUMER.CREATE.{stream}.>",
            f"{api}.CONSUMER.INFO.{stream}.*",
            f"{api}.CONSUMER.DELETE.{stream}.*",
            f"$JS.FC.{stream}.>",
        ]
        if direct_get:
            out += [
                f"{api}.DIRECT.GET.{stream}",
                f"{api}.DIRECT.GET.{stream}.>",
                f"{api}.STREAM.MSG.GET.{stream}",
            ]
        return tuple(out)

    def _order_worker(self, tier_id: str) -> tuple[str, ...]:
        """Zones and areas: publish order events under their own id (the fleet checks the
        order is theirs: docs/fleet.md "Security"), read the order bucket (no writes)."""
        js = self.js
        return (
            f"{_JS}.INFO",
            f"{_JS}.STREAM.INFO.{js['order_events']}",
            self.mapper.work("orders", tier_id, ">"),
            *self._js_reader(js["orders_kv_stream"], direct_get=True),
        )

    def _robot_core(self, robot_id: str) -> Permissions:
        """One robot's own subjects (no inbox): what a robot or a container of robots adds;
        its factsheet goes into the factsheet bucket under its own key only."""
        p, scope = self.p, self.mapper.robot_scope(robot_id)
        action = f"{p}.a.robots.{robot_id}.*._action"
        zone = self.topology.zone_of(robot_id)
        factsheet = f"$KV.{self.js['factsheets_bucket']}.{robot_id}"
        own = Permissions(
            pub_allow=(f"{p}.t.robots.{robot_id}.>", f"{action}.feedback", f"{action}.status", factsheet),
            sub_allow=(scope, self.mapper.topic(f"/zones/{zone}/leases")),
        )
        vehicle = self._vehicles.get(robot_id)
        if vehicle is None:
            return own
        # the edge of a VDA 5050 vehicle: its master, sending orders and instant actions
        t = vehicle
        return own | Permissions(
            pub_allow=(t.subject("order"), t.subject("instantActions")),
            sub_allow=(f"{t.subject_prefix}.>",),
        )

    def _robot_js(self) -> Permissions:
        latched = self.js["latched"]
        return Permissions(pub_allow=(f"{_JS}.INFO", f"{_JS}.STREAM.INFO.{latched}"))

    def _zone_core(self, zone_id: str) -> Permissions:
        p = self.p
        area = self.topology.area_of(zone_id)
        pub = [f"{p}.t.zones.{zone_id}.>"]
        sub = [f"{p}.*.zones.{zone_id}.>", self.mapper.topic(f"/areas/{area}/leases")]
        for robot in self.topology.members(zone_id):
            action = f"{p}.a.robots.{robot}.*._action"
            pub += [f"{action}.send_goal", f"{action}.cancel_goal", f"{action}.get_result"]
            pub.append(f"{p}.s.robots.{robot}.journal")
            sub += [f"{p}.t.robots.{robot}.>", f"{action}.feedback", f"{action}.status"]
        return Permissions(pub_allow=tuple(pub), sub_allow=tuple(sub))

    def _zone_js(self, zone_ids: Sequence[str]) -> Permissions:
        workers = [part for zone in zone_ids for part in self._order_worker(zone)]
        return Permissions(pub_allow=(*workers, *self._js_reader(self.js["latched"])))

    # -- identities -----------------------------------------------------------------
    def robot(self, robot_id: str) -> Permissions:
        """``robot-N``: its own status/events/heartbeats, answers to its services/actions."""
        return self.common(robot_id) | self._robot_core(robot_id) | self._robot_js()

    def vehicle(self, robot_id: str) -> Permissions:
        """VDA 5050 vehicle ``robot_id`` over MQTT: publish its ``connection`` (its last will
        too), ``state``, ``visualization`` and ``factsheet``; subscribe its ``order`` and
        ``instantActions``. Nothing else (nats-server's MQTT layer needs no more for QoS 1,
        retained messages and the last will: tests/vda5050/test_mqtt_security.py)."""
        t = self._vehicles[robot_id]
        return Permissions(
            pub_allow=tuple(t.subject(n) for n in VEHICLE_PUBLISHES),
            sub_allow=tuple(t.subject(n) for n in VEHICLE_SUBSCRIBES),
            responses=False,
        )

    def vehicle_master(self, robot_id: str) -> Permissions:
        """The MQTT login of vehicle ``robot_id``'s edge: read its retained ``connection``."""
        t = self._vehicles[robot_id]
        return Permissions(sub_allow=(t.subject("connection"),), responses=False)

    def robots_container(self, name: str, robot_ids: Sequence[str], *, node: str = "") -> Permissions:
        """A process composing the edges of ``robot_ids``: the union of their permissions,
        plus its own container node ``node`` (e.g. ``/edges/edges_1``: its parameter and
        ``_container`` services, as launch/fleet_1000.launch.yaml names it)."""
        return Permissions.union(
            self.common(name),
            self._robot_js(),
            self._container_node(node),
            *(self._robot_core(robot) for robot in robot_ids),
        )

    def _container_node(self, node: str) -> Permissions:
        """A container process's own node: serves its services, publishes its topics."""
        if not node:
            return Permissions()
        tokens = ".".join(t for t in node.split("/") if t)
        return Permissions(pub_allow=(f"{self.p}.t.{tokens}.>",), sub_allow=(f"{self.p}.*.{tokens}.>",))

    def _site_zone(self, zone_id: str) -> Permissions:
        """A zone at an edge site: its order events on ``P.w.siteorders.<zone>.>`` into its own
        site stream (which it may create, in the site's domain: its server is the site's), and
        the order bucket read through the hub's domain (``$JS.hub.API``)."""
        if zone_id not in self.topology.site_zones:
            return Permissions()
        stream = site_stream(self.topology.root, self.topology.domain, zone_id)
        hub = f"$JS.{HUB_DOMAIN}.API"
        return Permissions(
            pub_allow=(
                self.mapper.work("siteorders", zone_id, ">"),
                f"{_JS}.STREAM.INFO.{stream}",
                f"{_JS}.STREAM.CREATE.{stream}",
                f"{hub}.INFO",
                *self._js_reader(self.js["orders_kv_stream"], direct_get=True, api=hub),
            )
        )

    def zone(self, zone_id: str) -> Permissions:
        """``zone-N``: its robots (status in, goals and journal questions out), its own names;
        at an edge site also its site stream (:meth:`_site_zone`)."""
        return (
            self.common(zone_id)
            | self._zone_core(zone_id)
            | self._zone_js([zone_id])
            | self._site_zone(zone_id)
        )

    def zones_container(self, name: str, zone_ids: Sequence[str], *, node: str = "") -> Permissions:
        """A process composing the zones ``zone_ids``: the union of their permissions, plus
        its own container node ``node`` (e.g. ``/zones/zones_1``)."""
        return Permissions.union(
            self.common(name),
            self._zone_js(zone_ids),
            self._container_node(node),
            *(self._zone_core(z) for z in zone_ids),
        )

    def area(self, area_id: str) -> Permissions:
        """``area-N``: its zones' summaries and assignment, its own names, order events."""
        p = self.p
        pub = [f"{p}.t.areas.{area_id}.>", *self._order_worker(area_id)]
        sub = [f"{p}.*.areas.{area_id}.>"]
        for zone in self.topology.area_zones.get(area_id, []):
            pub += [f"{p}.s.zones.{zone}.assign", f"{p}.s.zones.{zone}.cancel"]
            sub.append(f"{p}.t.zones.{zone}.>")
        pub += [f"{p}.s.robots.{robot}.journal" for robot in self.topology.robots_of_area(area_id)]
        return self.common(area_id) | Permissions(pub_allow=tuple(pub), sub_allow=tuple(sub))

    def fleet(self) -> Permissions:
        """``fleet``: every topic in, its areas' services and node parameters out, all of JetStream."""
        p = self.p
        return self.common("fleet") | Permissions(
            pub_allow=(
                f"{p}.t.fleet.>",
                f"{p}.s.areas.*.dispatch",
                f"{p}.s.areas.*.cancel",
                f"{p}.p.>",
                f"{p}.w.>",
                f"{_JS}.>",
                f"$KV.{self.js['orders_bucket']}.>",
                f"$KV.{self.js['fleet_leader_bucket']}.>",
                "$JS.ACK.>",
                "$JS.FC.>",
            ),
            sub_allow=(f"{p}.t.>", f"{p}.*.fleet.>"),
        )

    def site_link(self, zone_id: str) -> Permissions:
        """``site-<zone>``: the leaf link of ``zone_id``'s edge site, as the hub sees it.

        Publish is what the site's server may send to the hub, subscribe what the hub sends
        to it: what the site zone and its robots may publish and subscribe anyway, replies
        to the hub's requests (``_INBOX.>``: each identity at the site is still held to its own
        response permissions there), the site zone's calls into the hub's JetStream domain,
        and the hub's calls into the site's (``$JS.<zone>.API.>``: the hub stream's source of
        the site stream, with its deliveries and flow control).
        """
        site = Permissions.union(self.zone(zone_id), *(self.robot(r) for r in self.topology.members(zone_id)))
        stream = site_stream(self.topology.root, self.topology.domain, zone_id)
        return Permissions(
            # replies; the source's deliveries ($JS.S.*) and consumer-create answers ($JSC.R.*)
            pub_allow=(
                *(s for s in site.pub_allow if not s.startswith(f"{_JS}.")),  # the site's own JetStream
                "_INBOX.>",
                "$JS.S.>",
                "$JSC.R.>",
            ),
            # the hub's JetStream calls into the site's domain; flow control of the source
            sub_allow=(
                *site.sub_allow,
                f"$JS.{zone_id}.API.>",
                f"$JS.FC.{stream}.>",
                f"$JS.FC.{zone_id}.*.{stream}.>",
            ),
        )

    def viewer(self) -> Permissions:
        """``viewer``: read topics and the graph, ask graph queries; no queue groups.

        It may answer requests it received (its transport answers graph queries like every
        participant's); it receives nothing but topics, graph subjects and its inbox.
        """
        p = self.p
        return Permissions(
            pub_allow=(f"{p}.g.>",),
            sub_allow=("_INBOX.viewer.>", f"{p}.t.>", f"{p}.g.>"),
            sub_deny=("> *",),
        )

    def operator(self) -> Permissions:
        """``operator``: everything (the ``rfos`` CLI of the person running the fleet)."""
        return Permissions(unrestricted=True)

    def user_node(
        self,
        name: str,
        *,
        publish: Sequence[str] = (),
        subscribe: Sequence[str] = (),
        serve: Sequence[str] = (),
        call: Sequence[str] = (),
    ) -> Permissions:
        """A user's node ``name``: the common part, its own parameters, and the ROS topics
        and services given (fully qualified ROS names, mapped as ``SubjectMapper`` does)."""
        m = self.mapper
        return self.common(name) | Permissions(
            pub_allow=(*[m.topic(t) for t in publish], *[m.service(s) for s in call]),
            sub_allow=tuple(
                [m.topic(t) for t in subscribe] + [m.service(s) for s in serve] + [m.parameters(f"/{name}")]
            ),
        )
