"""The subject layout permissions are written in, without importing the transport.

``security/`` sits below ``transport/`` in the layer list (the transport reads ``.creds``
files from here), so it cannot use ``SubjectMapper``. This module knows the same layout,
``<root>.<domain>.<kind>.<name tokens>`` (docs/subjects.md); tests/security checks that it
agrees with ``SubjectMapper`` name by name. Likewise the subjects nats-server's MQTT listener
gives VDA 5050 topics (:func:`vda5050_subject`, as ``vda5050.topics.subject``, which sits above).
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping

from robotfleet_nodes.errors import ConfigError

__all__ = ["Subjects", "check_vda5050_level", "root_and_domain_from_env", "vda5050_subject"]

_ROOT_ENV = "RFOS_SUBJECT_ROOT"
_DOMAIN_ENV = "ROS_DOMAIN_ID"
_FORBIDDEN = frozenset(".*>") | frozenset(string.whitespace)
_VDA_FORBIDDEN = frozenset("/+#*>\x00\x7f") | frozenset(string.whitespace)
_ACTION_MARKER = "_action"
_ACTION_PARTS = ("send_goal", "cancel_goal", "get_result", "feedback", "status")


def root_and_domain_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(root, domain)`` as the tiers will take them: ``RFOS_SUBJECT_ROOT`` (``rfos``) and
    ``ROS_DOMAIN_ID`` (``0``)."""
    env = os.environ if environ is None else environ
    root = env.get(_ROOT_ENV) or "rfos"
    domain = (env.get(_DOMAIN_ENV) or "0").strip()
    if any(not t or any(c in _FORBIDDEN for c in t) for t in root.split(".")):
        raise ConfigError(f"environment variable {_ROOT_ENV}: invalid subject root {root!r}")
    if not domain.isascii() or not domain.isdigit():
        raise ConfigError(f"environment variable {_DOMAIN_ENV}: invalid ROS domain id {domain!r}")
    return root, str(int(domain))


def check_vda5050_level(value: str, what: str) -> str:
    """``value`` if it can be one level of a VDA 5050 topic (not empty, no whitespace,
    ``/ + # * >``, not starting with ``$``), else ``ConfigError``."""
    if not value or value.startswith("$") or any(c in _VDA_FORBIDDEN for c in value):
        raise ConfigError(
            f"VDA 5050 {what} {value!r} cannot be a topic level (empty, '$' first, whitespace or "
            "one of / + # * >); rename it in the vehicle's configuration"
        )
    return value


def vda5050_subject(topic: str) -> str:
    """The NATS subject of MQTT topic ``topic``: ``/`` -> ``.``, ``.`` -> ``//``, an empty level ``/``."""
    return ".".join(level.replace(".", "//") if level else "/" for level in topic.split("/"))


def _tokens(what: str, name: str) -> str:
    if not name.startswith("/") or name == "/" or name.endswith("/") or "//" in name:
        raise ConfigError(f"{what} {name!r}: use a fully qualified ROS name such as '/camera/image'")
    bad = next((c for c in name if c in _FORBIDDEN), None)
    if bad is not None:
        raise ConfigError(f"{what} {name!r}: {bad!r} cannot be carried in a NATS subject token")
    return name[1:].replace("/", ".")


class Subjects:
    """Subjects of one root and domain (``prefix`` = ``<root>.<domain>``)."""

    def __init__(self, root: str, domain: str) -> None:
        self.prefix = f"{root}.{domain}"

    def _named(self, kind: str, what: str, name: str) -> str:
        action, marker, part = name.rpartition(f"/{_ACTION_MARKER}/")
        if marker and action and part in _ACTION_PARTS:
            return f"{self.prefix}.a.{_tokens('action name', action)}.{_ACTION_MARKER}.{part}"
        return f"{self.prefix}.{kind}.{_tokens(what, name)}"

    def topic(self, name: str) -> str:
        """``/a/b`` -> ``P.t.a.b`` (an action's topics get kind ``a``)."""
        return self._named("t", "topic name", name)

    def service(self, name: str) -> str:
        """``/a/b`` -> ``P.s.a.b`` (an action's services get kind ``a``)."""
        return self._named("s", "service name", name)

    def parameters(self, node: str) -> str:
        """Every parameter subject of node ``/ns/node``: ``P.p.ns.node._parameters.>``."""
        return f"{self.prefix}.p.{_tokens('node name', node)}._parameters.>"

    def robot_scope(self, robot_id: str) -> str:
        """Every subject of a robot's names: ``P.*.robots.<robot_id>.>``."""
        return f"{self.prefix}.*.robots.{robot_id}.>"

    def work(self, *tokens: str) -> str:
        """``P.w.<tokens>``."""
        return f"{self.prefix}.w.{'.'.join(tokens)}"
