"""ROS 2 names: validation, expansion and remapping.

The rules are those of rcl/rmw (``rcl_validate_topic_name``, ``rmw_validate_namespace``,
``rmw_validate_node_name``, ``rcl_expand_topic_name`` and rcl's remap rules), with one
deliberate extension:

**Hyphens.** ``-`` is allowed inside a token (anywhere but its first character) of node
names, namespaces and topic/service names, so the fleet's IDs (``robot-1``, ``zone-1``,
``area-1``) are usable verbatim: ``/robots/robot-1/status``. Plain ROS 2 rejects such
names, so a bridge to an unmodified ROS 2 (DDS) bus must map them. Substitution names
(``{node}``) stay ``[A-Za-z_][A-Za-z0-9_]*``.

Every validator raises :class:`~robotfleet_nodes.errors.NameValidationError` whose message
shows the name with a caret under the first offending character::

    invalid topic name: must not contain '//'
      /robots//status
             ^

This module sits below both :mod:`robotfleet_nodes.node` and :mod:`robotfleet_nodes.transport`,
which both apply these rules; :mod:`robotfleet_nodes.node.names` re-exports it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

from robotfleet_nodes.errors import NameValidationError

__all__ = [
    "MAX_NAMESPACE_LENGTH",
    "MAX_NODE_NAME_LENGTH",
    "MAX_TOPIC_NAME_LENGTH",
    "Remapping",
    "apply_node_remaps",
    "expand_name",
    "fully_qualified_node_name",
    "invalid_name",
    "normalize_namespace",
    "remap_name",
    "remap_namespace",
    "remap_node_name",
    "validate_full_topic_name",
    "validate_namespace",
    "validate_node_name",
    "validate_topic_name",
]

#: rmw's limit for a fully qualified topic name (255 minus room for the DDS prefix).
MAX_TOPIC_NAME_LENGTH = 255 - 8
#: rmw's limit for a namespace.
MAX_NAMESPACE_LENGTH = MAX_TOPIC_NAME_LENGTH - 2
#: rmw's limit for a node name.
MAX_NODE_NAME_LENGTH = 255

_ALNUM = frozenset(string.ascii_letters + string.digits)
_TOKEN_CHARS = _ALNUM | {"_", "-"}
_DIGITS = frozenset(string.digits)
_SUBSTITUTIONS = ("node", "ns", "namespace")
_SLASHES = re.compile("/{2,}")
_NODE_REMAP_KEYS = ("__node", "__name")


def invalid_name(what: str, name: str, index: int, reason: str) -> NameValidationError:
    """The error for ``name`` (a ``what``: "topic name", ...) with a caret under ``index``.

    Other name rules (the NATS transport's subject tokens) use it to report like these.
    """
    return NameValidationError(f"invalid {what}: {reason}\n  {name}\n  {' ' * index}^")


def _check_token_char(what: str, name: str, i: int) -> None:
    """Check ``name[i]``, a character outside any substitution and not a ``/``."""
    c = name[i]
    at_token_start = i == 0 or name[i - 1] == "/"
    if c not in _TOKEN_CHARS:
        raise invalid_name(what, name, i, f"must not contain {c!r} (allowed: letters, digits, '_', '-', '/')")
    if at_token_start and c in _DIGITS:
        raise invalid_name(what, name, i, "tokens must not start with a number")
    if at_token_start and c == "-":
        raise invalid_name(what, name, i, "tokens must not start with '-'")


def _check_slash(what: str, name: str, i: int) -> None:
    if i > 0 and name[i - 1] == "/":
        raise invalid_name(what, name, i - 1, "must not contain '//'")


def validate_topic_name(name: str, *, is_service: bool = False) -> None:
    """Check a topic or service name as a user may write it (before expansion).

    Allowed: absolute (``/a/b``), relative (``a/b``) and private (``~``, ``~/a``) names,
    substitutions ``{node}``, ``{ns}`` and ``{namespace}``; tokens of letters, digits, ``_``
    and ``-`` not starting with a digit or ``-``; no ``//``, no trailing ``/``.

    Raises:
        NameValidationError: with the first offending character marked.
    """
    what = "service name" if is_service else "topic name"
    if not name:
        raise invalid_name(what, name, 0, "must not be empty")
    sub_start = -1
    for i, c in enumerate(name):
        if sub_start >= 0:
            if c == "}":
                if i == sub_start + 1:
                    raise invalid_name(what, name, i, "substitution must not be empty")
                sub_start = -1
            elif c == "{":
                raise invalid_name(what, name, i, "substitutions must not be nested")
            elif c not in _ALNUM and c != "_":
                raise invalid_name(
                    what, name, i, "substitution names may contain only letters, digits and '_'"
                )
            elif i == sub_start + 1 and c in _DIGITS:
                raise invalid_name(what, name, i, "substitution names must not start with a number")
        elif c == "{":
            sub_start = i
        elif c == "}":
            raise invalid_name(what, name, i, "unmatched '}'")
        elif c == "~":
            if i != 0:
                raise invalid_name(what, name, i, "'~' is allowed only as the first character")
            if len(name) > 1 and name[1] != "/":
                raise invalid_name(what, name, 1, "'~' must be followed by '/'")
        elif c == "/":
            _check_slash(what, name, i)
        else:
            _check_token_char(what, name, i)
    if sub_start >= 0:
        raise invalid_name(what, name, sub_start, "unmatched '{'")
    if name.endswith("/"):
        raise invalid_name(what, name, len(name) - 1, "must not end with '/'")


def validate_full_topic_name(name: str, *, is_service: bool = False) -> None:
    """Check a fully qualified (expanded) topic or service name: ``/a/b``.

    Like :func:`validate_topic_name`, but the name must be absolute, must not contain
    ``~``, ``{`` or ``}``, and must fit ROS 2's length limit.
    """
    what = "service name" if is_service else "topic name"
    if not name:
        raise invalid_name(what, name, 0, "must not be empty")
    if name[0] != "/":
        raise invalid_name(what, name, 0, "must be absolute (start with '/')")
    for i, c in enumerate(name):
        if c == "/":
            _check_slash(what, name, i)
        else:
            _check_token_char(what, name, i)
    if name.endswith("/"):
        raise invalid_name(what, name, len(name) - 1, "must not end with '/'")
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise invalid_name(
            what, name, MAX_TOPIC_NAME_LENGTH, f"must not be longer than {MAX_TOPIC_NAME_LENGTH}"
        )


def validate_namespace(ns: str) -> None:
    """Check a node namespace: absolute, ``/`` or ``/a/b`` (no trailing ``/``).

    Raises:
        NameValidationError: with the first offending character marked.
    """
    what = "namespace"
    if not ns:
        raise invalid_name(what, ns, 0, "must not be empty (use '/' for the root namespace)")
    if ns[0] != "/":
        raise invalid_name(what, ns, 0, "must be absolute (start with '/')")
    if ns == "/":
        return
    for i, c in enumerate(ns):
        if c == "/":
            _check_slash(what, ns, i)
        else:
            _check_token_char(what, ns, i)
    if ns.endswith("/"):
        raise invalid_name(what, ns, len(ns) - 1, "must not end with '/'")
    if len(ns) > MAX_NAMESPACE_LENGTH:
        raise invalid_name(what, ns, MAX_NAMESPACE_LENGTH, f"must not be longer than {MAX_NAMESPACE_LENGTH}")


def validate_node_name(name: str) -> None:
    """Check a node's base name: one token of letters, digits, ``_`` and ``-``.

    It must not start with a digit or ``-`` and must not contain ``/``.

    Raises:
        NameValidationError: with the first offending character marked.
    """
    what = "node name"
    if not name:
        raise invalid_name(what, name, 0, "must not be empty")
    for i, c in enumerate(name):
        if c not in _TOKEN_CHARS:
            raise invalid_name(what, name, i, f"must not contain {c!r} (allowed: letters, digits, '_', '-')")
        if i == 0 and c in _DIGITS:
            raise invalid_name(what, name, i, "must not start with a number")
        if i == 0 and c == "-":
            raise invalid_name(what, name, i, "must not start with '-'")
    if len(name) > MAX_NODE_NAME_LENGTH:
        raise invalid_name(
            what, name, MAX_NODE_NAME_LENGTH, f"must not be longer than {MAX_NODE_NAME_LENGTH}"
        )


def normalize_namespace(ns: str) -> str:
    """Return ``ns`` in canonical form, as rclpy's ``Node`` accepts it.

    ``""`` becomes ``/``, a relative ``a/b`` becomes ``/a/b``; the result is validated.
    """
    if not ns:
        return "/"
    if not ns.startswith("/"):
        ns = "/" + ns
    validate_namespace(ns)
    return ns


def fully_qualified_node_name(name: str, namespace: str) -> str:
    """``/ns/name`` (or ``/name`` in the root namespace), both parts validated."""
    validate_node_name(name)
    validate_namespace(namespace)
    return f"/{name}" if namespace == "/" else f"{namespace}/{name}"


def _substitute(name: str, node_name: str, namespace: str, *, is_service: bool) -> str:
    if "{" not in name:
        return name
    out: list[str] = []
    pos = 0
    while (start := name.find("{", pos)) >= 0:
        end = name.index("}", start)
        key = name[start + 1 : end]
        if key == "node":
            value = node_name
        elif key in ("ns", "namespace"):
            value = namespace
        else:
            what = "service name" if is_service else "topic name"
            known = ", ".join("{" + s + "}" for s in _SUBSTITUTIONS)
            raise invalid_name(what, name, start, f"unknown substitution {{{key}}} (known: {known})")
        out.append(name[pos:start])
        out.append(value)
        pos = end + 1
    out.append(name[pos:])
    # The input has no "//"; one can only come from the absolute "{ns}" placed after a "/"
    # (or "/" itself before one): join the parts with a single slash.
    return _SLASHES.sub("/", "".join(out))


def expand_name(name: str, *, node_name: str, namespace: str, is_service: bool = False) -> str:
    """Expand a topic or service name into its fully qualified form, as ``rcl_expand_topic_name``.

    - ``/a/b`` stays as it is;
    - ``a/b`` becomes ``<namespace>/a/b``;
    - ``~`` is the node's fully qualified name, ``~/x`` becomes ``<node fqn>/x``;
    - ``{node}`` is the node name, ``{ns}`` and ``{namespace}`` the namespace.

    Raises:
        NameValidationError: if the name, node name, namespace or result is invalid.
    """
    validate_topic_name(name, is_service=is_service)
    fqn = fully_qualified_node_name(node_name, namespace)
    expanded = _substitute(name, node_name, namespace, is_service=is_service)
    if expanded.startswith("~"):
        expanded = fqn + expanded[1:]
    elif not expanded.startswith("/"):
        expanded = ("/" if namespace == "/" else namespace + "/") + expanded
    validate_full_topic_name(expanded, is_service=is_service)
    return expanded


@dataclass(frozen=True, slots=True)
class Remapping:
    """One remap rule ``[node:]from:=to``, as given with ``-r``/``--remap``.

    ``match`` is ``__ns`` (replace the namespace), ``__node`` (replace the node name;
    ``__name`` is accepted as an alias) or a topic/service name that is expanded with the
    node's name and namespace before it is compared. ``node`` restricts the rule to the
    node of that (original) name.
    """

    match: str
    replacement: str
    node: str | None = None

    @classmethod
    def parse(cls, text: str) -> Remapping:
        """Parse ``from:=to`` or ``node_name:from:=to``.

        Raises:
            NameValidationError: naming the rule and the bad part.
        """
        left, sep, right = text.partition(":=")
        if not sep:
            raise NameValidationError(f"invalid remap rule {text!r}: expected 'from:=to'")
        node: str | None = None
        if ":" in left:
            node, _, left = left.partition(":")
            validate_node_name(node)
        if left in _NODE_REMAP_KEYS:
            validate_node_name(right)
            left = "__node"
        elif left == "__ns":
            right = normalize_namespace(right) if right else right
            validate_namespace(right)
        else:
            validate_topic_name(left)
            validate_topic_name(right)
        return cls(match=left, replacement=right, node=node)

    def applies_to(self, node_name: str) -> bool:
        """Whether this rule is global or targets ``node_name``."""
        return self.node is None or self.node == node_name

    def __str__(self) -> str:
        prefix = f"{self.node}:" if self.node else ""
        return f"{prefix}{self.match}:={self.replacement}"


def remap_name(fq_name: str, rules: Iterable[Remapping], node_name: str, *, namespace: str = "/") -> str:
    """Apply the first matching topic/service rule to a fully qualified name.

    Both sides of each rule are expanded with ``node_name`` and ``namespace`` (so
    ``chatter:=talk`` matches ``/ns/chatter`` for a node in ``/ns``); rules for other nodes
    and ``__ns``/``__node`` rules are skipped. Without a match the name is returned as is.
    """
    for rule in rules:
        if rule.match in ("__ns", "__node") or not rule.applies_to(node_name):
            continue
        if expand_name(rule.match, node_name=node_name, namespace=namespace) == fq_name:
            return expand_name(rule.replacement, node_name=node_name, namespace=namespace)
    return fq_name


def remap_node_name(node_name: str, rules: Iterable[Remapping]) -> str:
    """The node name after the first applicable ``__node:=`` rule."""
    for rule in rules:
        if rule.match == "__node" and rule.applies_to(node_name):
            return rule.replacement
    return node_name


def remap_namespace(namespace: str, rules: Iterable[Remapping], node_name: str) -> str:
    """The namespace after the first applicable ``__ns:=`` rule (``node_name`` is the original)."""
    for rule in rules:
        if rule.match == "__ns" and rule.applies_to(node_name):
            return rule.replacement
    return namespace


def apply_node_remaps(node_name: str, namespace: str, rules: Iterable[Remapping]) -> tuple[str, str]:
    """The node's ``(name, namespace)`` after ``__node:=`` and ``__ns:=`` rules.

    Rules prefixed with a node name match the node's original name, as in rcl. The
    namespace is normalized (``""`` -> ``/``, ``a`` -> ``/a``) before the rules apply.
    """
    rules = list(rules)
    namespace = normalize_namespace(namespace)
    return remap_node_name(node_name, rules), remap_namespace(namespace, rules, node_name)
