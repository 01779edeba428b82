"""The reversible mapping between ROS names and NATS subjects.

A subject is ``<root>.<domain>.<kind>.<name tokens>``: ``root`` (default ``rfos``, env
``RFOS_SUBJECT_ROOT``) is one or more NATS tokens, ``domain`` is the ROS domain id (env
``ROS_DOMAIN_ID``, default ``0``), ``kind`` is one of ``t`` (topic), ``s`` (service),
``a`` (action part), ``g`` (graph), ``p`` (parameters) and ``w`` (durable work kept in
JetStream streams, such as the fleet's work-order events), and the ROS name's ``/``
become ``.``::

    /robots/robot-1/status               topic   rfos.0.t.robots.robot-1.status
    /zone-1/assign                       service rfos.0.s.zone-1.assign
    /robots/robot-1/execute + send_goal  action  rfos.0.a.robots.robot-1.execute._action.send_goal

Robot-scoped names live under the namespace ``/robots/<robot_id>``, so the robot id is
always the 5th token (after root and domain, counting a one-token root) and one NATS
permission, :meth:`SubjectMapper.robot_scope`, confines a robot to its own subjects.
See ``docs/subjects.md``.
"""

from __future__ import annotations

import functools
import os
import string
from collections.abc import Callable, Mapping
from typing import NamedTuple

from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.names import invalid_name

__all__ = [
    "ACTION",
    "ACTION_MARKER",
    "ACTION_PARTS",
    "DEFAULT_DOMAIN",
    "DEFAULT_ROOT",
    "GRAPH",
    "KINDS",
    "PARAMETERS",
    "PARAMETERS_MARKER",
    "ROBOTS_NAMESPACE",
    "SERVICE",
    "TOPIC",
    "WORK",
    "ParsedSubject",
    "SubjectMapper",
    "robot_namespace",
]

TOPIC = "t"
SERVICE = "s"
ACTION = "a"
GRAPH = "g"
PARAMETERS = "p"
WORK = "w"
#: Every subject kind, in the order documented.
KINDS = (TOPIC, SERVICE, ACTION, GRAPH, PARAMETERS, WORK)
#: The token before an action part, as ROS 2's ``<action>/_action/<part>``.
ACTION_MARKER = "_action"
#: The five parts of a ROS 2 action.
ACTION_PARTS = ("send_goal", "cancel_goal", "get_result", "feedback", "status")
#: The token separating a node's fully qualified name from the parameter tokens.
PARAMETERS_MARKER = "_parameters"
#: Robot-scoped names live under ``/robots/<robot_id>``.
ROBOTS_NAMESPACE = "/robots"
DEFAULT_ROOT = "rfos"
DEFAULT_DOMAIN = "0"

_ROOT_ENV = "RFOS_SUBJECT_ROOT"
_DOMAIN_ENV = "ROS_DOMAIN_ID"
_CACHE_SIZE = 4096
_FORBIDDEN = frozenset(".*>") | frozenset(string.whitespace)
_ROS_TOKEN = frozenset(string.ascii_letters + string.digits + "_-")


class ParsedSubject(NamedTuple):
    """What a subject names: its kind, the ROS name and, for actions and parameters, the part."""

    kind: str
    name: str
    part: str | None = None


def _name_tokens(what: str, name: str) -> str:
    """``/a/b`` -> ``a.b``, refusing relative names and tokens NATS cannot carry."""
    if not name.startswith("/") or name == "/":
        raise invalid_name(what, name, 0, "must be a fully qualified name such as '/a/b' (expand it first)")
    for i, c in enumerate(name):
        if c == "/":
            if i > 0 and name[i - 1] == "/":
                raise invalid_name(what, name, i, "NATS subject tokens must not be empty")
        elif c in _FORBIDDEN:
            raise invalid_name(what, name, i, f"{c!r} cannot be carried in a NATS subject token")
    if name.endswith("/"):
        raise invalid_name(what, name, len(name) - 1, "NATS subject tokens must not be empty")
    return name[1:].replace("/", ".")


def _check_tokens(what: str, tokens: tuple[str, ...]) -> None:
    for token in tokens:
        if not token or any(c in _FORBIDDEN for c in token):
            bad = next((i for i, c in enumerate(token) if c in _FORBIDDEN), 0)
            raise invalid_name(
                what, token, bad, "not a NATS subject token (empty, '.', '*', '>' or whitespace)"
            )


def robot_namespace(robot_id: str) -> str:
    """The namespace of a robot's nodes and names: ``/robots/<robot_id>``."""
    _check_robot_id(robot_id)
    return f"{ROBOTS_NAMESPACE}/{robot_id}"


def _check_robot_id(robot_id: str) -> None:
    what = "robot id"
    if not robot_id:
        raise invalid_name(what, robot_id, 0, "must not be empty")
    for i, c in enumerate(robot_id):
        if c not in _ROS_TOKEN:
            raise invalid_name(what, robot_id, i, "may contain only letters, digits, '_' and '-'")
    if robot_id[0] in string.digits + "-":
        raise invalid_name(what, robot_id, 0, "must not start with a number or '-'")


def _check_root(root: str, source: str) -> str:
    if not root or any(not t or any(c in _FORBIDDEN for c in t) for t in root.split(".")):
        raise ConfigError(
            f"{source}: invalid subject root {root!r}: use one or more NATS tokens separated by '.'"
            " (no empty tokens, '*', '>' or whitespace), e.g. 'rfos' or 'site-a.rfos'"
        )
    return root


def _check_domain(domain: str | int, source: str) -> str:
    text = str(domain).strip()
    if not text.isascii() or not text.isdigit():
        raise ConfigError(f"{source}: invalid ROS domain id {domain!r}: use a non-negative integer such as 0")
    return str(int(text))


class SubjectMapper:
    """Maps fully qualified ROS names to NATS subjects and back.

    Args:
        root: the subject root; ``None`` reads ``RFOS_SUBJECT_ROOT`` (default ``rfos``).
        domain: the ROS domain id; ``None`` reads ``ROS_DOMAIN_ID`` (default ``0``).
        environ: the environment to read (``os.environ`` when omitted).

    Raises:
        ConfigError: if the root or domain is malformed (the message names the source).
    """

    __slots__ = ("_service", "_to_name", "_topic", "domain", "prefix", "root")

    def __init__(
        self,
        root: str | None = None,
        domain: str | int | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        if root is None:
            root = _check_root(env.get(_ROOT_ENV) or DEFAULT_ROOT, f"environment variable {_ROOT_ENV}")
        else:
            root = _check_root(root, "root")
        if domain is None:
            domain = _check_domain(
                env.get(_DOMAIN_ENV) or DEFAULT_DOMAIN, f"environment variable {_DOMAIN_ENV}"
            )
        else:
            domain = _check_domain(domain, "domain")
        self.root: str = root
        self.domain: str = domain
        #: ``<root>.<domain>``: every subject of this mapper starts with it.
        self.prefix: str = f"{root}.{domain}"
        cache = functools.lru_cache(maxsize=_CACHE_SIZE)
        self._topic: Callable[[str], str] = cache(self._subject_for(TOPIC, "topic name"))
        self._service: Callable[[str], str] = cache(self._subject_for(SERVICE, "service name"))
        self._to_name: Callable[[str], ParsedSubject] = cache(self._parse)

    def __repr__(self) -> str:
        return f"SubjectMapper(root={self.root!r}, domain={self.domain!r})"

    def _subject_for(self, kind: str, what: str) -> Callable[[str], str]:
        marker = f"/{ACTION_MARKER}/"

        def subject(name: str) -> str:
            # The topics and services of an action (``/fib/_action/send_goal``) get kind
            # ``a``, as ROS 2 keeps them apart from plain topics and services.
            if marker in name:
                action, _, part = name.rpartition(marker)
                if part in ACTION_PARTS and action:
                    return self.action(action, part)
            return f"{self.prefix}.{kind}.{_name_tokens(what, name)}"

        return subject

    def topic(self, name: str) -> str:
        """``/a/b`` -> ``<root>.<domain>.t.a.b`` (``/x/_action/feedback`` -> kind ``a``)."""
        return self._topic(name)

    def service(self, name: str) -> str:
        """``/a/b`` -> ``<root>.<domain>.s.a.b`` (``/x/_action/send_goal`` -> kind ``a``)."""
        return self._service(name)

    def action(self, name: str, part: str) -> str:
        """``/a/b`` + ``send_goal`` -> ``<root>.<domain>.a.a.b._action.send_goal``.

        ``part`` is one of :data:`ACTION_PARTS`.
        """
        if part not in ACTION_PARTS:
            raise ValueError(f"unknown action part {part!r}: use one of {', '.join(ACTION_PARTS)}")
        return f"{self.prefix}.{ACTION}.{_name_tokens('action name', name)}.{ACTION_MARKER}.{part}"

    def graph(self, *tokens: str) -> str:
        """``<root>.<domain>.g.<tokens>``: the graph's own subjects (announcements, queries)."""
        if not tokens:
            raise ValueError("graph() needs at least one token")
        _check_tokens("graph subject token", tokens)
        return f"{self.prefix}.{GRAPH}.{'.'.join(tokens)}"

    def work(self, *tokens: str) -> str:
        """``<root>.<domain>.w.<tokens>``: durable work in a JetStream stream (not a ROS name).

        ``work("orders", "zone-1", "wo-1")`` is the subject of order ``wo-1``'s events
        published by zone-1;
        ``wildcard("w")`` covers every stream of this kind.
        """
        if not tokens:
            raise ValueError("work() needs at least one token")
        _check_tokens("work subject token", tokens)
        return f"{self.prefix}.{WORK}.{'.'.join(tokens)}"

    def work_wildcard(self, *tokens: str) -> str:
        """The pattern of every :meth:`work` subject under ``tokens``: ``<root>.<domain>.w.<tokens>.>``."""
        if not tokens:
            raise ValueError("work_wildcard() needs at least one token (wildcard('w') covers all)")
        _check_tokens("work subject token", tokens)
        return f"{self.prefix}.{WORK}.{'.'.join(tokens)}.>"

    def parameters(self, node_fqn: str, *tokens: str) -> str:
        """``/ns/node`` + ``get`` -> ``<root>.<domain>.p.ns.node._parameters.get``."""
        if not tokens:
            raise ValueError("parameters() needs at least one token after the node name")
        _check_tokens("parameters subject token", tokens)
        if PARAMETERS_MARKER in tokens:
            raise ValueError(f"parameters() tokens must not include {PARAMETERS_MARKER!r}")
        node_tokens = _name_tokens("node name", node_fqn)
        return f"{self.prefix}.{PARAMETERS}.{node_tokens}.{PARAMETERS_MARKER}.{'.'.join(tokens)}"

    def wildcard(self, kind: str | None = None) -> str:
        """A subscription pattern for every subject of ``kind`` (``<root>.<domain>.t.>``), or all."""
        if kind is None:
            return f"{self.prefix}.>"
        if kind not in KINDS:
            raise ValueError(f"unknown subject kind {kind!r}: use one of {', '.join(KINDS)}")
        return f"{self.prefix}.{kind}.>"

    def robot_scope(self, robot_id: str) -> str:
        """The one permission pattern covering every subject of a robot's names.

        ``robot-1`` -> ``<root>.<domain>.*.robots.robot-1.>``: all kinds, every name under
        the namespace ``/robots/robot-1``.
        """
        _check_robot_id(robot_id)
        return f"{self.prefix}.*.{ROBOTS_NAMESPACE[1:]}.{robot_id}.>"

    def to_name(self, subject: str) -> ParsedSubject:
        """The reverse mapping: ``rfos.0.t.a.b`` -> ``ParsedSubject("t", "/a/b", None)``.

        Actions give the part (``send_goal``...), parameters the tokens after the node's
        name joined with ``.``; graph and work subjects give their tokens as a ``/`` name.

        Raises:
            NameValidationError: if the subject is not one of this mapper's.
        """
        return self._to_name(subject)

    def _parse(self, subject: str) -> ParsedSubject:
        what = "subject"
        if not subject.startswith(self.prefix + "."):
            raise invalid_name(what, subject, 0, f"does not start with {self.prefix + '.'!r}")
        offset = len(self.prefix) + 1
        kind, _, rest = subject[offset:].partition(".")
        if kind not in KINDS:
            raise invalid_name(what, subject, offset, f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
        if not rest:
            raise invalid_name(what, subject, len(subject) - 1, "has no name tokens after the kind")
        tokens = rest.split(".")
        pos = offset + len(kind) + 1
        for token in tokens:
            bad = next((i for i, c in enumerate(token) if c in _FORBIDDEN), None)
            if not token or bad is not None:
                raise invalid_name(what, subject, min(pos + (bad or 0), len(subject) - 1), "invalid token")
            pos += len(token) + 1
        part: str | None = None
        if kind == ACTION:
            if len(tokens) < 3 or tokens[-2] != ACTION_MARKER or tokens[-1] not in ACTION_PARTS:
                raise invalid_name(
                    what, subject, offset, f"an action subject ends with '{ACTION_MARKER}.<part>'"
                )
            part = tokens[-1]
            tokens = tokens[:-2]
        elif kind == PARAMETERS:
            marker = (
                len(tokens) - 1 - tokens[::-1].index(PARAMETERS_MARKER) if PARAMETERS_MARKER in tokens else 0
            )
            if marker < 1 or marker == len(tokens) - 1:
                raise invalid_name(
                    what, subject, offset, f"a parameters subject is '<node>.{PARAMETERS_MARKER}.<tokens>'"
                )
            part = ".".join(tokens[marker + 1 :])
            tokens = tokens[:marker]
        return ParsedSubject(kind, "/" + "/".join(tokens), part)
