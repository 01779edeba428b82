"""VDA 5050 2.1.0: the official JSON schemas and validation of messages against them.

The schemas (``schemas/2.1.0/<topic>.schema``, MIT, see ``schemas/LICENSE.txt``) are vendored
unchanged. :func:`validate` checks one message of a VDA 5050 topic (``order``,
``instantActions``, ``state``, ``visualization``, ``connection``, ``factsheet``) and raises
:class:`~robotfleet_nodes.errors.Vda5050SchemaError` naming the first offending field;
:func:`errors` lists every problem instead. Validators are built once per topic (JSON Schema
draft 2020-12, as the schemas declare).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from robotfleet_nodes.errors import Vda5050SchemaError

__all__ = ["SCHEMA_VERSION", "TOPICS", "errors", "schema", "validate"]

#: The VDA 5050 version whose schemas are vendored.
SCHEMA_VERSION = "2.1.0"
#: The topics (the last token of ``<interface>/<major>/<manufacturer>/<serial>/<topic>``).
TOPICS = ("order", "instantActions", "state", "visualization", "connection", "factsheet")


def schema(topic: str) -> dict[str, Any]:
    """The JSON schema of ``topic`` (a copy: changing it changes no validator)."""
    copied: dict[str, Any] = json.loads(json.dumps(_schema(topic)))
    return copied


@cache
def _schema(topic: str) -> dict[str, Any]:
    if topic not in TOPICS:
        raise Vda5050SchemaError(f"unknown VDA 5050 topic {topic!r}: expected one of {', '.join(TOPICS)}")
    text = resources.files(__name__).joinpath("schemas", SCHEMA_VERSION, f"{topic}.schema").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator(topic: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(topic))


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(the message)"


def errors(topic: str, message: Mapping[str, Any]) -> list[str]:
    """Every way ``message`` breaks ``topic``'s schema, as ``<field path>: <what>`` lines."""
    found = sorted(_validator(topic).iter_errors(message), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_where(e.absolute_path)}: {e.message}" for e in found]


def validate(topic: str, message: Mapping[str, Any]) -> None:
    """Raise :class:`Vda5050SchemaError` unless ``message`` is a valid ``topic`` message."""
    problems = errors(topic, message)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise Vda5050SchemaError(f"invalid VDA 5050 {topic} message: {problems[0]}{more}")
