"""The building blocks of the tiers' configuration models: ids, checks, constrained types and
the base of every section (:class:`_Section`: strict, unknown keys refused).

Private to :mod:`robotfleet_nodes.config`; :mod:`~robotfleet_nodes.config.models` re-exports
the public names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

__all__ = [
    "DEFAULT_BROKER",
    "AreaId",
    "FleetId",
    "LogLevel",
    "RobotId",
    "ZoneId",
    "check_broker_url",
    "check_id",
]

#: The broker every config points at unless told otherwise (the seed's value).
DEFAULT_BROKER = "nats://localhost:4222"

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_MAX_ID_LENGTH = 255
_BUCKET = re.compile(r"[A-Za-z0-9_-]+")
_BROKER_SCHEMES = ("nats", "tls", "ws", "wss")
_URL = re.compile(r"(?P<scheme>[a-z]+)://[^\s/?#,]+(?::\d+)?/?")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a valid fleet ID, else raise ``ValueError`` saying why.

    Same rules as a name token in :mod:`robotfleet_nodes.names`.
    """
    if not value:
        raise ValueError(f"{what} must not be empty (letters, digits, '-', '_')")
    if len(value) > _MAX_ID_LENGTH:
        raise ValueError(f"{what} is longer than {_MAX_ID_LENGTH} characters")
    if not _ID.fullmatch(value):
        reason = (
            ": must not start with a digit or '-'"
            if value[0].isdigit() or value[0] == "-"
            else " (letters, digits, '-', '_')"
        )
        raise ValueError(f"{value!r} is not a valid {what}{reason}")
    return value


def _id_check(what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        return check_id(value, what)

    return check


def _unique(what: str) -> Callable[[list[str]], list[str]]:
    def check(values: list[str]) -> list[str]:
        seen: dict[str, int] = {}
        for i, value in enumerate(values):
            if value in seen:
                raise ValueError(f"{what} {value!r} is listed twice (items {seen[value]} and {i})")
            seen[value] = i
        return values

    return check


def check_broker_url(value: str) -> str:
    """Return ``value`` if it is one or more comma-separated NATS URLs, else raise ``ValueError``."""
    urls = [part.strip() for part in value.split(",")]
    for url in urls:
        match = _URL.fullmatch(url)
        if match is None or match["scheme"] not in _BROKER_SCHEMES:
            raise ValueError(
                f"{url!r} is not a NATS URL: expected e.g. {DEFAULT_BROKER!r} "
                f"(schemes: {', '.join(_BROKER_SCHEMES)}; several URLs separated by ',')"
            )
    return ",".join(urls)


def _check_bucket(value: str) -> str:
    if not _BUCKET.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid JetStream name (letters, digits, '-', '_')")
    return value


#: A robot's ID, e.g. ``robot-1``.
RobotId = Annotated[str, AfterValidator(_id_check("robot id"))]
#: A zone's ID, e.g. ``zone-1``.
ZoneId = Annotated[str, AfterValidator(_id_check("zone id"))]
#: An area's ID, e.g. ``area-1``.
AreaId = Annotated[str, AfterValidator(_id_check("area id"))]
#: The fleet's ID, e.g. ``fleet``.
FleetId = Annotated[str, AfterValidator(_id_check("fleet id"))]
_JetStreamName = Annotated[str, AfterValidator(_check_bucket)]
_Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_Probability = Annotated[float, Field(ge=0, le=1)]
_Percent = Annotated[float, Field(ge=0, le=100)]


class _Section(BaseModel):
    """Base of every config section: strict types, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


def _check_path(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be empty: a file path, or leave the key out")
    return value


_Path = Annotated[str | None, AfterValidator(_check_path)]
