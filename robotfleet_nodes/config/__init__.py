"""Configuration of the fleet's four tiers: YAML files, environment overrides, validation.

``load_config("zone")`` reads the file named by ``ZONE_CONFIG`` (defaults when unset),
applies ``MESSAGING_URL``, and returns a validated :class:`ZoneConfig`; any mistake is a
:class:`~robotfleet_nodes.errors.ConfigError` naming the file and key. The generator of
whole deployments (``deploy/1000/...``) is :mod:`robotfleet_nodes.config.generate`; their
Kubernetes manifests (``rfos fleet gen-k8s``) come from :mod:`robotfleet_nodes.config.k8s`.
"""

from __future__ import annotations

from robotfleet_nodes.config._load import CONFIG_ENV_VARS, ENV_OVERRIDES, ConfigKind, load_config
from robotfleet_nodes.config.models import (
    DEFAULT_BROKER,
    AreaConfig,
    AreaId,
    AssignmentConfig,
    DdsDriverConfig,
    EdgeConfig,
    FailoverConfig,
    FleetConfig,
    FleetId,
    HttpConfig,
    LeaseConfig,
    MessagingConfig,
    Pose2DConfig,
    RobotId,
    SchedulerConfig,
    SimDriverConfig,
    SiteConfig,
    StateConfig,
    TierConfig,
    Vda5050DriverConfig,
    ZoneConfig,
    ZoneId,
    check_broker_url,
    check_id,
)

__all__ = [
    "CONFIG_ENV_VARS",
    "DEFAULT_BROKER",
    "ENV_OVERRIDES",
    "AreaConfig",
    "AreaId",
    "AssignmentConfig",
    "ConfigKind",
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
    "load_config",
]
