"""Pydantic models of the four tiers' YAML files: fleet, area, zone and edge.

Every model forbids unknown keys (a typo is an error, not a silently ignored setting) and is
strict about types (``port: "8080"`` is refused; integers are accepted where a float is
expected). Fleet IDs (``robot-1``, ``zone-1``, ``area-1``) follow the token rules of
:mod:`robotfleet_nodes.names`: letters, digits, ``_`` and ``-``, not starting with a
digit or ``-``, so they are usable verbatim in node names, topics and NATS subjects.

The defaults describe a working one-robot stack on a local broker: the fleet knows
``area-1``, which owns ``zone-1``, which owns ``robot-1``, whose edge reports to ``zone-1``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    ByteSize,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from robotfleet_nodes.config._types import (
    DEFAULT_BROKER,
    AreaId,
    FleetId,
    LogLevel,
    RobotId,
    ZoneId,
    _JetStreamName,
    _Path,
    _Percent,
    _Seconds,
    _Section,
    _unique,
    check_broker_url,
    check_id,
)
from robotfleet_nodes.config.drivers import (
    DdsDriverConfig,
    Pose2DConfig,
    SimDriverConfig,
    Vda5050DriverConfig,
)

__all__ = [
    "DEFAULT_BROKER",
    "AreaConfig",
    "AreaId",
    "AssignmentConfig",
    "DdsDriverConfig",
    "EdgeConfig",
    "FailoverConfig",
    "FleetConfig",
    "FleetId",
    "HttpConfig",
    "LeaseConfig",
    "MessagingConfig",
    "Pose2DConfig",
    "RobotId",
    "SchedulerConfig",
    "SimDriverConfig",
    "SiteConfig",
    "StateConfig",
    "TierConfig",
    "Vda5050DriverConfig",
    "ZoneConfig",
    "ZoneId",
    "check_broker_url",
    "check_id",
]


class MessagingConfig(_Section):
    """``messaging:``: how the process reaches the NATS broker and who it is there.

    File paths are relative to the YAML file's directory. Each key has an environment
    override (``MESSAGING_URL``, ``MESSAGING_CREDS``, ``MESSAGING_TLS_CA``,
    ``MESSAGING_TLS_CERT``, ``MESSAGING_TLS_KEY``, ``MESSAGING_ENCODING``,
    ``MESSAGING_MAX_MESSAGE_SIZE``); ``RFOS_INSECURE=1`` ignores the
    credentials and TLS keys (development against an open broker, with a warning).
    """

    broker: Annotated[str, AfterValidator(check_broker_url)] = DEFAULT_BROKER
    """NATS URL(s), e.g. ``nats://localhost:4222``; several servers separated by ``,``."""
    servers: list[Annotated[str, AfterValidator(check_broker_url)]] = Field(default_factory=list)
    """More NATS URLs of the same cluster, one per item (merged with ``broker``: see
    :attr:`urls`); the connection fails over between all of them."""
    jetstream_replicas: int | None = Field(None, ge=1, le=5)
    """Replicas of the JetStream streams and buckets this process creates; ``null``
    (default): 3 when the server is in a cluster of 3 or more, else 1."""
    credentials: _Path = None
    """NATS ``.creds`` file of this process's identity, e.g. ``secrets/zone-1.creds``;
    ``null``: connect without credentials (an open broker)."""
    tls_ca: _Path = None
    """CA certificate (PEM) the broker's TLS certificate is verified with, e.g. ``secrets/ca.pem``."""
    tls_cert: _Path = None
    """Client certificate (PEM) for a broker that requires mutual TLS (with ``tls_key``)."""
    tls_key: _Path = None
    """Private key (PEM) of ``tls_cert``."""
    encoding: Literal["auto", "json", "cdr"] = "auto"
    """Wire encoding of messages and service calls: ``auto`` (per type: CDR for bulk numeric
    data such as images, point clouds, maps; JSON otherwise), ``json`` or ``cdr`` for all."""
    max_message_size: ByteSize = Field(default=ByteSize(256 * 1024 * 1024), gt=0)
    """Largest encoded message this process publishes (bytes, or ``64MiB``); a bigger one
    raises ``MessageTooLarge``. Messages above the server's ``max_payload`` are sent in chunks."""

    @property
    def urls(self) -> list[str]:
        """Every server to connect to: ``broker``'s URLs (unless left at the default while
        ``servers`` is given), then ``servers``, without repeats."""
        given = [] if self.servers and "broker" not in self.model_fields_set else self.broker.split(",")
        return list(dict.fromkeys([*given, *(u for item in self.servers for u in item.split(","))]))

    @property
    def url(self) -> str:
        """:attr:`urls` comma-joined (what ``MESSAGING_URL`` holds)."""
        return ",".join(self.urls)

    @model_validator(mode="after")
    def _cert_with_key(self) -> MessagingConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            raise ValueError(f"{given} is set but {missing} is not: mutual TLS needs both (or neither)")
        return self


class _TierConfig(_Section):
    """Keys every tier's file has."""

    KIND: ClassVar[str] = ""
    messaging: MessagingConfig = Field(default_factory=MessagingConfig)
    log_level: LogLevel = "INFO"
    """Python logging level of the process: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class HttpConfig(_Section):
    """``http:``: where the fleet serves its API, dashboard, ``/healthz`` and ``/metrics``, and
    who may use them (docs/fleet.md, "HTTP API: authentication").

    Relative paths (``tokens_file``, ``tls_cert``, ``tls_key``) are relative to the YAML
    file's directory when the loader passes it (validation context ``config_dir``), else to
    the working directory.
    """

    host: str = "127.0.0.1"
    """Interface to bind; ``127.0.0.1`` (default) for this machine only, ``0.0.0.0`` for all
    (``gen-config`` writes that: the seed opens the dashboard from other hosts)."""
    port: int = Field(8080, ge=1, le=65535)
    """TCP port (``FLEET_HTTP_PORT`` overrides)."""
    tokens_file: str | None = None
    """API tokens file (``rfos security token create``); ``null``: the API is open to anyone
    who reaches it (a warning is logged), for development and tests."""
    public_url: str | None = None
    """The URL people open, e.g. ``https://fleet.example.com``: its host is accepted in
    ``Host`` and ``Origin`` (DNS-rebinding and CSRF checks)."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """More ``Host`` names accepted (``name`` or ``name:port``; ``*`` turns the check off).
    Always accepted: ``localhost``, IP addresses, this machine's name and the bind host."""
    session_ttl_s: float = Field(8 * 3600.0, gt=0, le=30 * 24 * 3600.0)
    """How long a dashboard login lasts [s]."""
    tls_cert: str | None = None
    """PEM certificate (chain) to serve HTTPS with; needs ``tls_key``."""
    tls_key: str | None = None
    """PEM private key of ``tls_cert``."""

    @field_validator("tokens_file", "tls_cert", "tls_key")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must be a file path or null")
        path = Path(value).expanduser()
        base = (info.context or {}).get("config_dir")
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return str(path)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL, e.g. https://fleet.example.com:8080")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both (HTTPS) or neither (HTTP)")
        return self


class StateConfig(_Section):
    """``state:``: where the fleet keeps durable state (JetStream on the broker)."""

    dir: str | None = None
    """Store directory of the embedded broker (used when no broker URL is reachable or set);
    ``null``: a temporary directory, so state is lost when the process ends."""
    orders_stream: _JetStreamName = "RFOS_ORDERS"
    """JetStream stream holding work-order submissions (deduplicated by order id)."""
    orders_bucket: _JetStreamName = "rfos_orders"
    """JetStream key-value bucket holding the current state of every work order."""
    fleet_bucket: _JetStreamName = "rfos_fleet"
    """JetStream key-value bucket holding the latest area and zone summaries."""


class SchedulerConfig(_Section):
    """``scheduler:``: how the fleet hands work orders to areas."""

    dispatch_interval_s: _Seconds = 0.1
    """How often pending orders are dispatched [s]."""
    dispatch_timeout_s: _Seconds = 5.0
    """How long an area may take to accept an order before it is offered again [s]."""
    max_attempts: int = Field(3, ge=1)
    """Assignments to robots before an order is FAILED (counts reassignments after faults)."""
    max_pending: int = Field(100_000, ge=1)
    """Orders waiting for dispatch before new submissions are refused."""
    area_silence_timeout_s: _Seconds = 5.0
    """An area that has not reported for this long is offered one order at a time (a probe) [s]."""


class FailoverConfig(_Section):
    """``failover:``: several fleet instances, one leader (docs/fleet.md, "Fleet failover").

    The leader holds a lease in a JetStream key-value bucket and renews it every
    ``renew_period_s``; a standby takes over when it has seen no renewal for ``lease_s`` (on
    its own clock), and a leader that could not renew for ``lease_s - renew_period_s``
    stops dispatching at once, before any standby may take over.
    """

    instance_id: FleetId = "fleet"
    """This instance's name among the fleet's instances (env ``FLEET_INSTANCE_ID``), e.g.
    the pod name; a restarted instance with the same name takes its own lease back at once."""
    advertise_url: str = ""
    """Where clients reach this instance's HTTP API (env ``FLEET_ADVERTISE_URL``), named by
    standbys when they refuse a write; empty: ``http://<http.host>:<port>`` unless the host
    is a wildcard address (then unknown)."""
    lease_s: _Seconds = 3.0
    """A standby takes over after seeing no renewal of the leader's lease for this long [s]."""
    renew_period_s: _Seconds = 0.5
    """How often the leader renews its lease (must be below half ``lease_s``) [s]."""

    @model_validator(mode="after")
    def _renew_in_time(self) -> FailoverConfig:
        if not self.renew_period_s * 2 < self.lease_s:
            raise ValueError(
                f"renew_period_s ({self.renew_period_s:g}) must be below half lease_s ({self.lease_s:g}): "
                "the leader must renew its lease more than twice per lease"
            )
        return self


class FleetConfig(_TierConfig):
    """The fleet's file (``FLEET_CONFIG``): API, scheduler and global state."""

    KIND: ClassVar[str] = "fleet"
    fleet_id: FleetId = "fleet"
    http: HttpConfig = Field(default_factory=HttpConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    areas: Annotated[list[AreaId], AfterValidator(_unique("area id"))] = Field(
        default_factory=lambda: ["area-1"]
    )
    """Areas the fleet dispatches to."""
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    summary_period_s: _Seconds = 1.0
    """How often the fleet publishes its FleetSummary [s]."""
    failover: FailoverConfig = Field(default_factory=FailoverConfig)
    """Leader election among several fleet instances (one instance: it simply leads)."""
    site_domains: dict[ZoneId, str] = Field(default_factory=dict)
    """Zones at edge sites -> their JetStream domain: the order-event stream sources each
    site's events from there (docs/fleet.md, "Edge sites")."""

    @field_validator("site_domains")
    @classmethod
    def _site_domain_tokens(cls, value: dict[str, str]) -> dict[str, str]:
        for zone_id, domain in value.items():
            if not re.fullmatch(r"[A-Za-z0-9_-]+", domain):
                raise ValueError(
                    f"{zone_id}: a JetStream domain is one subject token (letters, digits, - and _), "
                    f"got {domain!r}"
                )
        return value


class AreaConfig(_TierConfig):
    """An area's file (``AREA_CONFIG``): which zones it dispatches to."""

    KIND: ClassVar[str] = "area"
    area_id: AreaId = "area-1"
    zones: Annotated[list[ZoneId], AfterValidator(_unique("zone id"))] = Field(
        default_factory=lambda: ["zone-1"]
    )
    """Zones the area owns."""
    zone_silence_timeout_s: _Seconds = 5.0
    """A zone that has not reported for this long gets no new orders [s]."""
    assign_timeout_s: _Seconds = 2.0
    """How long a zone may take to answer an assignment request [s]."""
    summary_period_s: _Seconds = 1.0
    """How often the area publishes its AreaSummary [s]."""


class AssignmentConfig(_Section):
    """``assignment:``: how a zone picks a robot for an order."""

    policy: Literal["nearest", "round_robin"] = "nearest"
    """``nearest``: the idle robot closest to the target; ``round_robin``: take turns."""
    min_battery_percent: _Percent = 20.0
    """Robots below this state of charge get no new orders [%]."""
    reassign_on_offline: bool = True
    """Give the order of a robot that went offline to another robot."""
    execute_timeout_s: _Seconds = 300.0
    """An order not finished after this long is cancelled on the robot and reassigned [s]."""


class LeaseConfig(_Section):
    """``leases:``: execution leases of a zone's assignments (docs/fleet.md, "Leases")."""

    robot_lease_s: float = Field(10.0, ge=0, allow_inf_nan=False)
    """A robot executes an order only while its zone renewed the assignment within this [s];
    ``0`` turns leases off (the robot runs every order to its end and the order of a lost
    robot moves ``margin_s`` after it went OFFLINE: it may then run twice; for comparisons)."""
    zone_lease_s: float = Field(15.0, ge=0, allow_inf_nan=False)
    """The zone renews robot leases only while its area renewed the zone's lease within this
    [s]; ``0``: the zone needs no lease from an area (a zone run on its own)."""
    margin_s: float = Field(2.0, ge=0, allow_inf_nan=False)
    """Added to an ended lease before its order moves to another robot or zone [s]."""
    renew_period_s: _Seconds = 1.0
    """How often the zone renews its robots' leases (must be below half ``robot_lease_s``) [s]."""
    on_lease_loss: Literal["pause", "stop", "finish"] = "pause"
    """What a robot does when its lease ends: ``pause`` (stop where it is, hold the order,
    resume if the lease comes back), ``stop`` (cancel the task) or ``finish`` (run to the end;
    the order then moves only when the robot reports or an operator cancels)."""

    @model_validator(mode="after")
    def _renew_often_enough(self) -> LeaseConfig:
        if self.robot_lease_s and self.renew_period_s * 2 > self.robot_lease_s:
            raise ValueError(
                f"renew_period_s ({self.renew_period_s:g}) must be at most half of robot_lease_s "
                f"({self.robot_lease_s:g}): one lost renewal must not end a lease"
            )
        return self


class SiteConfig(_Section):
    """``site:``: the zone runs at an edge site behind a NATS leaf node (docs/fleet.md, "Edge sites")."""

    jetstream_domain: str | None = None
    """The site's JetStream domain (its leaf nats-server's); ``null``: the zone id."""
    hub_domain: str = "hub"
    """The hub's JetStream domain (the order bucket the zone reads at a restart lives there)."""
    site_offline_grace_s: float = Field(120.0, gt=0, allow_inf_nan=False)
    """The zone holds its lease this long after the area's last grant (instead of
    ``leases.zone_lease_s``): a cut uplink stops nothing for this long [s]."""

    @field_validator("jetstream_domain", "hub_domain")
    @classmethod
    def _domain_token(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError(
                f"a JetStream domain is one subject token (letters, digits, - and _), got {value!r}"
            )
        return value


def _check_bounds(value: list[float] | None) -> list[float] | None:
    if value is None:
        return None
    if len(value) != 4 or not all(math.isfinite(v) for v in value):
        raise ValueError("bounds must be four finite numbers [x_min, y_min, x_max, y_max]")
    if value[0] >= value[2] or value[1] >= value[3]:
        raise ValueError(f"bounds must have x_min < x_max and y_min < y_max, got {value}")
    return value


class ZoneConfig(_TierConfig):
    """A zone's file (``ZONE_CONFIG``): its robots and how it assigns orders to them."""

    KIND: ClassVar[str] = "zone"
    zone_id: ZoneId = "zone-1"
    area_id: AreaId = "area-1"
    robots: Annotated[list[RobotId], AfterValidator(_unique("robot id"))] = Field(
        default_factory=lambda: ["robot-1"]
    )
    """Robots the zone owns."""
    heartbeat_timeout_s: _Seconds = 3.0
    """A robot whose status has not arrived for this long is OFFLINE [s]."""
    reconnect_grace_s: float = Field(2.0, ge=0, allow_inf_nan=False)
    """After the zone's own broker connection comes back, robots get ``heartbeat_timeout_s``
    plus this long to report before any is OFFLINE (a broker outage is not a robot outage) [s]."""
    bounds: Annotated[list[float] | None, AfterValidator(_check_bounds)] = None
    """``[x_min, y_min, x_max, y_max]`` of the zone's map [m]: orders with a target outside
    are refused (``order_refused``); ``null``: any finite target."""
    leases: LeaseConfig = Field(default_factory=LeaseConfig)
    summary_period_s: _Seconds = 1.0
    """How often the zone publishes its ZoneSummary [s]."""
    assignment: AssignmentConfig = Field(default_factory=AssignmentConfig)
    site: SiteConfig | None = None
    """Set when the zone runs behind a site's leaf node; ``null``: on the hub's servers."""

    @property
    def jetstream_domain(self) -> str | None:
        """The site's JetStream domain (``site.jetstream_domain`` or the zone id); None off-site."""
        if self.site is None:
            return None
        return self.site.jetstream_domain or self.zone_id


class EdgeConfig(_TierConfig):
    """An edge's file (``EDGE_CONFIG``): one robot, its zone and its driver.

    ``EDGE_ROBOT_ID`` and ``EDGE_ZONE_ID`` override ``robot_id`` and ``zone_id``; with a
    ``zone_map`` (``EDGE_ZONE_MAP``) the loader takes ``zone_id`` from the map by robot id.
    With ``driver: vda5050`` and no ``robot_id``, the robot id is the vehicle's
    ``<manufacturer>-<serialNumber>`` made a valid id (``Acme``/``SN.1``: ``Acme-SN_1``).
    """

    KIND: ClassVar[str] = "edge"
    robot_id: RobotId = "robot-1"
    zone_id: ZoneId = "zone-1"
    zone_map: _Path = None
    """Where ``zone_id`` comes from, looked up by ``robot_id``: a ``robot_id,zone_id`` CSV file
    (``robots.csv``) or a directory with one file per robot id holding its zone id (a mounted
    ConfigMap, ``robot-zone-map``). ``EDGE_ZONE_ID`` wins over the map, ``EDGE_ZONE_MAP``
    over this file's ``zone_id``; ``zone_id`` and ``zone_map`` both in one file is an error.
    ``null``: ``zone_id`` as given."""
    driver: Literal["sim", "dds", "vda5050"] = "sim"
    """``sim``: the built-in simulated robot; ``dds``: bridge to a ROS 2 robot;
    ``vda5050``: master of a VDA 5050 vehicle over MQTT."""
    status_rate_hz: float = Field(1.0, gt=0, le=100)
    """RobotStatus messages per second (1000 robots at 1 Hz = 1000 msg/s) [Hz]."""
    journal_dir: str | None = None
    """Directory of the robot's execution journal ``<robot_id>.journal`` (``EDGE_JOURNAL_DIR``
    overrides); ``null``: ``$RFOS_STATE_DIR/journal``, else ``~/.local/state/robotfleet/journal``."""
    sim: SimDriverConfig = Field(default_factory=SimDriverConfig)
    dds: DdsDriverConfig = Field(default_factory=DdsDriverConfig)
    vda5050: Vda5050DriverConfig = Field(default_factory=Vda5050DriverConfig)

    @model_validator(mode="after")
    def _vehicle_robot_id(self) -> EdgeConfig:
        if self.driver == "vda5050" and "robot_id" not in self.model_fields_set:
            from robotfleet_nodes.vda5050.topics import default_robot_id

            self.robot_id = default_robot_id(self.vda5050.manufacturer, self.vda5050.serial_number)
        return self


#: Any tier's configuration.
TierConfig = FleetConfig | AreaConfig | ZoneConfig | EdgeConfig
