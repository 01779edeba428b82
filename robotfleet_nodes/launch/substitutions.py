"""Plain substitutions in strings, in ROS 2's XML/YAML syntax, resolved at visit time.

- ``$(var NAME)``: a launch argument or ``let`` value (from the
  :class:`~robotfleet_nodes.launch.context.LaunchContext`);
- ``$(env NAME [default])``: ``set_env`` values first, then ``os.environ``;
- ``$(equals A B)`` / ``$(not-equals A B)``: ``true`` or ``false`` (for ``if:`` on a choice,
  e.g. ``if: $(equals $(var edges) composed)``).

Substitutions nest; the innermost is resolved first. Anything else (``$(find-pkg-share
...)``, ``$(eval ...)``) is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from robotfleet_nodes.launch.errors import LaunchError

__all__ = ["evaluate_bool", "has_substitution", "substitute"]

_PATTERN = re.compile(r"\$\(\s*([A-Za-z][\w-]*)\s*([^()]*)\)")
_MAX_NESTING = 8
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def has_substitution(text: str) -> bool:
    """Whether ``text`` contains any ``$(...)``."""
    return _PATTERN.search(text) is not None


def substitute(
    text: str,
    lookup_var: Callable[[str], str],
    env: Mapping[str, str] | None = None,
) -> str:
    """``text`` with every ``$(var X)`` / ``$(env X [default])`` replaced.

    ``lookup_var`` raises :class:`LaunchError` for an unknown argument; ``env`` holds the
    launch-wide ``set_env`` overrides, consulted before ``os.environ``.
    """
    if "$(" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        kind, rest = match.group(1), match.group(2).strip()
        if kind == "var":
            if not rest or " " in rest:
                raise LaunchError(f"bad substitution {match.group(0)!r}: expected $(var NAME)")
            return lookup_var(rest)
        if kind == "env":
            name, _, default = rest.partition(" ")
            if not name:
                raise LaunchError(f"bad substitution {match.group(0)!r}: expected $(env NAME [default])")
            if env is not None and name in env:
                return env[name]
            value = os.environ.get(name)
            if value is not None:
                return value
            if default:
                return default.strip()
            raise LaunchError(
                f"environment variable {name!r} is not set and {match.group(0)!r} has no default"
            )
        if kind in ("equals", "not-equals"):
            parts = rest.split()
            if len(parts) != 2:
                raise LaunchError(f"bad substitution {match.group(0)!r}: expected $({kind} A B)")
            same = parts[0] == parts[1]
            return "true" if same == (kind == "equals") else "false"
        raise LaunchError(
            f"unsupported substitution {match.group(0)!r}: use $(var NAME), $(env NAME [default]), "
            "$(equals A B) or $(not-equals A B)"
        )

    for _ in range(_MAX_NESTING):
        if "$(" not in text:
            break
        text = _PATTERN.sub(replace, text)
    return text


def evaluate_bool(text: str) -> bool:
    """``"true"``/``"1"`` -> True, ``"false"``/``"0"`` -> False (case-insensitive); else an error."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise LaunchError(f"condition {text!r} is not a boolean: use true/false or 1/0")
