"""Reading a tier's YAML file, applying the seed's environment overrides, validating.

Order: the file (named by the argument, else by ``<TIER>_CONFIG``; no file: defaults), then
the environment (``MESSAGING_URL``, ``MESSAGING_CREDS``, ``MESSAGING_TLS_CA``,
``MESSAGING_TLS_CERT``, ``MESSAGING_TLS_KEY``, ``MESSAGING_ENCODING``,
``MESSAGING_MAX_MESSAGE_SIZE``, ``FLEET_HTTP_PORT``, ``FLEET_INSTANCE_ID``,
``FLEET_ADVERTISE_URL``, ``EDGE_ROBOT_ID``, ``EDGE_ZONE_ID``, ``EDGE_ZONE_MAP``,
``EDGE_DRIVER``, ``EDGE_DDS_DOMAIN_ID``, ``EDGE_VDA5050_MQTT_URL``,
``EDGE_VDA5050_MQTT_CREDS``), then validation, then an edge's zone from its zone
map (``zone_map``) unless ``EDGE_ZONE_ID`` names it. File paths under ``messaging``
(``credentials``, ``tls_ca``, ``tls_cert``, ``tls_key``) and an edge's ``zone_map`` are
relative to the YAML file's directory. Every failure
is one :class:`ConfigError` whose lines read ``<source>: <key path>: <what is wrong>``,
where the source is the file as the user named it, or the environment variable a value
came from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, overload

from pydantic import ValidationError

from robotfleet_nodes._yaml import YamlError, load_yaml
from robotfleet_nodes.config._zone_map import zone_from_map
from robotfleet_nodes.config.models import (
    AreaConfig,
    EdgeConfig,
    FleetConfig,
    TierConfig,
    ZoneConfig,
    check_id,
)
from robotfleet_nodes.errors import ConfigError

__all__ = ["CONFIG_ENV_VARS", "ENV_OVERRIDES", "ConfigKind", "load_config"]

logger = logging.getLogger(__name__)

ConfigKind = Literal["fleet", "area", "zone", "edge"]

_MODELS: Final[dict[str, type[TierConfig]]] = {
    "fleet": FleetConfig,
    "area": AreaConfig,
    "zone": ZoneConfig,
    "edge": EdgeConfig,
}

#: The variable naming each tier's file (the seed's names).
CONFIG_ENV_VARS: Final[dict[str, str]] = {
    "fleet": "FLEET_CONFIG",
    "area": "AREA_CONFIG",
    "zone": "ZONE_CONFIG",
    "edge": "EDGE_CONFIG",
}

#: Every tier: environment variable -> ``messaging`` key path it overrides.
_MESSAGING: Final[dict[str, tuple[str, ...]]] = {
    "MESSAGING_URL": ("messaging", "broker"),
    "MESSAGING_CREDS": ("messaging", "credentials"),
    "MESSAGING_TLS_CA": ("messaging", "tls_ca"),
    "MESSAGING_TLS_CERT": ("messaging", "tls_cert"),
    "MESSAGING_TLS_KEY": ("messaging", "tls_key"),
    "MESSAGING_ENCODING": ("messaging", "encoding"),
    "MESSAGING_MAX_MESSAGE_SIZE": ("messaging", "max_message_size"),
    "MESSAGING_JETSTREAM_REPLICAS": ("messaging", "jetstream_replicas"),
}

#: ``messaging`` keys holding file paths: relative to the YAML file's directory.
_PATH_KEYS: Final = ("credentials", "tls_ca", "tls_cert", "tls_key")
#: File paths of ``http:`` (API tokens, HTTPS certificate and key).
_HTTP_PATH_KEYS: Final = ("tokens_file", "tls_cert", "tls_key")

#: Per tier: environment variable -> key path it overrides.
ENV_OVERRIDES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "fleet": {
        **_MESSAGING,
        "FLEET_HTTP_PORT": ("http", "port"),
        "FLEET_INSTANCE_ID": ("failover", "instance_id"),
        "FLEET_ADVERTISE_URL": ("failover", "advertise_url"),
    },
    "area": dict(_MESSAGING),
    "zone": dict(_MESSAGING),
    "edge": {
        **_MESSAGING,
        "EDGE_ROBOT_ID": ("robot_id",),
        "EDGE_ZONE_ID": ("zone_id",),
        "EDGE_ZONE_MAP": ("zone_map",),
        "EDGE_DRIVER": ("driver",),
        "EDGE_DDS_DOMAIN_ID": ("dds", "domain_id"),
        "EDGE_VDA5050_MQTT_URL": ("vda5050", "mqtt_url"),
        "EDGE_VDA5050_MQTT_CREDS": ("vda5050", "mqtt_credentials"),
        "EDGE_JOURNAL_DIR": ("journal_dir",),
    },
}

#: Key paths whose variable must be an integer -> what the error message asks for.
_INT_KEYS: Final = {
    ("http", "port"): "a port number 1..65535",
    ("dds", "domain_id"): "a DDS domain id 0..232",
    ("messaging", "jetstream_replicas"): "a number of replicas 1..5",
}


@overload
def load_config(
    kind: Literal["fleet"], path: str | os.PathLike[str] | None = ..., environ: Mapping[str, str] | None = ...
) -> FleetConfig: ...
@overload
def load_config(
    kind: Literal["area"], path: str | os.PathLike[str] | None = ..., environ: Mapping[str, str] | None = ...
) -> AreaConfig: ...
@overload
def load_config(
    kind: Literal["zone"], path: str | os.PathLike[str] | None = ..., environ: Mapping[str, str] | None = ...
) -> ZoneConfig: ...
@overload
def load_config(
    kind: Literal["edge"], path: str | os.PathLike[str] | None = ..., environ: Mapping[str, str] | None = ...
) -> EdgeConfig: ...
@overload
def load_config(
    kind: str, path: str | os.PathLike[str] | None = ..., environ: Mapping[str, str] | None = ...
) -> TierConfig: ...
def load_config(
    kind: str, path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> TierConfig:
    """Load and validate the configuration of one tier (``fleet``, ``area``, ``zone``, ``edge``).

    Args:
        kind: the tier.
        path: the YAML file; ``None``: the file named by ``FLEET_CONFIG`` / ``AREA_CONFIG`` /
            ``ZONE_CONFIG`` / ``EDGE_CONFIG``, and the defaults when that is unset too.
        environ: the environment to read variables from (default: ``os.environ``).

    Returns:
        The validated model, with ``MESSAGING_URL`` (``messaging.broker``),
        ``MESSAGING_CREDS`` (``messaging.credentials``), ``MESSAGING_TLS_CA`` /
        ``MESSAGING_TLS_CERT`` / ``MESSAGING_TLS_KEY`` (``messaging.tls_*``),
        ``MESSAGING_ENCODING`` / ``MESSAGING_MAX_MESSAGE_SIZE`` (``messaging.encoding`` /
        ``messaging.max_message_size``), ``MESSAGING_JETSTREAM_REPLICAS``
        (``messaging.jetstream_replicas``),
        ``FLEET_HTTP_PORT`` (``http.port``), ``FLEET_INSTANCE_ID`` /
        ``FLEET_ADVERTISE_URL`` (``failover.instance_id`` / ``failover.advertise_url``),
        ``EDGE_ROBOT_ID`` (``robot_id``),
        ``EDGE_ZONE_ID`` (``zone_id``), ``EDGE_DRIVER`` (``driver``) and
        ``EDGE_DDS_DOMAIN_ID`` (``dds.domain_id``), ``EDGE_VDA5050_MQTT_URL``
        (``vda5050.mqtt_url``), ``EDGE_VDA5050_MQTT_CREDS`` (``vda5050.mqtt_credentials``),
        ``EDGE_JOURNAL_DIR`` (``journal_dir``),
        ``EDGE_ZONE_MAP`` (``zone_map``) applied; an edge with a zone map has the zone the
        map gives its robot id, unless ``EDGE_ZONE_ID`` is set.

    Raises:
        ConfigError: naming the file (or variable), the key path and what is expected.
    """
    model = _MODELS.get(kind)
    if model is None:
        raise ConfigError(f"unknown config kind {kind!r}: expected one of {', '.join(_MODELS)}")
    env = os.environ if environ is None else environ
    env_var = CONFIG_ENV_VARS[kind]
    named_by = None
    if path is None and env.get(env_var):
        path, named_by = env[env_var], env_var
    data: dict[str, Any] = {}
    source = f"<{kind} defaults>"
    if path is not None:
        source = os.fspath(path)
        data = _read_yaml(Path(source), source, named_by)
        _resolve_paths(data, Path(source).parent)
    origins = _apply_env(kind, data, env)
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, origins)) from None
    if isinstance(config, EdgeConfig) and config.zone_map is not None:
        config = _zone_from_map(config, config.zone_map, data, origins, source)
    logger.debug("loaded %s config from %s", kind, source)
    return config


def _zone_from_map(
    config: EdgeConfig,
    zone_map: str,
    data: Mapping[str, Any],
    origins: Mapping[tuple[str, ...], str],
    source: str,
) -> EdgeConfig:
    """``config`` with the zone ``zone_map`` gives its robot (``EDGE_ZONE_ID`` wins)."""
    map_source = origins.get(("zone_map",), f"{source}: zone_map")
    if ("zone_id",) in origins:
        logger.debug("%s names the zone: zone map %s not read", origins[("zone_id",)], zone_map)
        return config
    if "zone_id" in data and ("zone_map",) not in origins:
        raise ConfigError(
            f"{source}: zone_id and zone_map are both set: keep one (the map gives each robot its zone)"
        )
    zone = zone_from_map(zone_map, config.robot_id, source=map_source)
    try:
        check_id(zone, "zone id")
    except ValueError as exc:
        raise ConfigError(f"{map_source}: {zone_map}: {config.robot_id}: {exc}") from None
    logger.debug("%s is in %s (zone map %s)", config.robot_id, zone, zone_map)
    return config.model_copy(update={"zone_id": zone})


def _read_yaml(path: Path, source: str, named_by: str | None) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path`` (``{}`` for an empty file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f" ({named_by} points there)" if named_by else ""
        raise ConfigError(f"{source}: no such config file{hint}") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read: {exc}") from None
    try:
        data = load_yaml(text, source)
    except YamlError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level, got {_kind_of(data)}")
    return data


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the file paths of ``messaging``, ``http``, an edge's ``zone_map`` and
    ``vda5050.mqtt_credentials`` relative to
    ``base`` (the YAML file's directory).

    Paths from the environment stay relative to the working directory, as a shell user expects.
    """
    for section_name, keys in (("messaging", _PATH_KEYS), ("http", _HTTP_PATH_KEYS)):
        section = data.get(section_name)
        if not isinstance(section, dict):
            continue  # a wrong type is reported by validation
        for key in keys:
            value = section.get(key)
            if isinstance(value, str) and value.strip():
                expanded = Path(value).expanduser()
                section[key] = str(expanded if expanded.is_absolute() else base / expanded)
    vda5050 = data.get("vda5050")  # an edge's VDA 5050 master: its MQTT login
    if isinstance(vda5050, dict):
        creds = vda5050.get("mqtt_credentials")
        if isinstance(creds, str) and creds.strip():
            expanded = Path(creds).expanduser()
            vda5050["mqtt_credentials"] = str(expanded if expanded.is_absolute() else base / expanded)
    zone_map = data.get("zone_map")
    if isinstance(zone_map, str) and zone_map.strip():
        expanded = Path(zone_map).expanduser()
        data["zone_map"] = str(expanded if expanded.is_absolute() else base / expanded)


def _apply_env(kind: str, data: dict[str, Any], env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Write the environment overrides into ``data``; returns key path -> variable name."""
    origins: dict[tuple[str, ...], str] = {}
    for var, key_path in ENV_OVERRIDES[kind].items():
        raw = env.get(var, "").strip()
        if not raw:
            continue
        value: Any = raw
        if key_path in _INT_KEYS:
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{var}: expected {_INT_KEYS[key_path]}, got {raw!r}") from None
        target = data
        for key in key_path[:-1]:
            section = target.get(key)
            if not isinstance(section, dict):
                section = {}  # a wrong section type in the file is reported by validation below
                if key in target:
                    break
                target[key] = section
            target = section
        else:
            target[key_path[-1]] = value
            origins[key_path] = var
            logger.debug("%s overrides %s", var, ".".join(key_path))
    return origins


def _describe(exc: ValidationError, source: str, origins: Mapping[tuple[str, ...], str]) -> str:
    """One line per validation error: ``source: key.path: message``."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(str(part) for part in error["loc"])
        where = origins.get(loc, source)
        key = ".".join(loc) or "(top level)"
        lines.append(f"{where}: {key}: {_message(error)}")
    return "\n".join(lines)


def _message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see config/*.yaml for every key)"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        return f"expected {error['ctx']['expected']}, got {value!r}"
    expected = _EXPECTED.get(kind)
    if expected is not None:
        return f"expected {expected}, got {value!r} ({_kind_of(value)})"
    return f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {value!r}"


_EXPECTED: Final = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _kind_of(value: object) -> str:
    """A YAML-ish name for the type of ``value``."""
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer"}
    names |= {float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
